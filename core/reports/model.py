"""The report model: one typed object assembled once from core.analysis, the store and the run
manifest, then rendered to HTML, Markdown and PDF (the renderers only format, never compute).

Every number arrives as text already formatted (the CLI's formats: "412 ms [398, 430]"),
every chart as a core.charts spec. User text (prompts, outputs, model names) is kept raw
here; each renderer escapes it for its own format.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

import core
from core import analysis
from core import charts as ch
from core import cost as C
from core import queries
from core.compare import verdict
from core.redact import redact
from core.scale import POLICY
from core.stats import DEFAULT_ALPHA, DEFAULT_CONFIDENCE, DEFAULT_SEED, METHODS, Interval, metric_info
from core.store import Store
from core.textfmt import effect_text, fmt_interval, fmt_p, fmt_value

SECTIONS = {
    "summary": "Executive summary",
    "kpis": "KPI tables",
    "distributions": "Distributions",
    "comparisons": "Pairwise comparisons",
    "costs": "Cost projections and break-even",
    "methods": "Methods",
    "environment": "Environment manifest",
    "appendix": "Appendix: sample outputs",
}
COMPARE_METRICS = ("quality", "passed", "latency", "ttft", "tokens_per_s", "mem_added")
LARGE_RUN_SAMPLES = POLICY.report_samples  # above this, bootstrap resamples drop to LARGE_RUN_RESAMPLES unless set
LARGE_RUN_RESAMPLES = POLICY.report_resamples
MAX_OUTPUT_CHARS = 1_200  # per output (and prompt) in the appendix
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"

KPI_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Requests", (("samples", "Samples"), ("ok", "Succeeded"), ("error_rate", "Error rate"))),
    ("Latency", (("latency_ms_p50", "Median latency"), ("latency_ms_p90", "p90 latency"), ("latency_ms_p99", "p99 latency"),
                 ("ttft_ms_p50", "Median TTFT"))),
    ("Throughput", (("tokens_per_s", "Throughput"), ("decode_tps_mean", "Decode speed (mean)"),
                    ("load_time_s", "Load time"))),
    ("Memory", (("model_footprint_mb", "Model footprint"), ("mem_added_mb_max", "Peak added per generation (max)"),
                ("memory_needed_mb", "Memory needed"), ("peak_rss_mb_max", "Process peak RSS"))),
    ("Quality", (("quality_mean", "Mean quality (0-10)"), ("pass_rate", "Pass rate"), ("scored", "Scored"))),
    ("Cost per request", (("local_cost_per_request", "Local cost / request"),
                          ("local_cost_per_1k_output_tokens", "Local cost / 1k output tokens"),
                          ("energy_wh_per_request", "Energy / request"))),
    ("Serving (HTTP models)", (("requests_per_s", "Request throughput"),
                               ("output_tps_serving", "Output tokens/s across requests"), ("goodput", "Goodput"))),
)
GROUP_NOTES = {
    "Memory": ("Model footprint: memory the loaded model holds (accelerator memory its load added on CUDA/MPS; its "
               "weights and buffers on CPU). Peak added per generation: the most one generation needed above the "
               "level before it (KV cache, activations). Memory needed = footprint + peak added. Process peak RSS: the "
               "whole process (interpreter, libraries, every loaded model), for context. — : not recorded (runs "
               "stored before these were measured; HTTP endpoints)."),
}
DISTRIBUTIONS = (  # column, label, KPI whose interval is marked, what it estimates
    ("latency_ms", "Latency (ms)", "latency_ms_p50", "median"),
    ("ttft_ms", "Time to first token (ms)", "ttft_ms_p50", "median"),
    ("decode_tps", "Decode speed (tokens/s)", "decode_tps_mean", "mean"),
    ("quality", "Quality (0-10)", "quality_mean", "mean"),
)


# =========================================================================== the model


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    note: str = ""
    numeric: tuple[bool, ...] = ()  # right-aligned columns

    def __post_init__(self) -> None:
        if not self.numeric:
            object.__setattr__(self, "numeric", tuple(False for _ in self.columns))


@dataclass(frozen=True)
class Output:
    model: str
    status: str
    facts: str  # "412 ms, quality 7.5/10, passed"
    text: str  # output, or the error message for a failed sample
    truncated: bool = False
    passed: bool | None = None  # the scored check (None: not scored)

    @property
    def tone(self) -> str:
        """'bad' for a failed request or a failed check, 'ok' for a passed check, '' when unscored."""
        if self.status != "ok" or self.passed is False:
            return "bad"
        return "ok" if self.passed else ""


@dataclass(frozen=True)
class AppendixItem:
    item_id: str
    category: str
    prompt: str
    reference: str | None
    outputs: tuple[Output, ...]
    failed: bool = False


@dataclass(frozen=True)
class Summary:
    recommended: str | None
    why: str
    baseline: str | None
    baseline_source: str
    savings: tuple[str, ...]
    verdicts: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    run_id: str
    title: str
    generated_at: str
    summary: Summary
    kpi_tables: tuple[Table, ...]
    distributions: tuple[ch.BoxChart, ...]
    comparison: Table
    verdicts: tuple[str, ...]
    comparison_notes: tuple[str, ...]
    pareto: ch.ScatterChart | None
    cost_tables: tuple[Table, ...]
    cost_charts: tuple[ch.Chart, ...]
    cost_notes: tuple[str, ...]
    methods: tuple[tuple[str, str], ...]
    methods_text: str
    environment: tuple[tuple[str, str], ...]
    model_table: Table
    appendix: tuple[AppendixItem, ...]
    appendix_note: str
    sections: dict[str, str] = field(default_factory=lambda: dict(SECTIONS))
    # a report of arms across runs (build_arms_report): these are set, and `sections` holds only
    # the sections it has (summary, comparisons, methods); a run's report leaves them empty
    kind: str = "run"  # "run" | "arms"
    pairing: str = ""  # the pairing sentence
    changed_prompts: tuple[str, ...] = ()  # item ids left out because their content changed between versions
    pareto_table: Table | None = None
    advice: tuple[str, ...] = ()  # sample-size advice sentences
    methods_title: str = "Full description of the statistical and cost methods"
    throughput: ch.ThroughputChart | None = None  # the run's throughput sweep (core.throughput), when it has one
    throughput_table: Table | None = None

    @property
    def byline(self) -> str:
        """What the report is of, after "Generated ...": "run X" or "runs X, Y"."""
        return f"runs {self.run_id}" if self.kind == "arms" else f"run {self.run_id}"

    def charts(self) -> list[ch.Chart]:
        """Every chart in document order."""
        return [*self.distributions, *([self.pareto] if self.pareto else []), *self.cost_charts,
                *([self.throughput] if self.throughput else [])]


@dataclass(frozen=True)
class ReportOptions:
    baseline: str | None = None  # compare every model with this one (default: champion, else the recommended model)
    volume: int | None = None  # requests per month for projections (default: settings')
    settings: C.CostSettings | None = None
    n_resamples: int | None = None  # None: analysis defaults, LARGE_RUN_RESAMPLES above LARGE_RUN_SAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = DEFAULT_CONFIDENCE
    alpha: float = DEFAULT_ALPHA
    correction: str = "holm"
    appendix_items: int = 5
    generated_at: str | None = None  # "YYYY-MM-DD HH:MM UTC"; None: now (pin it for reproducible files)

    def cost_settings(self) -> C.CostSettings:
        s = self.settings or C.CostSettings()
        return replace(s, volume_per_month=int(self.volume)) if self.volume is not None else s

    def bootstrap_resamples(self, n_samples: int) -> int | None:
        """Resamples for a run of n_samples: n_resamples when set, else LARGE_RUN_RESAMPLES above
        LARGE_RUN_SAMPLES, else None (the analysis defaults)."""
        return POLICY.report_resamples_for(n_samples, self.n_resamples)


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
    summary = Summary(rec.model, rec.why, baseline, source, _savings(costs, focus), _key_verdicts(comp),
                      facts, tuple(dict.fromkeys([*([load.text] if load.flagged else []), *kpi.notes, *comp.notes])))
    sweep = queries.throughput(store, run_id)
    sections = dict(SECTIONS)
    if not sweep.empty:  # only then: a report without a sweep keeps its sections (and bytes) as they were
        sections = {}
        for key, title in SECTIONS.items():
            if key == "methods":  # the sweep's section comes after the costs
                sections["throughput"] = "Throughput sweep"
            sections[key] = title
    return Report(
        run_id=run_id,
        title=f"Evaluation report: {run.name or run_id}",
        generated_at=o.generated_at or datetime.now(timezone.utc).strftime(TIME_FORMAT),
        summary=summary,
        kpi_tables=_kpi_tables(kpi),
        distributions=tuple(_distributions(store, run_id, kpi, colors)),
        comparison=_comparison_table(comp),
        verdicts=tuple(comp.verdicts()),
        comparison_notes=tuple(comp.notes),
        pareto=_pareto(comp, kpi, colors),
        cost_tables=_cost_tables(costs),
        cost_charts=_cost_charts(costs, focus, colors),
        cost_notes=tuple([costs.cost_model, *costs.quality_warnings, *costs.assumptions, *costs.notes]),
        methods=_methods(run, kpi, comp, costs, o, resamples, baseline, source),
        methods_text=f"{METHODS}\n{C.COST_METHODS}",
        environment=_environment(run),
        model_table=_model_table(store, run),
        appendix=tuple(_appendix(store, run, o.appendix_items)),
        appendix_note=(f"Up to {o.appendix_items} prompts (first repeat), prompts with a failed request first; outputs "
                       f"longer than {MAX_OUTPUT_CHARS:,} characters are cut. Every sample is in the CSV/Parquet export."),
        sections=sections,
        throughput=ch.throughput_chart(sweep, ch.model_colors(list(dict.fromkeys(sweep["model"])))) if not sweep.empty else None,
        throughput_table=_throughput_table(sweep) if not sweep.empty else None,
    )


def _throughput_table(sweep: Any) -> Table:
    """The sweep rows as a table: per model and batch size."""
    cols = ("Model", "Batch size", "Requests", "Tokens/s", "Requests/s", "Latency per request (ms)", "TTFT (ms)",
            "Memory added (MB)", "Identical to batch 1")
    def num(x: Any) -> str:
        return "—" if x is None or not math.isfinite(x) else f"{x:,.2f}"

    rows = tuple((str(r.model), str(int(r.batch_size)), str(int(r.n_requests)), num(r.tokens_per_s), num(r.requests_per_s),
                  num(r.latency_ms_mean), num(r.ttft_ms), num(r.mem_added_mb), f"{r.identical_to_b1:.0%}")
                 for r in sweep.itertuples())
    return Table(cols, rows, note="Batched greedy generation (left padding, attention masks); TTFT: the batch's first "
                 "generated token (streamer clock); latency: the batch's wall time, which every request in it waits for.",
                 numeric=(False, *[True] * 8))


def _recommend_and_compare(store: Store, run: Any, kpi: analysis.KpiTable, explicit: str | None, common: dict[str, Any]
                           ) -> tuple[analysis.Recommendation, analysis.RunComparison, str | None, str]:
    """The recommendation and the pairwise comparisons of the report (each model vs the baseline).

    analysis.recommend reads only the quality comparisons of the best-quality model against
    each other model (and the Pareto table), so when the report's baseline is that model the
    report's own comparison serves both: one compare_run instead of two in the usual case."""
    best = _best_quality(kpi)
    baseline, source = _baseline(store, run, explicit, best)
    if baseline is None:  # no quality scores and no champion: the recommendation picks the baseline
        rec = _recommend(store, run.run_id, common, best)
        if rec.model is not None:
            baseline, source = rec.model, _RECOMMENDED
        return rec, analysis.compare_run(store, run.run_id, metrics=COMPARE_METRICS, baseline=baseline, **common), \
            baseline, source
    comp = analysis.compare_run(store, run.run_id, metrics=COMPARE_METRICS, baseline=baseline, **common)
    if baseline == best:
        rec = analysis.recommend(store, run.run_id, comparison=comp, alpha=common["alpha"], settings=common["settings"])
        if rec.considered and rec.considered[0] != best:  # recommend judged another model the best: ask again
            rec = _recommend(store, run.run_id, common, rec.considered[0])
    else:
        rec = _recommend(store, run.run_id, common, best)
    if explicit is None and source != _CHAMPION and rec.model is not None and rec.model != baseline:
        baseline, source = rec.model, _RECOMMENDED  # compare with the model the report recommends
        comp = analysis.compare_run(store, run.run_id, metrics=COMPARE_METRICS, baseline=baseline, **common)
    if rec.model is None and source == _RECOMMENDED:  # nothing recommended: say what the baseline is
        source = _BEST
    return rec, comp, baseline, source


