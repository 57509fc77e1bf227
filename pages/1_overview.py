"""Overview: the run in progress, recent runs with headline KPIs, and a getting-started path."""
import streamlit as st

from ui import nav, state, tracking, widgets
from ui import format as fmt

nav.guard(__file__)
st.title("Overview")
st.markdown(widgets.PURPOSE)
widgets.notice()

snap = state.queue().snapshot()
if snap.active:
    st.info(f"Run {snap.run_id} is in progress: {snap.done:,} of {snap.planned:,} samples.", icon=":material/hourglass_top:")
    st.page_link(widgets.RUN_PAGE, label="Watch it live on the Run page", icon=":material/monitoring:")

runs = state.runs()
widgets.getting_started(expanded=runs.empty)

if runs.empty:
    st.info(
        "No runs yet. Start the demo above, or configure a run on the Run page. "
        "Runs started from the command line (`python -m core run ...`) appear here too.",
        icon=":material/info:",
    )
    st.stop()

st.subheader("Recent runs")
widgets.runs_table(runs.head(20))
tracking.section(runs.head(50))

finished = runs[runs["done"] > 0]
if finished.empty:
    st.caption("No samples stored yet; headline numbers appear once a run has measured something.")
    st.stop()
latest = finished.iloc[0]
st.subheader("Headline numbers")
st.caption(f"Latest run with samples: {latest['run_id']} ({latest['status']}, prompt set {latest['prompt_set']})")
summary = state.run_summary(latest["run_id"])
best = summary.sort_values("median_latency_ms").iloc[0]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Models", len(summary))
c2.metric("Samples", f"{int(summary['n'].sum()):,}")
c3.metric("Fastest median latency", fmt.ms(best["median_latency_ms"]), help=fmt.md_escape(best["model"]))
c4.metric("Best mean quality", fmt.quality(summary["mean_quality"].max()))
widgets.kpi_table(summary)
widgets.latency_bars(latest["run_id"], int(latest["done"]), summary)
