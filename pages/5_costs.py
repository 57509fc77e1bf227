"""Costs: what a request costs on this machine against the cloud, for stakeholders."""
import streamlit as st

from core import cost as C
from ui import analysis_figures as af
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

k1, k2, k3, k4, k5 = st.columns(5)
k1.metric("Local, per 1,000 requests", fmt.usd(mine.cost_per_request.estimate * 1000 if mine.cost_per_request.estimate is not None else None))
k2.metric(f"{cloud_model}, per 1,000 requests", fmt.usd(line.cost_per_request.estimate * 1000 if line.cost_per_request.estimate is not None else None))
k3.metric("Local, per month", fmt.usd(p.local_monthly.estimate),
          help=f"At {settings.volume_per_month:,} requests per month: hardware write-off + electricity.")
k4.metric(f"{cloud_model}, per month", fmt.usd(p.cloud_monthly.estimate), help=f"At {settings.volume_per_month:,} requests per month.")
k5.metric("Savings vs the cloud", f"{p.savings_pct.estimate:,.0f}%" if p.savings_pct.estimate is not None else "n/a",
          help="Negative: the local model costs more than the cloud at this volume.")
st.markdown(fmt.md_escape(
    f"Savings {aw.iv_text(p.savings_pct, pct=True)}; annual cost {aw.iv_text(p.local_annual, money=True)} locally vs "
    f"{aw.iv_text(p.cloud_annual, money=True)} on {cloud_model}."))

st.plotly_chart(af.cost_per_1k(local, [c for c in report.cloud if c.model in models], state.model_colors()), key="costs.per1k")
cloud_per_req = {c.cloud_model: c.cost_per_request.estimate for c in report.cloud
                 if c.model == model and c.cost_per_request.estimate is not None}
st.plotly_chart(af.break_even(model, settings.hardware_per_month, mine.energy_cost_per_request.estimate or 0.0,
                              p.capacity_per_month.estimate, cloud_per_req, settings.volume_per_month,
                              state.model_colors().get(model)), key="costs.breakeven")
be = p.break_even_per_month
st.caption(f"Break-even with {cloud_model}: " + (f"{be.estimate:,.0f} requests per month" if be.estimate is not None
                                                 else (be.note or "none")) + ".")

st.subheader("Projection for every model")
aw.projection_table(report, models)
with st.expander("Assumptions and method"):
    for a in report.assumptions:
        st.markdown("- " + fmt.md_escape(a))
    st.code(C.COST_METHODS, language=None)