def _best_quality(kpi: analysis.KpiTable) -> str | None:
    scored = [m for m in kpi.models if kpi.value(m, "quality_mean") is not None]
    return max(scored, key=lambda m: (kpi.value(m, "quality_mean"), -(kpi.value(m, "latency_ms_p50") or math.inf)),
               default=None)


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


def _baseline(store: Store, run: Any, explicit: str | None, best: str | None) -> tuple[str | None, str]:
    """The explicit baseline, else the champion when it has results here, else the best-quality
    model (the likely recommendation; _recommend_and_compare corrects it when it is not)."""
    ok = queries.ok_models(store, run.run_id)
    if explicit is not None:
        if explicit not in ok:
            raise ValueError(f"baseline {explicit!r} has no successful requests in run {run.run_id}; "
                             f"models: {', '.join(m for m in run.spec.models if m in ok) or 'none'}")
        return explicit, "chosen with --baseline"
    champion = store.get_setting("champion")
    if champion in ok:
        return champion, _CHAMPION
    if best in ok:
        return best, _RECOMMENDED
    return None, "all pairs"


def _facts(store: Store, run: Any, n_samples: int) -> tuple[tuple[str, str], ...]:
    c = queries.prompt_and_failure_counts(store, run.run_id)
    created = pd.Timestamp(run.created_at).strftime("%Y-%m-%d %H:%M UTC") if run.created_at is not None else "—"
    return (
        ("Run", f"{run.run_id} ({run.name})" if run.name and run.name != run.run_id else run.run_id),
        ("Status", run.status),
        ("Prompt set", f"{run.prompt_set} (version {run.prompt_set_hash})"),
        ("Models", ", ".join(run.spec.models)),
        ("Prompts", f"{int(c['items']):,}" + (f" x {run.spec.repeats} repeats" if run.spec.repeats > 1 else "")),
        ("Samples", f"{n_samples:,} stored of {run.planned:,} planned; {int(c['failed'] or 0):,} not successful"),
        ("Created", created),
    )


