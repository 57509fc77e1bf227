"""A run's report assembled once (build_report): the recommendation and the comparison with the
baseline, the summary facts, and every section from core.reports.sections and core.reports.run_facts.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core import analysis
from core import charts as ch
from core.analysis import costs as C
from core.analysis.rating_metric import with_human_rating
from core import queries
from core.stats import METHODS
from core.store import Store
from core.reports.judging import TITLE as JUDGING, judging_section
from core.reports.model import (
    SECTIONS,
    COMPARE_METRICS,
    MAX_OUTPUT_CHARS,
    TIME_FORMAT,
    Summary,
    Report,
    ReportOptions,
)
from core.reports.run_facts import appendix_items, environment_rows, method_rows, model_table
from core.reports.sections import (
    comparison_table,
    cost_charts,
    cost_tables,
    distribution_charts,
    key_verdicts,
    kpi_tables,
    pareto_chart,
    savings_lines,
)
from core.reports.table import Table
from core.textfmt import DASH, count, number, pct


# =========================================================================== assembling


def build_report(store: Store, run_id: str, options: ReportOptions | None = None) -> Report:
    """Everything the report shows, computed once (raises KeyError for an unknown run,
    ValueError for a baseline without results, LookupError for an unknown cloud model)."""
    with store.pinned():  # one open of the file for the report's ~30 queries
        return _build(store, run_id, options or ReportOptions())


def _build(store: Store, run_id: str, o: ReportOptions) -> Report:
    run = store.get_run(run_id)
    settings = o.cost_settings()
    n_samples = store.count_samples(run_id)
    resamples = o.bootstrap_resamples(n_samples)
    stat = dict(confidence=o.confidence, n_resamples=resamples, seed=o.seed)
    kpi = analysis.kpi_table(store, run_id, settings=settings, **stat)
    common = dict(use_champion=False, alpha=o.alpha, correction=o.correction, settings=settings, **stat)
    rec, comp, baseline, source = _recommend_and_compare(store, run, kpi, o.baseline, common)
    costs = analysis.cost_report(store, run_id, settings, **stat)
    colors = ch.model_colors(kpi.models)
    focus = rec.model or baseline
    load = analysis.machine_load(store, run_id)
    facts = (*_facts(store, run, n_samples), ("Machine load", load.brief))
    summary = Summary(rec.model, rec.why, baseline, source, savings_lines(costs, focus), key_verdicts(comp),
                      facts, tuple(dict.fromkeys([*([load.text] if load.flagged else []), *kpi.notes, *comp.notes])))
    sweep = queries.throughput(store, run_id)
    sections = dict(SECTIONS)
    if not sweep.empty:  # only then: a report without a sweep keeps its sections (and bytes) as they were
        sections = {}
        for key, title in SECTIONS.items():
            if key == "methods":  # the sweep's section comes after the costs
                sections["throughput"] = "Throughput sweep"
            sections[key] = title
    if n_samples == 0 and not sweep.empty:  # a throughput sweep run (core.throughput): rows, no samples
        sections = {k: v for k, v in sections.items() if k in SWEEP_SECTIONS}
        summary = Summary(None, SWEEP_WHY, None, "", (), (), facts, ())
    judging = judging_section(store, run_id, **stat)
    if judging is not None:  # only then, as with the sweep: before the methods
        sections = {**{k: v for k, v in sections.items() if k not in ("methods", "environment", "appendix")}, "judging": JUDGING,
                    **{k: v for k, v in sections.items() if k in ("methods", "environment", "appendix")}}
    return Report(
        run_id=run_id,
        title=f"Evaluation report: {run.name or run_id}",
        generated_at=o.generated_at or datetime.now(timezone.utc).strftime(TIME_FORMAT),
        summary=summary,
        kpi_tables=kpi_tables(kpi),
        distributions=tuple(distribution_charts(store, run_id, kpi, colors)),
        comparison=comparison_table(comp),
        verdicts=tuple(comp.verdicts()),
        comparison_notes=tuple(comp.notes),
        pareto=pareto_chart(comp, kpi, colors),
        cost_tables=cost_tables(costs),
        cost_charts=cost_charts(costs, focus, colors),
        cost_notes=tuple([costs.cost_model, *costs.quality_warnings, *costs.assumptions, *costs.notes]),
        methods=method_rows(run, kpi, comp, costs, o, resamples, baseline, source),
        methods_text=f"{METHODS}\n{C.COST_METHODS}",
        environment=environment_rows(run),
        model_table=model_table(store, run, frozenset(map(str, sweep["model"])) if not sweep.empty else frozenset()),
        appendix=tuple(appendix_items(store, run, o.appendix_items)),
        appendix_note=(f"Up to {o.appendix_items} prompts (first repeat), prompts with a failed request first; outputs "
                       f"longer than {MAX_OUTPUT_CHARS:,} characters are cut. Every sample is in the CSV/Parquet export."),
        sections=sections,
        throughput=ch.throughput_chart(sweep, ch.model_colors(list(dict.fromkeys(sweep["model"])))) if not sweep.empty else None,
        throughput_table=_throughput_table(sweep) if not sweep.empty else None,
        judging=judging,
    )


SWEEP_SECTIONS = ("summary", "throughput", "environment")  # a sweep-only run has nothing else to report
SWEEP_WHY = ("this run is a throughput sweep without per-sample results (a row per model and batch size or requests "
             "in flight): there is nothing to recommend, compare or cost; its throughput section follows")


def _throughput_table(sweep: Any) -> Table:
    """The sweep rows as a table: per model and level (a batch size, or requests in flight)."""
    cols = ("Model", "Level", "Requests", "Tokens/s", "Requests/s", "Latency per request (ms)", "TTFT (ms)",
            "Memory added (MB)", "Identical to level 1")
    def num(x: Any) -> str:
        return number(x)

    kinds = set(sweep["level_kind"]) if "level_kind" in sweep else {"batch"}
    rows = tuple((str(r.model), ch.level_text(getattr(r, "level_kind", "batch") or "batch", int(r.batch_size)),
                  str(int(r.n_requests)), num(r.tokens_per_s), num(r.requests_per_s), num(r.latency_ms_mean),
                  num(r.ttft_ms), num(r.mem_added_mb), pct(r.identical_to_b1, 0))
                 for r in sweep.itertuples())
    notes = []
    if "batch" in kinds:
        notes.append("Batch sizes (local models): batched greedy generation (left padding, attention masks); TTFT: the "
                     "batch's first generated token (streamer clock); latency: the batch's wall time, which every "
                     "request in it waits for.")
    if "concurrency" in kinds:
        notes.append("Requests in flight (HTTP models): greedy requests, N at a time; TTFT: the request's first "
                     "streamed token; latency: the request's own; memory added: not observable for a remote model (—).")
    return Table(cols, rows, note=" ".join(notes), numeric=(False, False, *[True] * 7))


def _recommend_and_compare(store: Store, run: Any, kpi: analysis.KpiTable, explicit: str | None, common: dict[str, Any]
                           ) -> tuple[analysis.Recommendation, analysis.RunComparison, str | None, str]:
    """The recommendation and the pairwise comparisons of the report (each model vs the baseline).

    analysis.recommend reads only the quality comparisons of the best-quality model against
    each other model (and the Pareto table), so when the report's baseline is that model the
    report's own comparison serves both: one compare_run instead of two in the usual case."""
    best = _best_quality(kpi)
    metrics = with_human_rating(store, [run.run_id], COMPARE_METRICS)  # the blind ratings when the run has them
    baseline, source = _baseline(store, run, explicit, best)
    if baseline is None:  # no quality scores and no champion: the recommendation picks the baseline
        rec = _recommend(store, run.run_id, common, best)
        if rec.model is not None:
            baseline, source = rec.model, _RECOMMENDED
        return rec, analysis.compare_run(store, run.run_id, metrics=metrics, baseline=baseline, **common), \
            baseline, source
    comp = analysis.compare_run(store, run.run_id, metrics=metrics, baseline=baseline, **common)
    if baseline == best:
        rec = analysis.recommend(store, run.run_id, comparison=comp, alpha=common["alpha"], settings=common["settings"])
        if rec.considered and rec.considered[0] != best:  # recommend judged another model the best: ask again
            rec = _recommend(store, run.run_id, common, rec.considered[0])
    else:
        rec = _recommend(store, run.run_id, common, best)
    if explicit is None and source != _CHAMPION and rec.model is not None and rec.model != baseline:
        baseline, source = rec.model, _RECOMMENDED  # compare with the model the report recommends
        comp = analysis.compare_run(store, run.run_id, metrics=metrics, baseline=baseline, **common)
    if rec.model is None and source == _RECOMMENDED:  # nothing recommended: say what the baseline is
        source = _BEST
    return rec, comp, baseline, source


