"""How a number is written, everywhere: the dashboard, the CLI's text tables and the reports.

One formatter (issue 12): the unit functions below decide how a latency, a size, a price, a
share or a count is written, and `fmt_value(v, unit)` hands each unit it covers to them, so
"412 ms" reads the same on a page, in a terminal and in a report. One missing-value mark:
DASH, the em dash "—". Pure Python (ui.format re-exports these for the pages).

    ms(412.3)                              # "412 ms"  (== fmt_value(412.3, "ms"))
    fmt_interval(412.3, 398, 430, "ms")    # "412 ms [398, 430]"
    fmt_p(0.0004)                          # "<0.001"
    effect_text(comparison)                # ("2.4x [2.2, 2.6]", "ratio of medians A/B")
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

DASH = "—"  # the one missing-value mark: None, NaN, NA and infinities all read as this


def _missing(v: object) -> bool:
    if v is None:
        return True
    try:
        return not math.isfinite(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):  # pd.NA, pd.NaT, text
        return True


def _sign(v: float) -> str:
    return "-" if v < 0 else ""


def number(v: float | None) -> str:
    """A plain number (no unit): '1,234', '45.7', '5.50', '0.123'."""
    if _missing(v):
        return DASH
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3g}"


def ms(v: float | None) -> str:
    """Latency in milliseconds: '0.42 ms', '8.3 ms', '123 ms', '12,345 ms'."""
    if _missing(v):
        return DASH
    a = abs(v)
    if a < 1:
        return f"{v:.2f} ms"
    if a < 10:
        return f"{v:.1f} ms"
    return f"{v:,.0f} ms"


def tps(v: float | None) -> str:
    """Throughput in tokens per second: '12.3 tokens/s', '1,234 tokens/s'."""
    if _missing(v):
        return DASH
    return f"{v:,.1f} tokens/s" if abs(v) < 1000 else f"{v:,.0f} tokens/s"


def mb(v: float | None) -> str:
    """A size given in MB (2**20 bytes): '8.5 MB', '512 MB', '1.50 GB'."""
    if _missing(v):
        return DASH
    if abs(v) >= 1024:
        return f"{v / 1024:,.2f} GB"
    if abs(v) >= 10:
        return f"{v:,.0f} MB"
    return f"{v:.1f} MB"


def gb(v: float | None) -> str:
    """A size given in GB: '1.50 GB'."""
    return DASH if _missing(v) else f"{v:,.2f} GB"


def usd(v: float | None) -> str:
    """Money: whole dollars from $1,000, cents from $1, three significant digits below
    ('$0.0123', '$0.500'), '$0' for nothing; the sign before the dollar ('-$1.50')."""
    if _missing(v):
        return DASH
    a = abs(v)
    if a >= 1000:
        return f"{_sign(v)}${a:,.0f}"
    if a >= 1:
        return f"{_sign(v)}${a:,.2f}"
    if a == 0:
        return "$0"
    digits = max(2, 2 - int(math.floor(math.log10(a))))
    return f"{_sign(v)}${a:.{digits}f}"


def usd_tick(v: float, _pos: object = None) -> str:
    """Money on a chart axis, short and written out: '$0.000005', '$0.0123', '$2.50', '$100',
    '$1,234' (no 1e-5, no SI prefix, no trailing zeros at a decade). matplotlib FuncFormatter-ready."""
    if v >= 1:
        return f"${v:,.0f}" if v >= 100 or v == int(v) else f"${v:,.2f}"
    if v <= 0:
        return "$0" if v == 0 else "-" + usd_tick(-v)
    digits = 2 - math.floor(math.log10(v))  # three significant digits, trailing zeros dropped
    return "$" + f"{v:.{digits}f}".rstrip("0").rstrip(".")


def count_tick(v: float, _pos: object = None) -> str:
    """A count on a chart axis (log scales): 0.01, 100, 10k, 1M (never math text such as 10^{-2})."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{unit}"
    return f"{v:g}"


def pct(v: float | None, digits: int = 1) -> str:
    """A fraction (0.123) as a percentage ('12.3%')."""
    return DASH if _missing(v) else f"{v * 100:.{digits}f}%"


def share(v: float | None) -> str:
    """A share as people read it, in whole percent: '34%'; '<1%' and '>99%' rather than a
    rounded '0%' or '100%' when it is neither."""
    if _missing(v):
        return DASH
    return "<1%" if 0 < v < 0.005 else ">99%" if 0.995 <= v < 1 else f"{v:.0%}"