# =========================================================================== summary


def _savings(costs: analysis.CostReport, model: str | None) -> tuple[str, ...]:
    out = []
    for line in (x for x in costs.cloud if x.model == model):
        p = line.projection
        s = p.savings_pct
        if s.estimate is None:
            out.append(f"{model} vs {line.cloud_model}: savings not computable ({s.note or p.note or 'no data'})")
            continue
        gist = C.savings_text(s).replace("local costs", "the local model costs", 1)
        be = p.break_even_per_month
        be_text = ("break-even " + C.break_even_text(be) if be.estimate else
                   "cheaper locally " + C.break_even_text(be) if be.estimate == 0 else f"no break-even ({be.note})" if be.note else "")
        out.append(f"At {p.volume_per_month:,} requests/month, running {model} here costs "
                   f"{_iv(p.local_monthly, 'USD')}/month against {_iv(p.cloud_monthly, 'USD')}/month on {line.cloud_model}: "
                   f"{gist}" + (f"; {be_text}" if be_text else "") + ".")
    warning = next((w for w in costs.quality_warnings if w.startswith(f"Quality is not free: {model} passed ")), None)
    return tuple(out) + ((warning,) if out and warning else ())


def _key_verdicts(comp: analysis.RunComparison, limit: int = 8) -> tuple[str, ...]:
    """Significant differences first (quality, pass rate, latency, then the rest), at most `limit`."""
    rank = {m: i for i, m in enumerate(("quality", "passed", "latency_ms", "ttft_ms", "decode_tps", "mem_added_mb"))}
    comps = sorted(comp.comparisons, key=lambda c: (not c.significant(comp.alpha), rank.get(c.metric, 99)))
    picked = [verdict(c, comp.alpha) for c in comps if c.significant(comp.alpha)][:limit]
    if not picked and comp.comparisons:
        return (f"no significant differences in {len(comp.comparisons)} comparisons at alpha {comp.alpha:g}",)
    n_sig = sum(c.significant(comp.alpha) for c in comp.comparisons)
    if n_sig > len(picked):
        picked.append(f"... and {n_sig - len(picked)} more significant differences (see the pairwise comparisons)")
    return tuple(picked)


