"""Trends with sample order: drift (Kendall, Spearman, Theil-Sen) and cold start."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from core.stats.basics import DEFAULT_ALPHA, DEFAULT_CONFIDENCE, Interval, _undefined, finite_or_none


@dataclass(frozen=True)
class Drift:
    """Trend of a metric (latency) with sample order."""

    n: int
    kendall_tau: float | None
    kendall_p: float | None
    spearman_rho: float | None
    spearman_p: float | None
    slope: Interval  # Theil-Sen slope per sample, with its interval
    median: float | None
    relative_per_100: float | None  # slope x 100 / median: fractional change per 100 samples
    significant: bool
    material: bool
    flagged: bool
    note: str = ""


def drift(
    values: object,
    order: object | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    material_fraction: float = 0.01,
    confidence: float = DEFAULT_CONFIDENCE,
    max_slope_points: int = 500,
) -> Drift:
    """Kendall tau / Spearman trend tests and a Theil-Sen slope of values against order.

    Flagged when Kendall's test is significant and |slope| x 100 > material_fraction x median.
    Theil-Sen costs O(n^2): above max_slope_points samples the slope and its interval come
    from that many block medians of consecutive samples (the note says so); the trend tests
    always use every sample.
    """
    y = np.asarray(values, dtype=float).ravel()
    x = np.arange(y.size, dtype=float) if order is None else np.asarray(order, dtype=float).ravel()
    keep = np.isfinite(y) & np.isfinite(x)
    x, y = x[keep], y[keep]
    n = y.size
    med = finite_or_none(np.median(y)) if n else None
    if n < 3 or np.ptp(y) == 0 or np.ptp(x) == 0:
        why = "fewer than 3 samples" if n < 3 else "no variation"
        slope = _undefined("theil-sen", confidence, n, why, 0.0 if n >= 3 else None)
        return Drift(n, None, None, None, None, slope, med, None, False, False, False, why + ": no trend test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kt = sps.kendalltau(x, y)
        sr = sps.spearmanr(x, y)
        sx, sy, note = _slope_points(x, y, max_slope_points)
        ts = sps.theilslopes(sy, sx, alpha=confidence)
    slope = Interval(finite_or_none(ts.slope), finite_or_none(ts.low_slope), finite_or_none(ts.high_slope), "theil-sen", confidence, n, note=note)
    rel = None if not med or slope.estimate is None else slope.estimate * 100 / med
    sig = kt.pvalue is not None and bool(kt.pvalue < alpha)
    material = rel is not None and abs(rel) > material_fraction
    sp = _spearman_exact_p(x, y) if n <= SPEARMAN_EXACT_MAX_N else sr.pvalue
    return Drift(n, finite_or_none(kt.statistic), finite_or_none(kt.pvalue), finite_or_none(sr.statistic), finite_or_none(sp), slope, med, rel, sig, material, sig and material)


SPEARMAN_EXACT_MAX_N = 9  # exact permutation distribution up to here (9! orderings), as R's cor.test


def _spearman_exact_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p of Spearman's rho from its exact permutation distribution (every ordering of y's
    ranks against x's; ties keep their average ranks): scipy's spearmanr uses a t approximation,
    which is far off at small n (n=5, y=[1,2,3,5,4]: 0.037 against the exact 0.083)."""
    import itertools

    rx, ry = sps.rankdata(x), sps.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float(rx @ rx) * float(ry @ ry))
    observed = abs(float(rx @ ry)) / norm
    perms = np.fromiter(itertools.chain.from_iterable(itertools.permutations(range(x.size))), dtype=np.int8)
    rho = np.abs(ry[perms.reshape(-1, x.size)] @ rx) / norm
    return float(np.mean(rho >= observed - 1e-12))


def _slope_points(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y), or the medians of max_points blocks of consecutive samples when there are more."""
    n = x.size
    if n <= max_points:
        return x, y, ""
    order = np.argsort(x, kind="stable")
    size = math.ceil(n / max_points)
    blocks = math.ceil(n / size)
    pad = blocks * size - n
    bx = np.concatenate([x[order], np.full(pad, np.nan)]).reshape(blocks, size)
    by = np.concatenate([y[order], np.full(pad, np.nan)]).reshape(blocks, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mx, my = np.nanmedian(bx, axis=1), np.nanmedian(by, axis=1)
    return mx, my, f"Theil-Sen slope on {blocks} medians of {size} consecutive samples (n = {n})"


@dataclass(frozen=True)
class ColdStart:
    """First sample against the median of the rest (warm)."""

    first: float | None
    warm_median: float | None
    ratio: float | None  # first / warm median
    excess: float | None  # first - warm median
    n_warm: int
    note: str = ""


def cold_start(values_in_order: object) -> ColdStart:
    """Compare the first sample of a run with the warm median (samples 2..n)."""
    y = np.asarray(values_in_order, dtype=float).ravel()
    if y.size == 0 or not np.isfinite(y[0]):
        return ColdStart(None, None, None, None, 0, "no first sample")
    warm = y[1:][np.isfinite(y[1:])]
    if warm.size == 0:
        return ColdStart(float(y[0]), None, None, None, 0, "no warm samples")
    wm = float(np.median(warm))
    return ColdStart(float(y[0]), wm, float(y[0] / wm) if wm > 0 else None, float(y[0] - wm), warm.size)
