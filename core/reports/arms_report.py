"""The report of arms across runs (build_arms_report): each arm is one model as measured in one
run; summary, pairwise comparisons, sample-size advice, the Pareto chart and table, and the methods.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core import analysis
from core import charts as ch
from core.stats import METHODS, metric_info
from core.store import Store
from core.reports.model import (
    COMPARE_METRICS,
    TIME_FORMAT,
    Summary,
    Report,
    ReportOptions,
)
from core.reports.sections import comparison_table, key_verdicts
from core.reports.table import Table
from core.textfmt import DASH, fmt_value, number


# =========================================================================== arms across runs

ARMS_SECTIONS = {"summary": "Summary", "comparisons": "Pairwise comparisons", "methods": "Methods"}


def build_arms_report(store: Store, arms: Sequence[Any], options: ReportOptions | None = None) -> Report:
    """The report of arms (run, model) across runs: the same Report type with only the summary
    (arms, pairing sentence, changed prompts, key verdicts), the comparisons (table, verdicts,
    sample-size advice, Pareto chart and table) and the methods. arms: core.arms.Arm or
    'RUN:MODEL' text; options.baseline: one of the arms as 'RUN:MODEL' (None: all pairs).
    Raises core.arms.ArmError (a ValueError) for an unknown run or model, fewer than two arms."""
    from core.analysis.rating_metric import with_human_rating
    from core.arms import Arm, check_arms, parse_arm

    o = options or ReportOptions()
    chosen = tuple(a if isinstance(a, Arm) else parse_arm(a) for a in arms)
    with store.pinned():
        check_arms(store, chosen)
        runs = {a.run_id: store.get_run(a.run_id) for a in chosen}
        resamples = o.bootstrap_resamples(sum(store.count_samples(r) for r in runs))
        metrics = with_human_rating(store, list(runs), COMPARE_METRICS)  # the blind ratings when a run has them
        comp = analysis.compare_arms(store, chosen, metrics=metrics, baseline=o.baseline, correction=o.correction,  # type: ignore[arg-type]
                                     alpha=o.alpha, confidence=o.confidence, n_resamples=resamples, seed=o.seed,
                                     settings=o.cost_settings())
    labels = [a.label for a in chosen]
    pairing = comp.pairing
    changed = tuple(pairing.changed) if pairing is not None else ()
    facts = tuple((a.label, _arm_fact(a, runs[a.run_id])) for a in chosen)
    how = f"each arm vs {comp.baseline}" if comp.baseline else "all pairs"
    summary = Summary(None, pairing.note if pairing else "", comp.baseline, "argument" if comp.baseline else "all pairs",
                      (), key_verdicts(comp), facts, ())
    advice = [a.sentence for a in comp.advice if not a.significant and a.prompts_needed]
    if not advice and comp.advice:
        advice = ["No comparison asks for more prompts: each difference is significant at this size, or could not be sized."]
    return Report(
        run_id=", ".join(runs),
        title="Comparison of arms: " + " vs ".join(labels),
        generated_at=o.generated_at or datetime.now(timezone.utc).strftime(TIME_FORMAT),
        summary=summary,
        kpi_tables=(),
        distributions=(),
        comparison=comparison_table(comp),
        verdicts=tuple(comp.verdicts()),
        comparison_notes=tuple(n for n in comp.notes if pairing is None or n != pairing.note),
        pareto=_arms_pareto(comp, ch.model_colors(labels)),
        cost_tables=(),
        cost_charts=(),
        cost_notes=(),
        methods=_arms_methods(runs, comp, o, resamples, how),
        methods_text=METHODS,
        environment=(),
        model_table=Table((), ()),
        appendix=(),
        appendix_note="",
        sections=dict(ARMS_SECTIONS),
        kind="arms",
        pairing=pairing.note if pairing else "",
        changed_prompts=changed,
        pareto_table=_arms_pareto_table(comp),
        advice=tuple(advice),
        methods_title="Full description of the statistical methods",
    )


def _arm_fact(arm: Any, run: Any) -> str:
    name = f" ({run.name})" if run.name and run.name != run.run_id else ""
    return (f"model {arm.model} of run {run.run_id}{name}; prompt set {run.prompt_set} (version {run.prompt_set_hash}); "
            f"{run.spec.repeats} repeat(s); status {run.status}")


def _arms_pareto(comp: analysis.RunComparison, colors: dict[str, str]) -> ch.ScatterChart | None:
    t = comp.pareto_table.dropna(subset=["quality", "latency_ms"]) if not comp.pareto_table.empty else comp.pareto_table
    if t.empty:
        return None
    eff = {p.model: p.efficient for p in comp.pareto}
    pts = tuple(ch.Point(str(r.model), float(r.latency_ms), float(r.quality), None, None, colors.get(str(r.model)),
                         eff.get(str(r.model), False)) for r in t.itertuples())
    front = tuple(sorted((p.x, p.y) for p in pts if p.highlight))
    return ch.latency_pareto_chart(pts, front,
                           caption="Each arm over all of its run's prompts (point estimates). Pareto-efficient: no other "
                                   "arm is at least as good on quality, latency, cost and memory needed and better on one.")


def _arms_pareto_table(comp: analysis.RunComparison) -> Table | None:
    t = comp.pareto_table
    if t.empty:
        return None
    points = {p.model: p for p in comp.pareto}

    def cell(r: Any, col: str, unit: str) -> str:
        v = getattr(r, col, None)
        return fmt_value(None if v is None or pd.isna(v) else float(v), unit)

    rows = []
    for r in t.itertuples():
        p = points.get(str(r.model))
        status = DASH if p is None else "yes" if p.efficient else "no (dominated by " + ", ".join(p.dominated_by) + ")"
        q = getattr(r, "quality", None)
        rows.append((str(r.model), number(None if q is None or pd.isna(q) else float(q)), cell(r, "latency_ms", "ms"),
                     cell(r, "cost", "USD"), cell(r, "memory_needed_mb", "MB"), status))
    return Table(("Arm", metric_info("quality").summary_heading, "Median latency", "Local cost / request", "Memory needed",
                  "Pareto-efficient"),
                 tuple(rows), "Pareto table",
                 "Objectives: quality up; latency, local cost per request (default cost settings) and memory needed "
                 "(model footprint + largest peak added per generation) down. Each arm over all of its run's prompts.",
                 (False, True, True, True, True, False))


def _arms_methods(runs: dict[str, Any], comp: analysis.RunComparison, o: ReportOptions, resamples: int | None,
                  how: str) -> tuple[tuple[str, str], ...]:
    reps = sorted({r.spec.repeats for r in runs.values()})
    tests = sorted({c.test.test for c in comp.comparisons})
    corr = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)"}.get(comp.correction, "none")
    res = f"{resamples} bootstrap resamples" if resamples else "analysis defaults: 2,000 bootstrap resamples, 1,000 above 1,000 observations"
    return (
        ("Arms", "an arm is one model as measured in one run, named model@run"),
        ("Pairing", comp.pairing.note if comp.pairing else DASH),
        ("Unit of analysis", "the prompt" + (": repeats are averaged per prompt before pairing" if reps != [1] else
                                             ": each prompt ran once per arm")),
        ("Comparisons", how),
        ("Tests", ", ".join(tests) or "none (nothing to compare)"),
        ("Multiple comparisons", f"{corr}, per metric"),
        ("Significance level", f"alpha = {comp.alpha:g}"),
        ("Confidence level", f"{comp.confidence:.0%}"),
        ("Resamples and seed", f"{res}; seed {o.seed}"),
    )