def _iv(iv: Interval | None, unit: str = "") -> str:
    return "—" if iv is None else fmt_interval(iv.estimate, iv.low, iv.high, unit)


# =========================================================================== KPI tables + charts


def _kpi_tables(kpi: analysis.KpiTable) -> tuple[Table, ...]:
    tables = []
    for title, kpis in KPI_GROUPS:
        present = [(k, label) for k, label in kpis if k in kpi.definitions
                   and any(kpi.value(m, k) is not None for m in kpi.models)]
        if not present:
            continue
        rows = []
        for m in kpi.models:
            cells = [m]
            for k, _ in present:
                iv, unit = kpi.interval(m, k), kpi.definitions[k].unit
                cells.append(fmt_interval(iv.estimate, iv.low, iv.high, unit) if iv is not None
                             else fmt_value(kpi.value(m, k), unit))
            rows.append(tuple(cells))
        has_iv = any(kpi.definitions[k].has_interval for k, _ in present)
        ci = f"[low, high]: {kpi.confidence:.0%} confidence interval" if has_iv and kpi.intervals else ""
        tables.append(Table(("Model", *(label for _, label in present)), tuple(rows), title,
                            " ".join(x for x in (ci, GROUP_NOTES.get(title, "")) if x),
                            (False, *(True for _ in present))))
    return tuple(tables)


