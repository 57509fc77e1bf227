"""The Compare page's "Across runs" mode: arms (run, model) of different runs compared with the
in-run tools (core.analysis.compare_arms), and the regression gate (core.gate, the function the
CLI's `gate` runs, so the verdicts are the same). Arms and rules are user text: shown escaped."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core import charts, gate, gate_output
from core.arms import ArmError, parse_arm
from core.queries import planned_models
from core.stats import metric_info
from ui import analysis_widgets as aw
from ui import format as fmt
from ui import state

MODES = ("Within a run", "Across runs")
_CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}


def mode() -> str:
    """The page's mode switch."""
    return st.segmented_control("Compare", MODES, default=MODES[0], key="compare.mode",
                                help="Across runs: a model as measured in one run (an arm) against arms of other runs, "
                                     "e.g. this week's fine-tune against last month's champion") or MODES[0]


def arm_options(runs: pd.DataFrame) -> dict[str, str]:
    """'RUN:MODEL' -> 'model @ run label', newest run first, models in planned order."""
    return {f"{r['run_id']}:{m}": f"{m} @ {aw.run_label(r)}" for _, r in runs.iterrows() for m in planned_models(r["spec"])}


def _versions(arms: Sequence[str]) -> tuple:
    return tuple(state.run_version(a.partition(":")[0]) for a in arms)


@st.cache_data(ttl=3600, show_spinner="Comparing the arms…", max_entries=16)
def _comparison(path: str, arms: tuple[str, ...], versions: tuple, metrics: tuple[str, ...], baseline: str | None,
                correction: str, alpha: float, settings):  # noqa: ANN001, ANN202 - CostSettings, RunComparison
    from core import analysis

    return analysis.compare_arms(state.store(), arms, metrics=metrics, baseline=baseline, correction=correction,
                                 alpha=alpha, settings=settings)


@st.cache_data(ttl=3600, show_spinner="Running the gate…", max_entries=16)
def _gate(path: str, baseline: str, candidate: str, versions: tuple, rules: tuple[str, ...],
          inconclusive: str) -> gate.GateResult:
    from core.arms import parse_arm

    return gate.run_gate(state.store(), parse_arm(baseline), parse_arm(candidate), [gate.parse_rule(r) for r in rules],
                         inconclusive=inconclusive)  # type: ignore[arg-type]


def across_runs(runs: pd.DataFrame, metric_names: dict[str, str], column_names: dict[str, str]) -> None:
    """Pick arms, then the verdicts, heatmap, table, sample size and Pareto of the in-run mode, and the gate."""
    options = arm_options(runs)
    arms = st.multiselect("Arms (model @ run)", list(options), default=list(options)[:2], format_func=options.get,
                          key="compare.arms", help="Two or more models, each as measured in one run (finished runs)")
    if len(arms) < 2:
        st.info("Choose two or more arms (a model in a run) to compare them across runs.")
        return
    c1, c2, c3 = st.columns([2, 1, 1])
    base = c1.selectbox("Baseline", ["(every pair)", *arms], format_func=lambda a: options.get(a, a), key="compare.arms.baseline")
    correction = c2.selectbox("Multiple-comparison correction", list(_CORRECTIONS), format_func=_CORRECTIONS.get,
                              key="compare.arms.correction")
    alpha = c3.select_slider("Significance level (alpha)", [0.01, 0.05, 0.1], value=0.05, key="compare.arms.alpha")
    metrics = st.multiselect("Metrics", list(metric_names), default=["latency", "quality", "passed"],
                             format_func=metric_names.get, key="compare.arms.metrics")
    if not metrics:
        st.info("Choose at least one metric to test.")
    else:
        try:
            comp = _comparison(str(state.db_path()), tuple(arms), _versions(arms), tuple(metrics),
                               None if base == "(every pair)" else base, correction, alpha, state.cost_settings())
        except (ArmError, ValueError) as exc:
            st.error(str(exc))
            return
        _results(comp, column_names)
    outputs_section(arms, options)
    gate_section(arms, options)


