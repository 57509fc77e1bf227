"""Trends with sample order: drift (Kendall, Spearman, Theil-Sen) and cold start."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, stdtr

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
        kt, sr = _ordered_trend_tests(y) if _strictly_increasing(x) else (None, None)
        if kt is None:
            kt, sr = sps.kendalltau(x, y), sps.spearmanr(x, y)
        sx, sy, note = _slope_points(x, y, max_slope_points)
        ts = sps.theilslopes(sy, sx, alpha=confidence)
    slope = Interval(finite_or_none(ts.slope), finite_or_none(ts.low_slope), finite_or_none(ts.high_slope), "theil-sen", confidence, n, note=note)
    rel = None if not med or slope.estimate is None else slope.estimate * 100 / med
    sig = kt.pvalue is not None and bool(kt.pvalue < alpha)
    material = rel is not None and abs(rel) > material_fraction
    sp = _spearman_exact_p(x, y) if n <= SPEARMAN_EXACT_MAX_N else sr.pvalue
    return Drift(n, finite_or_none(kt.statistic), finite_or_none(kt.pvalue), finite_or_none(sr.statistic), finite_or_none(sp), slope, med, rel, sig, material, sig and material)


def _strictly_increasing(x: np.ndarray) -> bool:
    return x.size > 1 and bool((x[1:] > x[:-1]).all())


_KENDALL_EXACT_MAX_N = 33  # scipy.stats.kendalltau(method="auto") takes its exact p-value up to here (no ties)


def _ordered_trend_tests(y: np.ndarray) -> tuple[Trend | None, Trend | None]:
    """scipy.stats.kendalltau(x, y) and spearmanr(x, y) for x strictly increasing (samples in
    order), from one sort of y: x's ranks are then 1..n, so the ranking and the discordant count
    scipy builds from two sorts of each need only y's. The same formulas as scipy's (tau-b with
    its asymptotic normal p-value, tie-corrected; rho as the correlation of the ranks with its t
    p-value): tested equal to scipy. (None, None) where scipy would take another route (its exact
    Kendall p-value: small n or a near-perfect order without ties), or without scipy's counter."""
    try:
        from scipy.stats._stats import _kendall_dis  # scipy's own discordant-pair counter (Cython)
    except ImportError:  # pragma: no cover - a scipy without it: scipy's public functions instead
        return None, None
    n = y.size
    order = np.argsort(y)
    ys = y[order]
    start = np.flatnonzero(np.concatenate([[True], ys[1:] != ys[:-1]]))
    counts = np.diff(np.concatenate([start, [n]]))
    dense = np.empty(n, dtype=np.intp)
    dense[order] = np.repeat(np.arange(1, start.size + 1, dtype=np.intp), counts)
    tot = n * (n - 1) // 2
    dis = int(_kendall_dis(np.arange(1, n + 1, dtype=np.intp), dense))
    cnt = np.bincount(dense).astype("int64", copy=False)
    cnt = cnt[cnt > 1]
    ytie = int((cnt * (cnt - 1) // 2).sum())
    y1 = int((cnt * (cnt - 1.) * (2 * cnt + 5)).sum())
    if n <= _KENDALL_EXACT_MAX_N or ytie == tot or (ytie == 0 and min(dis, tot - dis) <= 1):
        return None, None
    con_minus_dis = tot - ytie - 2 * dis
    tau = np.minimum(1., max(-1., con_minus_dis / np.sqrt(tot) / np.sqrt(tot - ytie)))
    m = n * (n - 1.)
    var = (m * (2 * n + 5) - y1) / 18  # scipy's terms with ties in x are 0 here
    kendall = Trend(float(tau), float(2 * ndtr(-np.abs(con_minus_dis / np.sqrt(var)))))
    ranks = np.empty(n)
    ranks[order] = np.repeat(start + (counts + 1) / 2, counts)  # y's average ranks (scipy.stats.rankdata)
    rs = np.corrcoef(np.column_stack([np.arange(1, n + 1, dtype=float), ranks]), rowvar=False)[1, 0]
    with np.errstate(divide="ignore"):
        t = rs * np.sqrt((float(n - 2) / ((rs + 1.0) * (1.0 - rs))).clip(0))
    return kendall, Trend(float(rs), float(2 * stdtr(n - 2, -np.abs(t))))


@dataclass(frozen=True)
class Trend:
    """A trend test's statistic and two-sided p-value (kendalltau's and spearmanr's fields)."""

    statistic: float
    pvalue: float


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
    with warnings.catch_warnings():  # only the last block is padded: the full ones take one vectorised median
        warnings.simplefilter("ignore")
        mx = np.concatenate([np.median(bx[:-1], axis=1), np.nanmedian(bx[-1:], axis=1)])
        my = np.concatenate([np.median(by[:-1], axis=1), np.nanmedian(by[-1:], axis=1)])
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
