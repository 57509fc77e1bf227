"""How a number is written in text: the CLI's tables, the reports and the dashboard's tables.

    fmt_value(412.3, "ms")                 # "412 ms"
    fmt_interval(412.3, 398, 430, "ms")    # "412 ms [398, 430]"
    fmt_p(0.0004)                          # "<0.001"
    effect_text(comparison)                # ("2.4x [2.2, 2.6]", "ratio of medians A/B")
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def fmt_value(v: float | None, unit: str = "") -> str:
    """A number for people: units, thousands separators, dollars, percentages."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if unit == "count":
        return f"{v:,.0f}"
    if unit in ("fraction",):
        return f"{v * 100:.1f}%"
    if unit == "%":
        return f"{v:,.1f}%"
    if unit == "USD":
        return "$" + (f"{v:,.2f}" if abs(v) >= 1 else np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-"))
    a = abs(v)
    num = f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3g}"
    suffix = {"ms": " ms", "s": " s", "MB": " MB", "tok/s": " tok/s", "W": " W", "Wh": " Wh", "tokens": " tok",
              "req/s": " req/s"}.get(unit, "")
    return num + suffix


def fmt_interval(v: float | None, low: float | None, high: float | None, unit: str = "") -> str:
    """'412 ms [398, 430]' (no brackets when there is no interval)."""
    text = fmt_value(v, unit)
    if v is None or low is None or high is None or _nan(low) or _nan(high):
        return text
    lo, hi = fmt_value(low, unit), fmt_value(high, unit)
    for suffix in (" ms", " s", " MB", " tok/s", " W", " Wh", " tok", " req/s", "%"):
        lo, hi = lo.removesuffix(suffix), hi.removesuffix(suffix)
    lo, hi = lo.replace("$", ""), hi.replace("$", "")
    return f"{text} [{lo}, {hi}]"


def fmt_p(p: float | None) -> str:
    """A p-value as the CLI and the reports show it: "<0.001", else three decimals."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def effect_text(c) -> tuple[str, str]:  # noqa: ANN001 - core.compare.Comparison
    """A comparison's effect with its interval and what it is, as the CLI, the reports and the
    dashboard's table show it: ('2.4x [2.2, 2.6]', 'ratio of medians A/B') for ratio metrics (the
    factor written as in the verdicts), ('+3.1 points [2.6, 3.6]', 'difference of means A-B') otherwise."""
    from core.compare import RATIO_STATISTIC, factor_text
    from core.stats import metric_info

    info = metric_info(c.metric)
    r = c.ratio
    if info.effect == "ratio" and r is not None and r.estimate is not None:
        text = factor_text(r.estimate)
        if r.is_defined:
            text += f" [{fmt_value(r.low)}, {fmt_value(r.high)}]"
        return text, f"{RATIO_STATISTIC} A/B"
    d, k = c.difference, info.scale
    scaled = [None if v is None else v * k for v in (d.estimate, d.low, d.high)]
    unit = f" {info.diff_unit}" if info.diff_unit and info.diff_unit != info.unit else ""
    return fmt_interval(*scaled, info.unit) + unit, "difference of means A-B"


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))
