"""The metric registry: one entry per metric any surface shows (CLI, pages, charts, reports, gate, MLflow).

Each MetricInfo says how to read the metric (direction, unit, the phrase verdicts use), how to write
it (`format`: a core.textfmt unit key, so textfmt.fmt_value(v, info.format) writes a value; `axis_unit`
for headings), the names people type for it (`alias`, `aliases`: CLI --metrics, gate rules, pages),
the KPI that summarises it per model (`summary_kpi`, `summary_stat`) and its MLflow metric names
(`mlflow`: MLflow name -> KPI name). Pure Python: core.stats imports no other project module.

    metric_info("latency_ms").heading          # "Latency (ms)"
    by_alias("tokens_per_s").name              # "decode_tps"
    mlflow_kpis()["latency_ms_median"]         # "latency_ms_p50"
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric (direction, unit, the phrase verdicts use) and how each surface names it."""

    name: str  # the samples column (local_cost: derived per sample; error_rate: per model)
    label: str
    unit: str
    lower_is_better: bool | None  # None: neither direction is better
    effect: Literal["ratio", "difference"]  # which effect a verdict reports
    binary: bool = False
    margin: float | None = None  # default TOST equivalence margin, metric units
    phrase: str = "{x} has {f}x higher {label} than {y}"  # for the model with the higher value
    scale: float = 1.0  # multiply differences by this for display (fraction -> percentage points)
    diff_unit: str = ""
    alias: str = ""  # the short name typed in the CLI (--metrics), gate rules and picked on pages
    aliases: tuple[str, ...] = ()  # other accepted names
    format: str = ""  # core.textfmt unit key: textfmt.fmt_value(v, format) writes one value
    axis_unit: str = ""  # the unit as a heading or axis writes it: "Latency (ms)"
    qualifier: str = ""  # what the label leaves out: "Process peak RSS (whole process)"
    summary_kpi: str = ""  # the KPI (core.analysis.kpis) summarising the metric per model
    summary_stat: str = ""  # what that KPI estimates: median / mean
    mlflow: tuple[tuple[str, str], ...] = ()  # (MLflow metric name, KPI name) pairs
    per_sample: bool = True  # a value per sample, so models can be compared on it (error_rate: per model)

    @property
    def title(self) -> str:
        """'Latency', 'Process peak RSS (whole process)': the label as a picker or a table shows it."""
        head = self.label[:1].upper() + self.label[1:]
        return f"{head} ({self.qualifier})" if self.qualifier else head

    @property
    def heading(self) -> str:
        """'Latency (ms)', 'Process peak RSS, whole process (MB)': a chart axis or a column with its unit."""
        head = self.label[:1].upper() + self.label[1:] + (f", {self.qualifier}" if self.qualifier else "")
        return f"{head} ({self.axis_unit})" if self.axis_unit else head

    @property
    def summary_heading(self) -> str:
        """'Median latency (ms)', 'Mean quality (0-10)': the per-model summary with its unit."""
        stat = self.summary_stat.capitalize() + " " if self.summary_stat else ""
        text = stat + (self.label if stat else self.label[:1].upper() + self.label[1:])
        return f"{text} ({self.axis_unit})" if self.axis_unit else text


_LATENCY_MLFLOW = (("latency_ms_mean", "latency_ms_mean"), ("latency_ms_median", "latency_ms_p50"),
                   ("latency_ms_p90", "latency_ms_p90"), ("latency_ms_p95", "latency_ms_p95"), ("latency_ms_p99", "latency_ms_p99"))