def _distributions(store: Store, run_id: str, kpi: analysis.KpiTable, colors: dict[str, str]) -> list[ch.BoxChart]:
    """Box plots from exact quartiles and Tukey fences computed in SQL (bounded size at any n)."""
    out = []
    for col, label, kpi_name, stat in DISTRIBUTIONS:
        df = queries.box_stats(store, run_id, col)
        models = [m for m in kpi.models if m in df.index]
        if not models:
            continue
        series = tuple(
            ch.BoxSeries(m, int(r["n"]), float(r["q1"]), float(r["med"]), float(r["q3"]), float(r["lo"]), float(r["hi"]),
                         float(r["mean"]), int(r["outliers"]), kpi.interval(m, kpi_name), colors.get(m))
            for m, r in ((m, df.loc[m]) for m in models)
        )
        n_out = sum(s.outliers for s in series)
        log = col in LOG_WHEN_SPREAD and _spread(series) >= LOG_SPREAD
        out.append(ch.BoxChart(
            f"dist_{col}", f"{label.split(' (')[0]} per model", label, series, stat, log_y=log,
            caption=(f"{'Log scale (the medians differ ' + format(_spread(series), '.0f') + 'x). ' if log else ''}"
                     f"Boxes: quartiles of every successful sample; whiskers: the most extreme values within 1.5 IQR "
                     f"({n_out:,} values beyond them are not drawn); diamonds: the {stat} with its "
                     f"{kpi.confidence:.0%} confidence interval."),
        ))
    return out


LOG_WHEN_SPREAD = ("latency_ms", "ttft_ms")  # drawn on a log axis when the largest median is LOG_SPREAD x the smallest
LOG_SPREAD = 10.0


def _spread(series: Sequence[ch.BoxSeries]) -> float:
    """Largest median / smallest (1 when a median is not positive: no log axis)."""
    meds = [s.median for s in series]
    return max(meds) / min(meds) if meds and min(meds) > 0 and all(s.low > 0 for s in series) else 1.0


# =========================================================================== comparisons


def _comparison_table(comp: analysis.RunComparison) -> Table:
    corr = {"holm": "Holm", "bh": "BH", "none": "raw"}.get(comp.correction, comp.correction)
    rows = []
    for c in comp.comparisons:
        info = metric_info(c.metric)
        effect, kind = effect_text(c)
        effect = f"{effect} ({kind})"
        rows.append((info.label, c.model_a, c.model_b, c.test.test, fmt_value(c.n_pairs if c.paired else min(c.n_a, c.n_b), "count"),
                     fmt_p(c.p_value), fmt_p(c.p_final), effect, _num(c.cliffs_delta), _num(c.cohen_d), c.better(comp.alpha) or "—"))
    how = f"each model vs {comp.baseline}" if comp.baseline else "all pairs"
    return Table(
        ("Metric", "A", "B", "Test", "n", "p", f"p ({corr})", "Effect A vs B [CI]", "Cliff's δ", "Cohen's d", "Better"),
        tuple(rows), f"Pairwise tests: {how}",
        f"{comp.confidence:.0%} intervals; p ({corr}): adjusted for multiple comparisons per metric; significant when "
        f"below alpha = {comp.alpha:g}. Effect: ratio of medians (A / B) or difference of means (A - B).",
        (False, False, False, False, True, True, True, True, True, True, False),
    )


def _num(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:+.2f}"


def _pareto(comp: analysis.RunComparison, kpi: analysis.KpiTable, colors: dict[str, str]) -> ch.ScatterChart | None:
    t = comp.pareto_table.dropna(subset=["quality", "latency_ms"]) if not comp.pareto_table.empty else comp.pareto_table
    if t.empty:
        return None
    eff = {p.model: p.efficient for p in comp.pareto}
    pts = tuple(ch.Point(str(r.model), float(r.latency_ms), float(r.quality), kpi.interval(str(r.model), "latency_ms_p50"),
                         kpi.interval(str(r.model), "quality_mean"), colors.get(str(r.model)), eff.get(str(r.model), False))
                for r in t.itertuples())
    front = tuple(sorted((p.x, p.y) for p in pts if p.highlight))
    return ch.ScatterChart("pareto", "Quality against median latency (outlined: Pareto-efficient)", "Median latency (ms)",
                           "Mean quality (0-10)", pts, front,
                           caption="Pareto-efficient: no other model is at least as good on quality, latency, cost and "
                                   "memory needed (model footprint + largest peak added per generation) and better on "
                                   "one. Whiskers: confidence intervals.")


# =========================================================================== costs


