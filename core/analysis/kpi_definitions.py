"""The KPIs a KPI table has: name, section, unit, description and label of each, and which get an
interval. The one place KPI headings come from: the dashboard's KPI table reads `heading` ("Median
latency (ms)"), the report's `title` ("Median latency"; its cells write the unit).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.schemas import ERROR_KINDS


@dataclass(frozen=True)
class KpiDef:
    name: str
    section: str
    unit: str
    description: str
    label: str = ""  # "Median latency": what a table column says (the name when empty)

    @property
    def heading(self) -> str:
        """'Median latency (ms)', 'Mean quality (0-10)', 'Error rate': the label with its unit, for a
        column whose cells are bare numbers (the dashboard's KPI table)."""
        unit = HEADING_UNITS.get(self.unit, "")
        return f"{self.title_text} ({unit})" if unit else self.title_text

    @property
    def title(self) -> str:
        """'Median latency', 'Mean quality (0-10)': the label for a column whose cells write the unit
        (the report); a scale the cells leave out stays in it."""
        return f"{self.title_text} (0-10)" if self.unit == "points 0-10" else self.title_text

    @property
    def title_text(self) -> str:
        return self.label or self.name

    @property
    def has_interval(self) -> bool:
        """Whether the KPI gets a confidence interval (counts, extremes and totals do not)."""
        return self.name in _WITH_INTERVAL or self.section == "cloud" or self.name.startswith("score_")


# a KPI unit -> the unit a heading writes after the label (none: counts, fractions, ratios)
HEADING_UNITS = {"ms": "ms", "tok/s": "tokens/s", "tokens": "tokens", "MB": "MB", "s": "s", "points 0-10": "0-10",
                 "W": "W", "Wh": "Wh", "USD": "USD", "req/s": "req/s"}


def _defs(section: str, rows: Sequence[tuple[str, str, str, str]]) -> list[KpiDef]:
    return [KpiDef(n, section, u, d, label) for n, u, d, label in rows]


def _dist(prefix: str, label: str, short: str) -> list[tuple[str, str, str, str]]:
    return [
        (f"{prefix}_mean", "ms", f"mean {label} of successful requests", f"Mean {short}"),
        (f"{prefix}_p50", "ms", f"median {label}", f"Median {short}"),
        (f"{prefix}_p90", "ms", f"90th percentile {label}", f"p90 {short}"),
        (f"{prefix}_p95", "ms", f"95th percentile {label}", f"p95 {short}"),
        (f"{prefix}_p99", "ms", f"99th percentile {label}", f"p99 {short}"),
        (f"{prefix}_std", "ms", f"standard deviation of {label}", f"{short[:1].upper()}{short[1:]} std"),
        (f"{prefix}_cv", "ratio", f"coefficient of variation of {label} (std / mean)", f"{short[:1].upper()}{short[1:]} CV"),
        (f"{prefix}_min", "ms", f"fastest {label}", f"Fastest {short}"),
        (f"{prefix}_max", "ms", f"slowest {label}", f"Slowest {short}"),
    ]


BASE_DEFS: tuple[KpiDef, ...] = tuple(
    _defs("counts", [
        ("samples", "count", "rows stored for the model (every status)", "Samples"),
        ("ok", "count", "successful requests", "Succeeded"),
        ("errors", "count", "requests that failed with an error", "Errors"),
        ("timeouts", "count", "requests stopped at the per-sample time limit", "Timeouts"),
        ("skipped", "count", "requests not attempted (circuit breaker, model unavailable)", "Skipped"),
        ("cancelled", "count", "requests cancelled by the user", "Cancelled"),
        ("error_rate", "fraction", "share of attempted requests (ok, error, timeout) that did not succeed", "Error rate"),
    ])
    + _defs("counts", [(f"errors_{k}", "count", f"non-ok rows with error kind '{k}'", f"Errors: {k}") for k in ERROR_KINDS])
    + _defs("latency", _dist("latency_ms", "end-to-end latency", "latency"))
    + _defs("ttft", _dist("ttft_ms", "time to first token", "TTFT"))
    + _defs("throughput", [
        ("tokens_per_s", "tok/s", "aggregate: total output tokens / total request time", "Throughput"),
        ("decode_tps_aggregate", "tok/s", "aggregate decode rate: total (tokens - 1) / total (latency - TTFT)", "Decode speed (aggregate)"),
        ("decode_tps_mean", "tok/s", "per-request decode rate (tokens - 1) / (latency - TTFT), mean", "Decode speed (mean)"),
        ("decode_tps_p50", "tok/s", "per-request decode rate, median", "Decode speed (median)"),
    ])
    + _defs("tokens", [
        ("input_tokens_mean", "tokens", "input (prompt) tokens per request", "Input tokens / request"),
        ("output_tokens_mean", "tokens", "output tokens per request", "Output tokens / request"),
        ("input_tokens_total", "tokens", "input tokens of all successful requests", "Input tokens (total)"),
        ("output_tokens_total", "tokens", "output tokens of all successful requests", "Output tokens (total)"),
    ])
    + _defs("memory", [
        ("model_footprint_mb", "MB", "model footprint: memory the loaded model holds (accelerator memory its load "
         "added on CUDA/MPS; its weights and buffers in memory on CPU)", "Model footprint"),
        ("mem_added_mb_max", "MB", "peak added per generation, largest: memory one generation needed above the "
         "level before it (KV cache, activations; accelerator memory on CUDA/MPS, RSS on CPU)", "Peak added per generation, max"),
        ("mem_added_mb_mean", "MB", "peak added per generation, mean", "Peak added per generation, mean"),
        ("memory_needed_mb", "MB", "memory to fit the model: model footprint + largest peak added per generation", "Memory needed"),
        ("peak_rss_mb_max", "MB", "process peak RSS, highest: the whole process (interpreter, libraries, every "
         "loaded model); context, not the model's own memory", "Process peak RSS"),
        ("peak_rss_mb_mean", "MB", "process peak RSS per request, mean (the whole process; context)", "Process peak RSS, mean"),
        ("peak_accel_mb_max", "MB", "process peak accelerator memory, highest (every loaded model; null on CPU)",
         "Process peak accelerator memory"),
        ("weights_mb", "MB", "size of the weights on disk", "Weights on disk"),
        ("params", "count", "parameters of the model", "Parameters"),
        ("load_time_s", "s", "time to load the model", "Load time"),
        ("load_rss_mb", "MB", "process RSS the load added (also one-time library imports; weights mapped from "
         "disk count only once read)", "RSS added by the load"),
    ])
    + _defs("warm_cold", [
        ("cold_latency_ms", "ms", "latency of the untimed warm-up request after loading", "Cold latency"),
        ("warm_latency_ms", "ms", "median latency of the timed (warm) requests", "Warm latency"),
        ("cold_warm_ratio", "ratio", "cold latency / warm median", "Cold / warm"),
        ("cold_excess_ms", "ms", "cold latency - warm median", "Cold excess"),
        ("first_latency_ms", "ms", "latency of the first timed request", "First request latency"),
    ])
    + _defs("quality", [
        ("quality_mean", "points 0-10", "composite quality score, mean", "Mean quality"),
        ("quality_p50", "points 0-10", "composite quality score, median", "Median quality"),
        ("scored", "count", "successful requests with a quality score", "Scored"),
        ("pass_rate", "fraction", "share of scored requests that passed (quality >= 5)", "Pass rate"),
        ("passed", "count", "scored requests that passed", "Passed"),
    ])
    + _defs("cost", [
        ("power_watts", "W", "power draw used for energy (measured or assumed; see power_source)", "Power"),
        ("energy_wh_per_request", "Wh", "energy per request", "Energy / request"),
        ("energy_cost_per_request", "USD", "electricity cost per request", "Energy cost / request"),
        ("amortisation_per_request", "USD", "hardware share per request under the cost model (dedicated: the monthly "
                                             "write-off over the monthly volume; shared: by utilisation)",
         "Hardware share / request"),
        ("local_cost_per_request", "USD", "energy + hardware share per request (x volume = the monthly local cost)",
         "Local cost / request"),
        ("local_cost_per_1k_output_tokens", "USD", "local cost per 1,000 output tokens", "Local cost / 1k output tokens"),
    ])
)


SERVING_DEFS: tuple[KpiDef, ...] = tuple(_defs("serving", [
    ("requests_per_s", "req/s", "HTTP serving throughput at the run's concurrency", "Request throughput"),
    ("output_tps_serving", "tok/s", "HTTP serving output tokens per second", "Output tokens/s across requests"),
    ("goodput", "fraction", "share of requests within the goodput limits", "Goodput"),
]))


_WITH_INTERVAL = frozenset(
    [f"{p}_{s}" for p in ("latency_ms", "ttft_ms") for s in ("mean", "p50", "p90", "p95", "p99", "std", "cv")]
    + ["error_rate", "tokens_per_s", "decode_tps_aggregate", "decode_tps_mean", "input_tokens_mean", "output_tokens_mean",
       "mem_added_mb_mean", "peak_rss_mb_mean", "quality_mean", "pass_rate", "energy_wh_per_request", "energy_cost_per_request",
       "amortisation_per_request", "local_cost_per_request", "local_cost_per_1k_output_tokens",
       "human_rating"]
)


def scorer_def(name: str) -> KpiDef:
    return KpiDef(f"score_{name}_mean", "quality", "fraction 0-1", f"mean of the {name} scorer (0-1)")


def cloud_defs(cloud_model: str) -> tuple[KpiDef, KpiDef]:
    return (
        KpiDef(f"cloud_cost_per_request@{cloud_model}", "cloud", "USD", f"what the same token counts cost on {cloud_model}, per request"),
        KpiDef(f"savings_pct@{cloud_model}", "cloud", "%", f"(cloud - local) / cloud at the monthly volume, vs {cloud_model}"),
    )


# the mean blind human rating (Rate page; core.analysis.rating_kpis adds it when a run has ratings)
RATING_DEF = KpiDef("human_rating", "quality", "points 0-10",
                    "mean blind human rating (0-10): the latest rating of each rater per answer; interval from a "
                    "bootstrap over prompts", "Mean human rating")

KPI_DEFS: dict[str, KpiDef] = {d.name: d for d in (*BASE_DEFS, *SERVING_DEFS, RATING_DEF)}  # by name (not the per-run ones)