METRICS: dict[str, MetricInfo] = {m.name: m for m in (
    MetricInfo("latency_ms", "latency", "ms", True, "ratio", phrase="{x} is {f}x slower than {y}", alias="latency",
               format="ms", axis_unit="ms", summary_kpi="latency_ms_p50", summary_stat="median", mlflow=_LATENCY_MLFLOW),
    MetricInfo("ttft_ms", "time to first token", "ms", True, "ratio", phrase="{x} takes {f}x longer to the first token than {y}",
               alias="ttft", format="ms", axis_unit="ms", summary_kpi="ttft_ms_p50", summary_stat="median",
               mlflow=(("ttft_ms_median", "ttft_ms_p50"),)),
    MetricInfo("decode_tps", "decode speed", "tok/s", False, "ratio", phrase="{x} decodes {f}x faster than {y}",
               alias="tokens_per_s", aliases=("decode",), format="tok/s", axis_unit="tokens/s", summary_kpi="decode_tps_mean",
               summary_stat="mean", mlflow=(("decode_tps_median", "decode_tps_p50"), ("tokens_per_s", "tokens_per_s"))),
    MetricInfo("mem_added_mb", "peak memory added per generation", "MB", True, "difference",
               phrase="{x} needs {d} MB more memory per generation (peak added above the level before it) than {y}",
               diff_unit="MB", alias="mem_added", aliases=("memory",), format="MB", axis_unit="MB",
               summary_kpi="mem_added_mb_mean", summary_stat="mean",
               mlflow=(("mem_added_mb_max", "mem_added_mb_max"), ("mem_added_mb_mean", "mem_added_mb_mean"))),
    MetricInfo("peak_rss_mb", "process peak RSS", "MB", True, "ratio",
               phrase="{x}'s process peaks at {f}x the RSS of {y}'s (whole process, libraries and every loaded model included)",
               alias="peak_rss", format="MB", axis_unit="MB", qualifier="whole process", summary_kpi="peak_rss_mb_mean",
               summary_stat="mean", mlflow=(("peak_rss_mb", "peak_rss_mb_max"),)),  # the whole process (context)
    MetricInfo("peak_accel_mb", "process peak accelerator memory", "MB", True, "ratio",
               phrase="{x}'s process peaks at {f}x the accelerator memory of {y}'s (every loaded model included)",
               alias="peak_accel", format="MB", axis_unit="MB", mlflow=(("peak_accel_mb", "peak_accel_mb_max"),)),
    MetricInfo("output_tokens", "output tokens", "tokens", None, "ratio", phrase="{x} writes {f}x more output tokens than {y}",
               alias="output_tokens", format="count", summary_kpi="output_tokens_mean", summary_stat="mean",
               mlflow=(("output_tokens_mean", "output_tokens_mean"),)),
    MetricInfo("input_tokens", "input tokens", "tokens", None, "ratio", phrase="{x} counts {f}x more input tokens than {y}",
               alias="input_tokens", format="count", summary_kpi="input_tokens_mean", summary_stat="mean"),
    MetricInfo("local_cost", "local cost per request", "USD", True, "ratio",
               phrase="{x} costs {f}x more per request to run locally than {y}", alias="cost", aliases=("local_cost",),
               format="USD", axis_unit="USD", summary_kpi="local_cost_per_request", summary_stat="mean"),
    MetricInfo("quality", "quality", "points", False, "difference", margin=0.5,
               phrase="{x} scores {d} points higher on quality than {y}", diff_unit="points", alias="quality",
               format="quality", axis_unit="0-10", summary_kpi="quality_mean", summary_stat="mean",
               mlflow=(("quality_mean", "quality_mean"),)),
    MetricInfo("human_rating", "human rating", "points", False, "difference", margin=0.5,
               phrase="{x} scores {d} points higher on human rating than {y}", diff_unit="points", alias="human_rating",
               format="quality", axis_unit="0-10", qualifier="blind, mean over raters",
               summary_kpi="human_rating", summary_stat="mean"),  # per sample: NaN where nobody rated the answer
    MetricInfo("passed", "pass rate", "", False, "difference", binary=True, margin=0.05,
               phrase="{x} passes {d} percentage points more often than {y}", scale=100.0, diff_unit="pp",
               alias="passed", aliases=("pass_rate",), format="fraction", summary_kpi="pass_rate",
               mlflow=(("pass_rate", "pass_rate"),)),
    MetricInfo("error_rate", "error rate", "", True, "difference", binary=True,
               phrase="{x} fails {d} percentage points more often than {y}", scale=100.0, diff_unit="pp",
               alias="error_rate", aliases=("errors",), format="fraction", summary_kpi="error_rate", per_sample=False,
               mlflow=(("error_rate", "error_rate"),)),  # per model: failed share of attempted requests
    MetricInfo("preference_strength", "preference strength", "", False, "difference",
               phrase="{x} is preferred over {y} by {d} in Bradley-Terry log-odds strength", alias="preference_strength",
               format="number", axis_unit="Bradley-Terry log-odds, mean model = 0", per_sample=False),  # per model (core.stats.bradley_terry)
    MetricInfo("win_rate", "win rate", "", False, "difference", phrase="{x} wins {d} percentage points more often than {y}",
               scale=100.0, diff_unit="pp", alias="win_rate", format="fraction", qualifier="a tie counting half",
               per_sample=False),  # per pair of models: the row model's share of comparisons won
)}

# the metrics a comparison tests when it is not told which (CLI compare, report, Compare page), in this order
DEFAULT_COMPARED = ("latency_ms", "ttft_ms", "decode_tps", "quality", "passed", "mem_added_mb")

# MLflow names of the per-model counts (KPI names in core.analysis.kpis), logged beside the metrics' names
MLFLOW_COUNTS = (("n", "samples"), ("ok", "ok"), ("errors", "errors"), ("timeouts", "timeouts"))


def metric_info(metric: str) -> MetricInfo:
    """Registry entry, or a neutral difference-type entry for an unknown metric."""
    return METRICS.get(metric) or MetricInfo(metric, metric, "", None, "difference", alias=metric,
                                             phrase="{x} is {d} higher on " + metric + " than {y}")


def by_alias(name: str) -> MetricInfo | None:
    """The entry a typed name means: its alias, another accepted name or the column ('latency',
    'tokens_per_s', 'latency_ms'), case and spaces ignored; None when no metric has that name."""
    key = name.strip().lower()
    return next((m for m in METRICS.values() if key == m.alias or key in m.aliases), None) or METRICS.get(key)


def sample_metrics() -> tuple[MetricInfo, ...]:
    """The metrics with a value per sample: those a comparison can test (CLI --metrics, pages' pickers)."""
    return tuple(m for m in METRICS.values() if m.per_sample)


def mlflow_kpis() -> dict[str, str]:
    """MLflow metric name -> KPI name: the counts, then every metric's names."""
    return dict(MLFLOW_COUNTS) | {k: v for m in METRICS.values() for k, v in m.mlflow}