def _cost_tables(costs: analysis.CostReport) -> tuple[Table, ...]:
    local = Table(
        ("Model", "Requests", "Seconds / request", "Cost / request", "Cost / 1k output tokens", "Energy / request", "Power"),
        tuple((x.model, fmt_value(x.n_requests, "count"), _iv(x.seconds_per_request, "s"), _iv(x.cost_per_request, "USD"),
               _iv(x.cost_per_1k_output_tokens, "USD"), _iv(x.energy_wh_per_request, "Wh"),
               f"{x.power_watts:g} W ({x.power_source})") for x in costs.local),
        f"Local cost on this machine ({costs.settings.currency})", "",
        (False, True, True, True, True, True, False),
    )

    def be(p: C.Projection) -> str:
        b = p.break_even_per_month
        return _iv(b, "count") if b.estimate else C.break_even_text(b, short=True) or (b.note or "—")

    cloud = Table(
        ("Model", "Cloud model", "Cloud / request", "Local / month", "Cloud / month", "Local vs cloud", "Break-even (requests/month)"),
        tuple((x.model, x.cloud_model, _iv(x.cost_per_request, "USD"), _iv(x.projection.local_monthly, "USD"),
               _iv(x.projection.cloud_monthly, "USD"), C.savings_text(x.projection.savings_pct), be(x.projection))
              for x in costs.cloud),
        f"Projection at {costs.settings.volume_per_month:,} requests/month (same token counts in the cloud)",
        "Local vs cloud: savings = (cloud - local) / cloud, or how much more the local model costs.",
        (False, False, True, True, True, True, True),
    )
    prices = Table(
        ("Cloud model", "Input / 1M tokens", "Output / 1M tokens", "Source", "Snapshot", "Price date"),
        tuple((m, fmt_value(p.input_per_mtok, "USD"), fmt_value(p.output_per_mtok, "USD"), p.source, p.snapshot,
               p.price_date or "—") for m, p in costs.prices.items()),
        "Cloud prices used", "", (False, True, True, False, False, False),
    )
    return tuple(t for t in (local, cloud, prices) if t.rows)


def _cost_charts(costs: analysis.CostReport, focus: str | None, colors: dict[str, str]) -> tuple[ch.Chart, ...]:
    local = [x for x in costs.local if x.n_requests > 0]
    if not local:
        return ()
    models = tuple(x.model for x in local)
    k = 1000.0

    def scaled(ivs: Sequence[Interval]) -> tuple[tuple, tuple, tuple]:
        f = [(None if v is None else v * k) for iv in ivs for v in (iv.estimate, iv.low, iv.high)]
        return tuple(f[0::3]), tuple(f[1::3]), tuple(f[2::3])

    series = [ch.BarSeries("local (this machine)", *scaled([x.cost_per_request for x in local]), tuple(colors.get(m) for m in models))]
    for cm in dict.fromkeys(c.cloud_model for c in costs.cloud):
        by = {c.model: c.cost_per_request for c in costs.cloud if c.cloud_model == cm}
        empty = Interval(None, None, None, "none")
        series.append(ch.BarSeries(f"cloud: {cm}", *scaled([by.get(m, empty) for m in models])))
    out: list[ch.Chart] = [ch.BarChart("cost_per_1k", "Cost per 1,000 requests: local vs cloud (same token counts)",
                                       "Local model", "USD per 1,000 requests", models, tuple(series), log_y=True,
                                       caption="Log scale. Whiskers: confidence intervals.", y_money=True)]
    mine = next((x for x in local if x.model == focus), None)
    if mine is not None:
        lines = [c for c in costs.cloud if c.model == focus and c.cost_per_request.estimate is not None]
        cap = lines[0].projection.capacity_per_month.estimate if lines else None
        fixed, per_request = C.monthly_cost_terms(costs.settings, mine.energy_cost_per_request.estimate or 0.0,
                                                  mine.amortisation_per_request.estimate or 0.0)
        out.append(ch.break_even_chart(
            focus, fixed, per_request, cap, {c.cloud_model: c.cost_per_request.estimate for c in lines},  # type: ignore[misc]
            costs.settings.volume_per_month, colors.get(focus), costs.settings.cost_model))  # type: ignore[arg-type]
    return tuple(out)


# =========================================================================== methods + environment