def sig3(v: float | None, missing: str = DASH) -> str:
    """A number in three significant digits, whole with thousands separators from 100:
    '0.123', '45.7', '1,234' (`missing` for None, NaN and infinities)."""
    if _missing(v):
        return missing
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def percent(v: float | None, digits: int = 1) -> str:
    """A number already in percent (12.3) as '12.3%'."""
    return DASH if _missing(v) else f"{v:,.{digits}f}%"


def signed(v: float | None, digits: int = 3, style: str = "g") -> str:
    """A difference with its sign: `digits` significant digits ('+0.5', '-2.25') or, with style
    "f", decimals (signed(0.5, 2, "f") == '+0.50')."""
    return DASH if _missing(v) else f"{v:+.{digits}{style}}"


def factor(v: float | None) -> str:
    """A factor of a baseline with three significant digits: '1.1x', '0.952x'."""
    return DASH if _missing(v) else f"{v:.3g}x"


def count(v: float | None) -> str:
    """A count with thousands separators, rounded to a whole number: '1,200'."""
    return DASH if _missing(v) else f"{v:,.0f}"


def count_of(n: int, noun: str) -> str:
    """'1 model', '3 models', '1,200 samples' (plural by adding s)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def params(n: float | None) -> str:
    """Parameter count: '418K', '7.9M', '1.2B'."""
    if _missing(n):
        return DASH
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{int(n)}"


def quality(v: float | None) -> str:
    """Composite quality on the 0..10 scale: '7.25 / 10'."""
    return DASH if _missing(v) else f"{v:.2f} / 10"


def duration(s: float | None) -> str:
    """Seconds as '45 s', '3 min 05 s', '2 h 07 min' (a wall-clock span; see seconds())."""
    if _missing(s):
        return DASH
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def _suffixed(suffix: str) -> Callable[[float | None], str]:
    def f(v: float | None) -> str:
        return DASH if _missing(v) else number(v) + suffix
    f.__name__ = f"number{suffix.replace(' ', '_').replace('/', '_per_')}"
    return f


seconds = _suffixed(" s")  # a measured time in seconds: '0.412 s', '1.23 s' (duration() is for spans)
watts = _suffixed(" W")
watt_hours = _suffixed(" Wh")
tokens = _suffixed(" tok")
req_per_s = _suffixed(" req/s")

# unit name (as core.analysis.kpis / core.stats name units, or the function's own name) -> unit function
UNITS: dict[str, Callable[[Any], str]] = {
    "ms": ms, "tok/s": tps, "tps": tps, "MB": mb, "mb": mb, "GB": gb, "gb": gb, "USD": usd, "usd": usd,
    "fraction": pct, "pct": pct, "%": percent, "count": count, "points 0-10": quality, "quality": quality,
    "duration": duration, "params": params, "s": seconds, "W": watts, "Wh": watt_hours, "tokens": tokens,
    "req/s": req_per_s, "number": number,
}

# what follows the number in each unit's text (stripped from an interval's bounds)
_SUFFIXES = (" tokens/s", " req/s", " / 10", " ms", " MB", " GB", " Wh", " W", " tok", " s", "%")


def fmt_value(v: float | None, unit: str = "") -> str:
    """A number for people in `unit`: the unit's function where there is one (fmt_value(v, "ms")
    == ms(v)), else a plain number(); DASH when missing."""
    return UNITS.get(unit, number)(v)


def fmt_interval(v: float | None, low: float | None, high: float | None, unit: str = "") -> str:
    """'412 ms [398, 430]' (no brackets when there is no interval). A bound keeps its unit only
    where it differs from the estimate's ('980 MB [950, 1.02 GB]')."""
    text = fmt_value(v, unit)
    if _missing(v) or _missing(low) or _missing(high):
        return text
    suffix = next((s for s in _SUFFIXES if text.endswith(s)), "")
    bounds = []
    for b in (fmt_value(low, unit), fmt_value(high, unit)):
        if suffix and b.endswith(suffix):
            b = b.removesuffix(suffix)
        bounds.append(b.replace("$", ""))
    return f"{text} [{bounds[0]}, {bounds[1]}]"


def fmt_metric(v: float | None, metric: str) -> str:
    """One value of a metric as the registry says it is written (core.stats.metric_registry):
    fmt_metric(412, "latency_ms") == "412 ms", fmt_metric(0.25, "passed") == "25.0%"."""
    from core.stats.metric_registry import metric_info

    return fmt_value(v, metric_info(metric).format)


def fmt_p(p: float | None) -> str:
    """A p-value as the CLI and the reports show it: "<0.001", else three decimals."""
    if _missing(p):
        return DASH
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
