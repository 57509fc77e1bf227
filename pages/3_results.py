"""Results: distributions with confidence intervals, a per-category breakdown, the KPI table, a sample explorer
and every sample a page at a time."""
import streamlit as st

from ui import analysis_widgets as aw
from ui import machine_load, nav, sample_table, side_by_side, state

nav.guard(__file__)
st.title("Results")
runs = aw.finished_runs_or_stop("No results yet. Start a run on the Run page (or the demo on the Overview page); "
                                "its samples appear here as soon as they are stored.")

run_ids = aw.pick_runs(runs, key="results.runs", multi=True)
if not run_ids:
    st.info("Choose at least one run.")
    st.stop()
all_models = aw.run_models(runs, run_ids)
models = st.multiselect("Models", all_models, default=all_models, key="results.models")
if not models:
    st.info("Choose at least one model.")
    st.stop()
with_ci = aw.interval_toggle(key="results.ci")
machine_load.notice(run_ids)
colors = state.model_colors()

st.subheader("Distributions")
c1, c2 = st.columns([2, 3])
metric = aw.RESULT_METRICS[c1.selectbox("Metric", list(aw.RESULT_METRICS), key="results.metric")]
kind = c2.segmented_control("Chart", ["Box", "Violin", "ECDF", "Histogram"], default="Box", key="results.kind") or "Box"
tables = aw.kpi_tables(runs, run_ids, models, with_ci)
aw.distribution(tables, models, metric, kind, with_ci, colors)

st.subheader("KPI table")
aw.kpi_table(tables, with_ci)

focus = run_ids[0]
if len(run_ids) > 1:
    focus = st.selectbox("Run for the category breakdown and the sample explorer", run_ids, key="results.focus",
                         format_func=lambda r: aw.run_label(runs[runs["run_id"] == r].iloc[0]))
st.subheader("By category")
aw.by_category(runs, focus, tables[focus], models, with_ci, colors)

st.subheader("Sample explorer")
focus_models = [m for m in models if m in aw.run_models(runs, [focus])]
aw.explorer(focus, focus_models)
sbs = st.expander("Side by side: two models' outputs, word by word", key="results.sbs_open", on_change="rerun")
with sbs:  # computed only while open (a query over every paired prompt: seconds on a large run)
    if sbs.open:
        side_by_side.pick_and_show(focus, focus_models, key="results.sbs")

st.subheader("All samples")
sample_table.section(focus, focus_models)