def _methods(run: Any, kpi: analysis.KpiTable, comp: analysis.RunComparison, costs: analysis.CostReport,
             o: ReportOptions, resamples: int | None, baseline: str | None, source: str) -> tuple[tuple[str, str], ...]:
    reps = run.spec.repeats
    tests = sorted({c.test.test for c in comp.comparisons})
    corr = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)"}.get(comp.correction, "none")
    res = (f"{resamples} bootstrap resamples" + (f" (reduced from the analysis default for runs above "
                                                  f"{LARGE_RUN_SAMPLES:,} samples, to keep the report fast)" if not o.n_resamples else "")
           if resamples else "analysis defaults: 2,000 bootstrap resamples, 1,000 above 1,000 observations")
    return (
        ("Unit of analysis", "the prompt: " + (
            f"each prompt ran {reps} times; repeats are clustered (intervals resample prompts with all their repeats, "
            "comparisons average the repeats of a prompt before pairing)" if reps > 1 else
            "each prompt ran once, so no clustering of repeats is needed")),
        ("Comparisons", f"each model vs {baseline} ({source})" if baseline else "all pairs"),
        ("Tests", ", ".join(tests) or "none (nothing to compare)"),
        ("Multiple comparisons", f"{corr}, per metric"),
        ("Significance level", f"alpha = {comp.alpha:g}"),
        ("Confidence level", f"{comp.confidence:.0%}"),
        ("Interval methods", "; ".join(kpi.methods()) or "none"),
        ("Resamples and seed", f"{res}; seed {o.seed}"),
        ("Recommendation rule", analysis.RECOMMEND_RULE),
        ("Cost assumptions", "; ".join(costs.assumptions)),
        ("Price snapshot", f"{costs.price_snapshot}; prices as of " + (
            ", ".join(sorted({p.price_date for p in costs.prices.values() if p.price_date})) or "the overrides file")),
    )


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _environment(run: Any) -> tuple[tuple[str, str], ...]:
    man = redact(run.manifest or {})
    spec = run.spec
    g = spec.generation
    pkgs = ", ".join(f"{k} {v}" for k, v in (man.get("packages") or {}).items() if v)
    la = man.get("load_average")
    rows = [
        ("Product version", core.__version__),
        ("Python", man.get("python")), ("OS", man.get("os")), ("Platform", man.get("platform")),
        ("CPU", man.get("cpu")),
        ("Cores (logical / physical)", f"{man.get('cores_logical')} / {man.get('cores_physical')}" if man.get("cores_logical") else None),
        ("Memory (GB)", man.get("memory_gb")), ("Accelerator", man.get("accelerator") or "none"),
        ("Device", man.get("device") or spec.device), ("Git commit", man.get("git_commit")),
        ("Load average at start", ", ".join(f"{x:.2f}" for x in la) if isinstance(la, list) else None),
        ("Packages", pkgs),
        ("Prompt set", f"{run.prompt_set} (version {run.prompt_set_hash})" + (f", first {spec.limit} items" if spec.limit else "")),
        ("Repeats / seed", f"{spec.repeats} / {spec.seed}"),
        ("Generation", f"max_new_tokens={g.max_new_tokens}, temperature={g.temperature:g}, top_p={g.top_p:g}"),
        ("Limits", f"timeout {spec.timeout_s:g} s per sample; {spec.max_consecutive_failures} consecutive failures skip a model; "
                   f"concurrency {spec.concurrency}"),
        ("Report made with", f"plotly {_pkg('plotly')}, matplotlib {_pkg('matplotlib')}, fpdf2 {_pkg('fpdf2')}, "
                             f"genai-prices {_pkg('genai-prices')}"),
    ]
    return tuple((k, str(v)) for k, v in rows if v not in (None, "", "None"))


def _model_table(store: Store, run: Any) -> Table:
    rm = store.run_models_df(run.run_id).set_index("model")
    versions = (run.manifest or {}).get("model_versions") or {}
    rows = []
    for m in run.spec.models:
        r = rm.loc[m] if m in rm.index else None

        def get(col: str, r: Any = r) -> Any:
            v = None if r is None else r.get(col)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        rows.append((m, str(versions.get(m) or get("model_version") or "—"), str(get("backend") or "—"),
                     str(get("device") or "—"), str(get("dtype") or "—"), fmt_value(get("params"), "count"),
                     fmt_value(get("weights_mb"), "MB"), fmt_value(get("load_time_s"), "s"), str(get("status") or "not run")))
    return Table(("Model", "Version", "Backend", "Device", "Dtype", "Parameters", "Weights", "Load time", "Status"),
                 tuple(rows), "Models", "", (False, False, False, False, False, True, True, True, False))


# =========================================================================== appendix


