"""The metric registry: how to read each metric (direction, unit, the phrase verdicts use)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric: direction, unit and the phrase verdicts use."""

    name: str
    label: str
    unit: str
    lower_is_better: bool | None  # None: neither direction is better
    effect: Literal["ratio", "difference"]  # which effect a verdict reports
    binary: bool = False
    margin: float | None = None  # default TOST equivalence margin, metric units
    phrase: str = "{x} has {f}x higher {label} than {y}"  # for the model with the higher value
    scale: float = 1.0  # multiply differences by this for display (fraction -> percentage points)
    diff_unit: str = ""


METRICS: dict[str, MetricInfo] = {
    "latency_ms": MetricInfo("latency_ms", "latency", "ms", True, "ratio", phrase="{x} is {f}x slower than {y}"),
    "ttft_ms": MetricInfo("ttft_ms", "time to first token", "ms", True, "ratio", phrase="{x} takes {f}x longer to the first token than {y}"),
    "decode_tps": MetricInfo("decode_tps", "decode speed", "tok/s", False, "ratio", phrase="{x} decodes {f}x faster than {y}"),
    "mem_added_mb": MetricInfo("mem_added_mb", "peak memory added per generation", "MB", True, "difference",
                               phrase="{x} needs {d} MB more memory per generation (peak added above the level before it) than {y}",
                               diff_unit="MB"),
    "peak_rss_mb": MetricInfo("peak_rss_mb", "process peak RSS", "MB", True, "ratio",
                              phrase="{x}'s process peaks at {f}x the RSS of {y}'s (whole process, libraries and every loaded model included)"),
    "peak_accel_mb": MetricInfo("peak_accel_mb", "process peak accelerator memory", "MB", True, "ratio",
                                phrase="{x}'s process peaks at {f}x the accelerator memory of {y}'s (every loaded model included)"),
    "output_tokens": MetricInfo("output_tokens", "output tokens", "tokens", None, "ratio", phrase="{x} writes {f}x more output tokens than {y}"),
    "input_tokens": MetricInfo("input_tokens", "input tokens", "tokens", None, "ratio", phrase="{x} counts {f}x more input tokens than {y}"),
    "local_cost": MetricInfo("local_cost", "local cost per request", "USD", True, "ratio", phrase="{x} costs {f}x more per request to run locally than {y}"),
    "quality": MetricInfo("quality", "quality", "points", False, "difference", margin=0.5, phrase="{x} scores {d} points higher on quality than {y}", diff_unit="points"),
    "passed": MetricInfo("passed", "pass rate", "", False, "difference", binary=True, margin=0.05, phrase="{x} passes {d} percentage points more often than {y}", scale=100.0, diff_unit="pp"),
}


def metric_info(metric: str) -> MetricInfo:
    """Registry entry, or a neutral difference-type entry for an unknown metric."""
    return METRICS.get(metric) or MetricInfo(metric, metric, "", None, "difference", phrase="{x} is {d} higher on " + metric + " than {y}")