def outputs_section(arms: Sequence[str], options: dict[str, str]) -> None:
    """Two of the chosen arms, prompt by prompt, word by word (ui.side_by_side)."""
    from ui import side_by_side

    st.subheader("Outputs side by side")
    c1, c2 = st.columns(2)
    a = c1.selectbox("Arm A", list(arms), format_func=options.get, key="compare.arms.sbs_a")
    b = c2.selectbox("Arm B", [x for x in arms if x != a], format_func=options.get, key="compare.arms.sbs_b")
    side_by_side.section(parse_arm(a), parse_arm(b), key="compare.arms.sbs")


def _results(comp, column_names: dict[str, str]) -> None:  # noqa: ANN001 - analysis.RunComparison
    _pairing(comp.pairing)
    for note in comp.notes[1:]:
        st.caption(fmt.md_escape(note))
    labels = [a.label for a in comp.arms]
    aw.verdicts_and_tests(comp, labels, column_names, key="compare.arms", caption="Arms are named model@run. ")
    st.subheader("Sample size")
    for a in comp.advice:
        st.markdown("- " + fmt.md_escape(a.sentence))
    if not comp.advice:
        st.caption("No paired comparison: sample-size advice needs arms paired by prompt.")
    st.subheader("Pareto frontier")
    efficient = {p.model: p.efficient for p in comp.pareto}
    st.plotly_chart(charts.pareto(comp.pareto_table, efficient, "latency_ms", metric_info("latency_ms").summary_heading, fmt.model_colors(labels),
                              x_ivs={}, y_ivs={}), key="compare.arms.pareto")
    st.caption("Efficient arms: " + fmt.md_escape(", ".join(m for m, e in efficient.items() if e) or "none")
               + ". Each arm's point is over all the prompts of its run (point estimates, no whiskers).")


def _pairing(p) -> None:  # noqa: ANN001 - core.arms.Pairing
    (st.warning if p.kind == "unpaired" else st.info)(fmt.md_escape(p.note), icon=":material/link:")
    if p.changed:
        with st.expander(f"{len(p.changed):,} changed prompts left out"):
            st.dataframe(pd.DataFrame({"item id": list(p.changed)}), hide_index=True)


def gate_section(arms: Sequence[str], options: dict[str, str]) -> None:
    """The gate on two of the chosen arms, rules edited as YAML (the example gate file to start)."""
    st.subheader("Gate")
    st.caption("The regression gate of `python -m core gate` (docs/ci-gate.md): each rule is decided on the bound of the "
               "95% interval of candidate against baseline; pass, fail, or inconclusive with the prompts that would decide it.")
    c1, c2, c3 = st.columns([2, 2, 1])
    base = c1.selectbox("Baseline arm", list(arms), format_func=lambda a: options.get(a, a), key="compare.gate.baseline")
    cand = c2.selectbox("Candidate arm", [a for a in arms if a != base], format_func=lambda a: options.get(a, a),
                        key="compare.gate.candidate")
    inconclusive = c3.segmented_control("Inconclusive counts as", ["fail", "pass"], default="fail",
                                        key="compare.gate.inconclusive") or "fail"
    text = st.text_area("Rules (YAML, as in a gate file)", gate.DEMO_GATE.read_text(encoding="utf-8"), height=220,
                        key="compare.gate.rules")
    try:
        rules = gate.rules_from_text(text)
        result = _gate(str(state.db_path()), base, cand, _versions([base, cand]), tuple(r.text for r in rules), inconclusive)
    except (gate.GateError, ArmError, ValueError) as exc:
        st.error(str(exc))
        return
    (st.success if result.passed else st.error)(fmt.md_escape(gate_output.headline(result)))
    st.caption(fmt.md_escape(result.pairing_note))
    st.dataframe(pd.DataFrame(gate_output.rows(result)), hide_index=True)
    for r in result.results:
        st.markdown("- " + fmt.md_escape(r.sentence))
    st.download_button("Download the gate result (JUnit XML)", gate_output.junit_xml(result).encode(), file_name="gate.xml",
                       mime="application/xml", icon=":material/download:", key="compare.gate.junit")
