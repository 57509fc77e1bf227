"""Equivalence: two one-sided t tests (TOST) against a margin, paired or Welch."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from core.stats.basics import DEFAULT_ALPHA, finite_pairs, finite_values


@dataclass(frozen=True)
class Equivalence:
    """TOST result: equivalent when both one-sided tests reject at alpha (p = max of the two)."""

    margin: float
    p_value: float | None
    equivalent: bool
    alpha: float
    method: str  # tost-paired-t | tost-welch
    note: str = ""


def _tost(mean: float, se: float, df: float, margin: float, alpha: float, method: str, n: int) -> Equivalence:
    if margin <= 0:
        raise ValueError(f"equivalence margin must be positive (got {margin})")
    if se == 0 or not math.isfinite(se):
        inside = abs(mean) < margin
        return Equivalence(margin, 0.0 if inside else 1.0, inside, alpha, method, "no spread: decided from the mean alone")
    p_low = float(sps.t.sf((mean + margin) / se, df))
    p_high = float(sps.t.cdf((mean - margin) / se, df))
    p = max(p_low, p_high)
    return Equivalence(margin, p, p < alpha, alpha, method)


def tost_paired(a: object, b: object, margin: float, alpha: float = DEFAULT_ALPHA) -> Equivalence:
    """Paired TOST: is -margin < mean(a - b) < margin?"""
    x, y = finite_pairs(a, b)
    d = x - y
    if d.size < 2:
        return Equivalence(margin, None, False, alpha, "tost-paired-t", "fewer than 2 pairs: no test")
    return _tost(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1, margin, alpha, "tost-paired-t", d.size)


def tost_unpaired(a: object, b: object, margin: float, alpha: float = DEFAULT_ALPHA) -> Equivalence:
    """Welch TOST: is -margin < mean(a) - mean(b) < margin?"""
    x, y = finite_values(a), finite_values(b)
    if x.size < 2 or y.size < 2:
        return Equivalence(margin, None, False, alpha, "tost-welch", "fewer than 2 values in a group: no test")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    with np.errstate(all="ignore"):  # Welch-Satterthwaite; underflow -> conservative df
        df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    if not np.isfinite(df):
        df = min(x.size, y.size) - 1
    return _tost(float(x.mean() - y.mean()), se, df, margin, alpha, "tost-welch", x.size + y.size)
