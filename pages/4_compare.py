"""Compare: significance of model differences against a baseline, Pareto frontier, sustained performance."""
import streamlit as st

from core import analysis_cache as defaults
from core import charts
from core.analysis import kpi_pareto
from core.stats import metric_info
from ui import analysis_widgets as aw
from ui import arms
from ui import machine_load, nav, parity, side_by_side, state, throughput
from ui import format as fmt

SHOWN = tuple(map(metric_info, ("latency_ms", "ttft_ms", "decode_tps", "quality", "passed", "mem_added_mb", "peak_rss_mb",
                                 "local_cost", "human_rating")))  # the metric registry's entries this page compares
METRICS = {m.alias: m.title for m in SHOWN}  # what the pickers offer (the CLI's names) -> what they show
COLUMNS = {m.name: m.title for m in SHOWN}  # the comparisons' metric column -> what tables and heatmaps show
CORRECTIONS = ["holm", "bh", "none"]

nav.guard(__file__)
st.title("Compare")
runs = aw.finished_runs_or_stop("Nothing to compare yet. Run two or more models on the same prompt set (Run page); "
                                "the comparison of their results appears here.", with_sweeps=True)
if arms.mode() == "Across runs":
    arms.across_runs(runs[runs["done"] > 0], METRICS, COLUMNS)
    st.stop()
(run_id,) = aw.pick_runs(runs, key="compare.run", multi=False, prefer_several_models=True)
models = aw.run_models(runs, [run_id])
if not int(runs.loc[runs["run_id"] == run_id, "done"].iloc[0]):  # only a throughput sweep (core.throughput)
    st.info("This run is a throughput sweep without per-sample results: there is nothing to test between its models; "
            "its throughput chart follows.", icon=":material/speed:")
    throughput.sweep_section(run_id)
    st.stop()
if len(models) < 2:
    st.info("This run has a single model: choose a run with two or more models to compare them.")
    throughput.sweep_section(run_id)
    st.stop()
machine_load.notice([run_id])

champion = state.champion()
c1, c2, c3 = st.columns([2, 1, 1])
options = ["(every pair)", *models]
baseline = c1.selectbox("Baseline", options, index=options.index(champion) if champion in models else 0, key="compare.baseline",
                        help="Each model is tested against the baseline; the champion (Models page) is the default.")
correction = c2.selectbox("Multiple-comparison correction", CORRECTIONS, CORRECTIONS.index(defaults.COMPARE_CORRECTION), key="compare.correction",
                          format_func={"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}.get)
alpha = c3.select_slider("Significance level (alpha)", [0.01, 0.05, 0.1], value=defaults.COMPARE_ALPHA, key="compare.alpha")
metrics = st.multiselect("Metrics", list(METRICS), default=list(defaults.COMPARE_METRICS), format_func=METRICS.get,
                         key="compare.metrics")
with st.expander("Equivalence margins (differences smaller than these count as no meaningful difference)"):
    c1, c2, c3 = st.columns(3)
    margins = {"quality": c1.number_input("Quality (points)", 0.0, 10.0, defaults.COMPARE_MARGINS["quality"], 0.1, key="compare.m_quality"),
               "passed": c2.number_input("Pass rate (fraction)", 0.0, 1.0, defaults.COMPARE_MARGINS["passed"], 0.01, key="compare.m_passed"),
               "latency": c3.number_input("Latency (ms, 0 = none)", 0.0, 1e6, defaults.COMPARE_MARGINS["latency"], 10.0, key="compare.m_latency")}
    margins = {k: v for k, v in margins.items() if v > 0}

comp = state.comparison(run_id, tuple(metrics), None if baseline == "(every pair)" else baseline, correction, margins,
                        alpha) if metrics else None  # every size: large runs use core.stats.large_sample (seconds)
if not metrics:
    st.info("Choose at least one metric to test.")

if comp is not None:
    for note in comp.notes:
        st.caption(note)
    aw.verdicts_and_tests(comp, models, COLUMNS, key="compare", caption="")

    st.subheader("Sample size")
    for a in comp.advice:
        st.markdown("- " + fmt.md_escape(a.sentence))
    plan = st.expander("Plan a follow-up run: prompts needed to detect a difference", key="compare.ss_open",
                       on_change="rerun")
    with plan:
        if plan.open:  # computed only while open (another pass over every sample)
            c1, c2 = st.columns(2)
            ss_metric = c1.selectbox("Plan a follow-up: metric", ["latency", "quality", "passed"], format_func=METRICS.get,
                                     key="compare.ss_metric")
            effect = c2.number_input("Difference to detect (metric units: ms, points, or fraction)",
                                     value={"latency": 50.0, "quality": 0.5, "passed": 0.05}[ss_metric],
                                     key=f"compare.ss_effect.{ss_metric}")
            if effect:
                st.caption(fmt.md_escape(state.sample_size(run_id, ss_metric, float(effect),
                                                           None if baseline == "(every pair)" else baseline).sentence))

st.subheader("Pareto frontier")
axis = st.segmented_control("Against", ["latency", "cost"], default="latency", key="compare.pareto_x") or "latency"
table = state.kpis(run_id, intervals=True)  # the Results page's table (one cache entry for both)
if comp is not None:
    pareto_table, efficient = comp.pareto_table, {p.model: p.efficient for p in comp.pareto}
else:
    pareto_table, efficient = kpi_pareto(table, models)
x_kpi = {"latency": "latency_ms_p50", "cost": "local_cost_per_request"}[axis]
st.plotly_chart(charts.pareto(pareto_table, efficient, "latency_ms" if axis == "latency" else "cost",
                          metric_info("latency_ms" if axis == "latency" else "local_cost").summary_heading, state.model_colors(),
                          x_ivs={m: table.interval(m, x_kpi) for m in models}, y_ivs={m: table.interval(m, "quality_mean") for m in models}),
                key="compare.pareto")
st.caption("Efficient models: " + fmt.md_escape(", ".join(m for m, e in efficient.items() if e) or "none") + ". "
           + "Objectives: quality up; latency, cost and memory needed down (memory needed = model footprint + the "
             "largest peak one generation added, MB; marker size). "
           + "Whiskers: intervals of the median latency / mean cost and of the mean quality.")

st.subheader("Sustained performance")
drifts = comp.drift if comp is not None else {}
st.plotly_chart(charts.drift_chart(state.drift_points(run_id, tuple(models)), drifts, state.model_colors()), key="compare.drift")
if comp is None:
    st.caption("Latency against sample order (block medians on large runs); the drift test and trend lines come with "
               "the tests (choose a metric above).")
else:
    flagged = [m for m, d in comp.drift.items() if d.flagged]
    st.caption(("Latency drifts for: " + fmt.md_escape(", ".join(flagged)) if flagged else "No model's latency drifts significantly with sample order")
               + " (Mann-Kendall test; flagged when the Theil-Sen slope exceeds 1% of the median per 100 samples).")

parity.section(run_id, models)

st.subheader("Outputs side by side")
sbs = st.expander("Two models' outputs, prompt by prompt, word by word", key="compare.sbs_open", on_change="rerun")
with sbs:  # computed only while open (a query over every paired prompt: seconds on a large run)
    if sbs.open:
        side_by_side.pick_and_show(run_id, models, key="compare.sbs")

throughput.sweep_section(run_id)  # batch sizes (local models) and requests in flight (HTTP models)