def _appendix(store: Store, run: Any, n_items: int) -> list[AppendixItem]:
    if n_items <= 0:
        return []
    df = queries.appendix_rows(store, run.run_id, n_items, MAX_OUTPUT_CHARS)
    failed_items = list(dict.fromkeys(df.loc[df["failed"], "item_id"]))
    ok_items = list(dict.fromkeys(df.loc[~df["failed"], "item_id"]))
    n_failed = min(len(failed_items), max(n_items - len(ok_items), (n_items + 1) // 2))
    chosen = failed_items[:n_failed] + ok_items[: n_items - n_failed]
    prompts = _prompts(store, run)
    order = {m: i for i, m in enumerate(run.spec.models)}
    out = []
    for item in chosen:
        g = df[df["item_id"] == item].sort_values("model", key=lambda s: s.map(lambda m: order.get(m, len(order))))
        prompt, ref = prompts.get(str(item), ("(prompt text unavailable: no copy of the prompt-set version this run used is stored)", None))
        outputs = tuple(_output(r) for r in g.to_dict("records"))
        out.append(AppendixItem(str(item), str(g["category"].iloc[0] or ""), _cut(prompt), None if ref is None else _cut(ref),
                                outputs, bool(g["failed"].iloc[0])))
    return out


def _output(r: dict[str, Any]) -> Output:
    facts = [r["status"]]
    if _ok(r["latency_ms"]):
        facts.append(fmt_value(r["latency_ms"], "ms"))
    if _ok(r["quality"]):
        facts.append(f"quality {r['quality']:.1f}/10")
    passed = bool(r["passed"]) if isinstance(r["passed"], bool | int) and not pd.isna(r["passed"]) else None
    if passed is not None:
        facts.append("passed" if passed else "failed the check")
    if r["status"] != "ok":
        text = f"{r['error_kind'] or 'error'}: {r['error_message'] or ''}".strip()
        return Output(str(r["model"]), str(r["status"]), ", ".join(facts), _cut(text))
    text = r["output_text"] if isinstance(r["output_text"], str) else ""
    chars = r["output_chars"]
    return Output(str(r["model"]), "ok", ", ".join(facts), text, bool(_ok(chars) and chars > MAX_OUTPUT_CHARS), passed)


def _ok(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x is not pd.NA


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + " [...]"


def _prompts(store: Store, run: Any) -> dict[str, tuple[str, str | None]]:
    """item id -> (prompt, reference) of the run's own prompt-set version, when a copy of it is stored."""
    from core import prompts

    try:
        ps = prompts.run_set(store, run)
    except ValueError:
        return {}
    return {i.id: (i.prompt, i.reference) for i in ps.items} if ps is not None else {}


# =========================================================================== arms across runs

ARMS_SECTIONS = {"summary": "Summary", "comparisons": "Pairwise comparisons", "methods": "Methods"}


def build_arms_report(store: Store, arms: Sequence[Any], options: ReportOptions | None = None) -> Report:
    """The report of arms (run, model) across runs: the same Report type with only the summary
    (arms, pairing sentence, changed prompts, key verdicts), the comparisons (table, verdicts,
    sample-size advice, Pareto chart and table) and the methods. arms: core.arms.Arm or
    'RUN:MODEL' text; options.baseline: one of the arms as 'RUN:MODEL' (None: all pairs).
    Raises core.arms.ArmError (a ValueError) for an unknown run or model, fewer than two arms."""
    from core.arms import Arm, check_arms, parse_arm

    o = options or ReportOptions()
    chosen = tuple(a if isinstance(a, Arm) else parse_arm(a) for a in arms)
    with store.pinned():
        check_arms(store, chosen)
        runs = {a.run_id: store.get_run(a.run_id) for a in chosen}
        resamples = o.bootstrap_resamples(sum(store.count_samples(r) for r in runs))
        comp = analysis.compare_arms(store, chosen, metrics=COMPARE_METRICS, baseline=o.baseline, correction=o.correction,  # type: ignore[arg-type]
                                     alpha=o.alpha, confidence=o.confidence, n_resamples=resamples, seed=o.seed,
                                     settings=o.cost_settings())
    labels = [a.label for a in chosen]
    pairing = comp.pairing
    changed = tuple(pairing.changed) if pairing is not None else ()
    facts = tuple((a.label, _arm_fact(a, runs[a.run_id])) for a in chosen)
    how = f"each arm vs {comp.baseline}" if comp.baseline else "all pairs"
    summary = Summary(None, pairing.note if pairing else "", comp.baseline, "argument" if comp.baseline else "all pairs",
                      (), _key_verdicts(comp), facts, ())
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
        comparison=_comparison_table(comp),
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
    return ch.ScatterChart("pareto", "Quality against median latency (outlined: Pareto-efficient)", "Median latency (ms)",
                           "Mean quality (0-10)", pts, front,
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
        status = "—" if p is None else "yes" if p.efficient else "no (dominated by " + ", ".join(p.dominated_by) + ")"
        q = getattr(r, "quality", None)
        rows.append((str(r.model), "—" if q is None or pd.isna(q) else f"{float(q):.2f}", cell(r, "latency_ms", "ms"),
                     cell(r, "cost", "USD"), cell(r, "memory_needed_mb", "MB"), status))
    return Table(("Arm", "Mean quality (0-10)", "Median latency", "Local cost / request", "Memory needed", "Pareto-efficient"),
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
        ("Pairing", comp.pairing.note if comp.pairing else "—"),
        ("Unit of analysis", "the prompt" + (": repeats are averaged per prompt before pairing" if reps != [1] else
                                             ": each prompt ran once per arm")),
        ("Comparisons", how),
        ("Tests", ", ".join(tests) or "none (nothing to compare)"),
        ("Multiple comparisons", f"{corr}, per metric"),
        ("Significance level", f"alpha = {comp.alpha:g}"),
        ("Confidence level", f"{comp.confidence:.0%}"),
        ("Resamples and seed", f"{res}; seed {o.seed}"),
    )
