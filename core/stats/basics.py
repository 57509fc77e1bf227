"""Defaults, the `Interval` every estimate returns, and the number helpers the package shares.

Every interval carries its method, confidence level, resample count and seed; degenerate data
give an Interval with a `note`, never an exception and never a NaN shown as a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 2000
LARGE_N = 1000  # above this many observations the default resample count drops ...
LARGE_N_RESAMPLES = 1000  # ... to this (speed; see METHODS)
PERCENTILES = (50, 90, 95, 99)

_METHOD_LABELS = {
    "bca-bootstrap": "BCa bootstrap",
    "percentile-bootstrap": "percentile bootstrap",
    "cluster-bootstrap": "cluster bootstrap",
    "multiplier-bootstrap": "multiplier bootstrap over prompts (large sample)",
    "t": "t interval",
    "welch-t": "Welch t interval",
    "wilson": "Wilson score",
    "newcombe": "Newcombe hybrid score",
    "theil-sen": "Theil-Sen",
}


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and how it was computed.

    `low`/`high` are None when no interval can be computed (`note` says why); they equal
    the estimate when the data have no spread.
    """

    estimate: float | None
    low: float | None
    high: float | None
    method: str
    confidence: float = DEFAULT_CONFIDENCE
    n: int = 0
    n_resamples: int | None = None  # None for analytic intervals
    seed: int | None = None  # None for analytic intervals
    note: str = ""

    def __post_init__(self) -> None:
        # never a NaN or infinity presented as a number: such values become None
        bad = False
        for name in ("estimate", "low", "high"):
            v = getattr(self, name)
            if v is not None:
                clean = finite_or_none(v)
                bad |= clean is None
                object.__setattr__(self, name, clean)
        if bad and not self.note:
            object.__setattr__(self, "note", "not computable for these data (non-finite result)")

    @property
    def is_defined(self) -> bool:
        return self.estimate is not None and self.low is not None and self.high is not None

    @property
    def width(self) -> float | None:
        return self.high - self.low if self.is_defined else None

    def contains(self, value: float) -> bool:
        return self.is_defined and self.low <= value <= self.high  # type: ignore[operator]

    def format(self, unit: str = "", digits: int | None = None) -> str:
        """'412 ms (95% CI 398-430, BCa bootstrap, 2000 resamples, seed 0)'."""
        sep = " " if unit and unit not in ("%", "x") else ""
        if self.estimate is None:
            return f"n/a ({self.note or 'no data'})"
        est = f"{format_number(self.estimate, digits)}{sep}{unit}"
        if not self.is_defined:
            return f"{est} (no interval: {self.note})" if self.note else est
        lo, hi = format_number(self.low, digits), format_number(self.high, digits)
        span = f"{lo} to {hi}" if self.low < 0 or self.high < 0 else f"{lo}-{hi}"  # type: ignore[operator]
        parts = [f"{self.confidence * 100:g}% CI {span}", _METHOD_LABELS.get(self.method, self.method)]
        if self.n_resamples is not None:
            parts.append(f"{self.n_resamples} resamples")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return f"{est} ({', '.join(parts)})"


def format_number(x: float | None, digits: int | None = None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    if ax >= 100 or ax == 0:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def finite_or_none(x: object) -> float | None:
    """A finite float, or None (never a NaN presented as a number)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def finite_values(values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def finite_pairs(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"paired samples must have equal length (got {x.size} and {y.size})")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _undefined(method: str, confidence: float, n: int, note: str, estimate: float | None = None) -> Interval:
    return Interval(finite_or_none(estimate), None, None, method, confidence, n, note=note)


def _constant(method: str, confidence: float, n: int, value: float, note: str = "all values equal") -> Interval:
    v = float(value)
    return Interval(v, v, v, method, confidence, n, note=note)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (got {confidence}); e.g. 0.95")


def default_resamples(n: int) -> int:
    """The resample count used when none is given: 2000, or 1000 above 1000 observations."""
    return DEFAULT_RESAMPLES if n <= LARGE_N else LARGE_N_RESAMPLES


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