def _best_quality(kpi: analysis.KpiTable) -> str | None:
    return analysis.best_quality({m: kpi.value(m, "quality_mean") for m in kpi.models},
                                 {m: kpi.value(m, "latency_ms_p50") for m in kpi.models})


def _recommend(store: Store, run_id: str, common: dict[str, Any], best: str | None
               ) -> analysis.Recommendation:
    """analysis.recommend, fed the quality comparisons it reads (the best-quality model vs each
    other) instead of every pair: 9 comparisons for 10 models rather than 45."""
    for _ in range(2):
        q = analysis.compare_run(store, run_id, metrics=("quality",), baseline=best, **common)
        rec = analysis.recommend(store, run_id, comparison=q, alpha=common["alpha"], settings=common["settings"])
        if not rec.considered or rec.considered[0] == best:  # recommend's best is the baseline compared with
            return rec
        best = rec.considered[0]
    return rec


_CHAMPION = "the champion (Models page)"
_RECOMMENDED = "the recommended model"
_BEST = "the model with the best mean quality"


_SOURCE = {"argument": "chosen with --baseline", "champion": _CHAMPION, "best quality": _RECOMMENDED, "all pairs": "all pairs"}


def _baseline(store: Store, run: Any, explicit: str | None, best: str | None) -> tuple[str | None, str]:
    """analysis.choose_baseline: the explicit baseline, else the champion when it has results here,
    else the best-quality model (the likely recommendation; _recommend_and_compare corrects it when
    it is not)."""
    ok = queries.ok_models(store, run.run_id)
    present = [m for m in run.spec.models if m in ok] + sorted(set(ok) - set(run.spec.models))
    baseline, source = analysis.choose_baseline(run.run_id, present, explicit, store.get_setting("champion"), best)
    return baseline, _SOURCE[source]


def _facts(store: Store, run: Any, n_samples: int) -> tuple[tuple[str, str], ...]:
    c = queries.prompt_and_failure_counts(store, run.run_id)
    created = pd.Timestamp(run.created_at).strftime("%Y-%m-%d %H:%M UTC") if run.created_at is not None else DASH
    return (
        ("Run", f"{run.run_id} ({run.name})" if run.name and run.name != run.run_id else run.run_id),
        ("Status", run.status),
        ("Prompt set", f"{run.prompt_set} (version {run.prompt_set_hash})"),
        ("Models", ", ".join(run.spec.models)),
        ("Prompts", count(c['items']) + (f" x {run.spec.repeats} repeats" if run.spec.repeats > 1 else "")),
        ("Samples", f"{count(n_samples)} stored of {count(run.planned)} planned; {count(c['failed'] or 0)} not successful"),
        ("Created", created),
    )
