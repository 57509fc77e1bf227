"""The report model: one typed object (Report) assembled once from core.analysis, the store and
the run manifest, then rendered to HTML, Markdown and PDF (the renderers only format, never
compute). Assembled by core.reports.run_report (build_report: a run) and core.reports.arms_report
(build_arms_report: arms across runs) from core.reports.sections and core.reports.run_facts.

Every number arrives as text already formatted (the CLI's formats: "412 ms [398, 430]"),
every chart as a core.charts spec. User text (prompts, outputs, model names) is kept raw
here; each renderer escapes it for its own format.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


from core import charts as ch
from core.analysis import costs as C
from core.stats import DEFAULT_ALPHA, DEFAULT_CONFIDENCE, DEFAULT_SEED, metric_info
from core.reports.judging import JudgingSection
from core.reports.table import Table
from core.textfmt import DASH

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
COMPARE_METRICS = tuple(metric_info(m).alias for m in ("quality", "passed", "latency_ms", "ttft_ms", "decode_tps", "mem_added_mb"))
MAX_OUTPUT_CHARS = 1_200  # per output (and prompt) in the appendix
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"

KPI_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (  # the KPIs' titles: core.analysis.kpi_definitions
    ("Requests", ("samples", "ok", "error_rate")),
    ("Latency", ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "ttft_ms_p50")),
    ("Throughput", ("tokens_per_s", "decode_tps_mean", "load_time_s")),
    ("Memory", ("model_footprint_mb", "mem_added_mb_max", "memory_needed_mb", "peak_rss_mb_max")),
    ("Quality", ("quality_mean", "pass_rate", "scored", "human_rating")),
    ("Cost per request", ("local_cost_per_request", "local_cost_per_1k_output_tokens", "energy_wh_per_request")),
    ("Serving (HTTP models)", ("requests_per_s", "output_tps_serving", "goodput")),
)
GROUP_NOTES = {
    "Memory": ("Model footprint: memory the loaded model holds (accelerator memory its load added on CUDA/MPS; its "
               "weights and buffers on CPU). Peak added per generation: the most one generation needed above the "
               "level before it (KV cache, activations). Memory needed = footprint + peak added. Process peak RSS: the "
               "whole process (interpreter, libraries, every loaded model), for context. " + DASH + " : not recorded (runs "
               "stored before these were measured; HTTP endpoints)."),
}
DISTRIBUTIONS = tuple(  # column, label, KPI whose interval is marked, what it estimates (the metric registry)
    (m.name, m.heading, m.summary_kpi, m.summary_stat)
    for m in map(metric_info, ("latency_ms", "ttft_ms", "decode_tps", "quality"))
)


# =========================================================================== the model


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
    judging: JudgingSection | None = None  # human ratings and judges (core.reports.judging), when the run has them

    @property
    def byline(self) -> str:
        """What the report is of, after "Generated ...": "run X" or "runs X, Y"."""
        return f"runs {self.run_id}" if self.kind == "arms" else f"run {self.run_id}"

    def charts(self) -> list[ch.Chart]:
        """Every chart in document order."""
        return [*self.distributions, *([self.pareto] if self.pareto else []), *self.cost_charts,
                *([self.throughput] if self.throughput else []), *(self.judging.charts if self.judging else ())]


@dataclass(frozen=True)
class ReportOptions:
    baseline: str | None = None  # compare every model with this one (default: champion, else the recommended model)
    volume: int | None = None  # requests per month for projections (default: settings')
    settings: C.CostSettings | None = None
    n_resamples: int | None = None  # None: the analysis defaults at every size (the dashboard's)
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
        """Resamples for a run of n_samples: n_resamples when set, else None (the analysis defaults, as the
        dashboard uses them at every size: a report's intervals are the dashboard's)."""
        return self.n_resamples
