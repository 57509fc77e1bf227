"""Costs: what a request costs on this machine against the cloud, for stakeholders."""
import streamlit as st

from core import charts
from core.analysis import costs as C
from ui import analysis_widgets as aw
from ui import nav, state
from ui import format as fmt

nav.guard(__file__)
st.title("Costs")
st.caption("What it costs to answer requests with a local model on this machine, against paying a cloud model "
           "for the same requests. Change the assumptions and every number and chart follows.")
runs = aw.finished_runs_or_stop("No measurements yet. Costs come from measured response times and token counts: run a model on the "
                                "Run page (or the demo on the Overview page) first.")
(run_id,) = aw.pick_runs(runs, key="costs.run", multi=False)
settings = aw.cost_assumptions()
if not settings.cloud_models:
    st.info("Choose at least one cloud model to compare with.")
    st.stop()
try:
    report = state.cost_report(run_id, settings)
except (LookupError, ValueError) as exc:
    st.error("The costs could not be computed with these assumptions.")
    st.code(str(exc), language=None, wrap_lines=True)
    st.stop()
local = [lc for lc in report.local if lc.n_requests > 0]
if not local:
    st.info("No successful requests in this run, so there is nothing to cost.")
    st.stop()

models = [lc.model for lc in local]
c1, c2 = st.columns(2)
model = c1.selectbox("Local model", models, key="costs.model")
cloud_model = c2.selectbox("Cloud model", list(settings.cloud_models), key="costs.cloud_model")
line = next(c for c in report.cloud if c.model == model and c.cloud_model == cloud_model)
p = line.projection
mine = next(lc for lc in local if lc.model == model)

st.info(report.cost_model, icon=":material/calculate:")
per_1k = mine.cost_per_request.estimate * 1000 if mine.cost_per_request.estimate is not None else None
k1, k2, k3, k4, k5 = st.columns(5)
k1.metric("Local, per 1,000 requests", fmt.usd(per_1k),
          help=f"Local cost per request x 1,000 under the cost model above, at {settings.volume_per_month:,} requests per month.")
k2.metric(f"{cloud_model}, per 1,000 requests", fmt.usd(line.cost_per_request.estimate * 1000 if line.cost_per_request.estimate is not None else None))
k3.metric("Local, per month", fmt.usd(p.local_monthly.estimate),
          help=f"At {settings.volume_per_month:,} requests per month, under the cost model above.")
k4.metric(f"{cloud_model}, per month", fmt.usd(p.cloud_monthly.estimate), help=f"At {settings.volume_per_month:,} requests per month.")
k5.metric("Local cost vs the cloud", C.savings_short(p.savings_pct),
          help="Savings = (cloud - local) / cloud at this volume: 'x% less'; when local costs more, how much more.")
st.markdown(fmt.md_escape(
    f"Against {cloud_model}: {C.savings_text(p.savings_pct)}; annual cost {aw.iv_text(p.local_annual, money=True)} locally vs "
    f"{aw.iv_text(p.cloud_annual, money=True)} on {cloud_model}."))
for warning in report.quality_warnings:
    st.warning(warning, icon=":material/warning:")

per_1k_chart = charts.cost_per_1k_chart(local, report.cloud, state.model_colors())  # the report draws the same chart
st.plotly_chart(per_1k_chart.figure(), key="costs.per1k")
st.caption(per_1k_chart.caption)
cloud_per_req = {c.cloud_model: c.cost_per_request.estimate for c in report.cloud
                 if c.model == model and c.cost_per_request.estimate is not None}
fixed, per_request = C.monthly_cost_terms(settings, mine.energy_cost_per_request.estimate or 0.0,
                                          mine.amortisation_per_request.estimate or 0.0)
chart = charts.break_even_chart(model, fixed, per_request, p.capacity_per_month.estimate, cloud_per_req,
                                settings.volume_per_month, state.model_colors().get(model), settings.cost_model)
st.plotly_chart(chart.figure(), key="costs.breakeven")
st.caption(f"Break-even with {cloud_model}: {C.break_even_text(p.break_even_per_month)}. {chart.caption}")

st.subheader("Projection for every model")
aw.projection_table(report, models)
with st.expander("Assumptions and method"):
    for a in report.assumptions:
        st.markdown("- " + fmt.md_escape(a))
    st.code(C.COST_METHODS, language=None)
