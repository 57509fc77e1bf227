"""Reports: a run's report (HTML, PDF, Markdown) and its data (CSV, Parquet) for people without the dashboard."""
import streamlit as st

from core.reports import ReportOptions
from ui import analysis_widgets as aw
from ui import nav, state
from ui import reports as rp

nav.guard(__file__)
st.title("Reports")
st.caption("Everything about one run in a file to share: the recommendation and why, KPIs with confidence intervals, "
           "distributions, pairwise tests, cost projections, methods, the environment and sample outputs. "
           "Each file is made when you click its button.")
runs = aw.finished_runs_or_stop("No runs to report on yet. Start a run on the Run page (or the demo on the Overview page); "
                                "its report can be downloaded here once samples are stored.")

(run_id,) = aw.pick_runs(runs, key="reports.run", multi=False, default=rp.default_run(runs))
c1, c2 = st.columns(2)
baseline = c1.selectbox("Compare every model with", [rp.AUTO, *aw.run_models(runs, [run_id])], key="reports.baseline")
volume = c2.number_input("Requests per month, for the cost projections", min_value=1, value=100_000, step=10_000,
                         key="reports.volume")
options = ReportOptions(baseline=None if baseline == rp.AUTO else baseline, volume=int(volume))
store, version = state.store(), state.run_version(run_id)

for title, downloads in (("Report", rp.report_downloads(run_id)), ("Data", rp.data_downloads(run_id))):
    st.subheader(title)
    for col, d in zip(st.columns(len(downloads)), downloads, strict=True):
        col.download_button(d.label, lambda d=d: rp.data(store, run_id, version, d, options), file_name=d.file_name,
                            mime=d.mime, help=d.help, key=f"reports.{d.file_name}", on_click="ignore",
                            icon=":material/download:")

with st.expander("The same files from the command line"):
    st.code("\n".join(dict.fromkeys(d.cli(run_id, options) for d in rp.report_downloads(run_id) + rp.data_downloads(run_id))),
            language="bash")
