"""Intervals of one sample: t for the mean, Wilson and Newcombe for proportions (cluster
bootstrap or Wilson on prompts when prompts repeat), BCa / percentile bootstrap for quantiles."""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.special import ndtri

from core.stats.basics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    Interval,
    _check_confidence,
    _constant,
    _undefined,
    default_resamples,
    finite_values,
)
from core.stats.cluster_bootstrap import _has_repeats, cluster_bootstrap_ci
from core.stats.cluster_codes import factorize_labels
from core.stats.resampling import _finish_bootstrap, _jackknife_quantile, _resampled_quantiles, _seeded_blocks


def mean_ci(values: object, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Student t interval for the mean (scipy.stats.t)."""
    _check_confidence(confidence)
    x = finite_values(values)
    n = x.size
    if n == 0:
        return _undefined("t", confidence, 0, "no data")
    if n == 1:
        return _undefined("t", confidence, 1, "n < 2: no interval", x[0])
    if np.ptp(x) == 0:
        return _constant("t", confidence, n, x[0])
    m = float(x.mean())
    se = float(np.std(x, ddof=1) / np.sqrt(n))  # scipy.stats.sem, without its per-call overhead
    if not se > 0:  # spread below floating-point resolution
        return _constant("t", confidence, n, m, "no measurable spread")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q_low, q_high = _t_quantiles(confidence, n - 1)
    low, high = q_low * se + m, q_high * se + m  # as scipy.stats.t.interval(confidence, n - 1, loc=m, scale=se)
    return Interval(m, float(low), float(high), "t", confidence, n)


@functools.lru_cache(maxsize=1024)
def _t_quantiles(confidence: float, df: int) -> tuple[float, float]:
    """Standard t quantiles of a central interval (cached: comparisons repeat the same n)."""
    return float(sps.t.ppf((1.0 - confidence) / 2, df)), float(sps.t.ppf((1.0 + confidence) / 2, df))


def wilson_ci(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for a proportion (Wilson 1927; Newcombe 1998, method 3)."""
    _check_confidence(confidence)
    if n <= 0:
        return _undefined("wilson", confidence, 0, "no trials")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n} (got {successes})")
    return _wilson(successes / n, n, confidence)


def _wilson(p: float, n: int, confidence: float, method: str = "wilson", note: str = "") -> Interval:
    """The Wilson score interval at proportion p over n trials (p need not be k/n exactly)."""
    z = float(ndtri(1 - (1 - confidence) / 2))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if p <= 0 else max(0.0, centre - half)
    high = 1.0 if p >= 1 else min(1.0, centre + half)
    return Interval(p, low, high, method, confidence, n, note=note)


def newcombe_diff_ci(k_a: int, n_a: int, k_b: int, n_b: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Difference of two independent proportions p_a - p_b, Newcombe (1998) hybrid score."""
    wa, wb = wilson_ci(k_a, n_a, confidence), wilson_ci(k_b, n_b, confidence)
    if not (wa.is_defined and wb.is_defined):
        return _undefined("newcombe", confidence, n_a + n_b, "a group has no trials")
    pa, pb = k_a / n_a, k_b / n_b
    d = pa - pb
    low = d - math.sqrt((pa - wa.low) ** 2 + (wb.high - pb) ** 2)  # type: ignore[operator]
    high = d + math.sqrt((wa.high - pa) ** 2 + (pb - wb.low) ** 2)  # type: ignore[operator]
    return Interval(d, low, high, "newcombe", confidence, n_a + n_b)


def proportion_ci(
    outcomes: object,
    clusters: object | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Pass/error rate of 0/1 outcomes: Wilson, or cluster bootstrap when prompts repeat.

    Repeats never buy more certainty than one answer per prompt: when every prompt's repeats
    agree (always the case at a rate of 0% or 100%, where the cluster bootstrap collapses to a
    zero-width interval), the repeats carry no information beyond one answer each, so the
    interval is Wilson's on the number of prompts ("wilson-clusters").
    """
    x = np.asarray(outcomes, dtype=float).ravel()
    keep = np.isfinite(x)
    if clusters is not None:
        c = np.asarray(clusters).ravel()[keep]
        if _has_repeats(c):
            agreeing = agreeing_clusters_ci(x[keep], c, confidence)
            if agreeing is not None:
                return agreeing
            return cluster_bootstrap_ci(x, clusters, "mean", confidence=confidence, n_resamples=n_resamples, seed=seed)
    x = x[keep]
    return wilson_ci(int(x.sum()), int(x.size), confidence)


def agreeing_clusters_ci(outcomes: object, clusters: object, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Wilson on the number of prompts when every prompt's repeated 0/1 outcomes agree, else None.

    Then the repeats add nothing to one answer per prompt, and the cluster bootstrap would
    collapse (zero width at 0% or 100%) or claim the certainty of every repeat."""
    _check_confidence(confidence)
    x = np.asarray(outcomes, dtype=float).ravel()
    c = np.asarray(clusters).ravel()
    keep = np.isfinite(x)
    x, c = x[keep], c[keep]
    if not x.size or not _clusters_homogeneous(x, c):
        return None
    k = factorize_labels(c)[1]
    return _wilson(float(x.mean()), k, confidence, "wilson-clusters", f"every prompt's repeats agree: Wilson on {k} prompts")


def _clusters_homogeneous(x: np.ndarray, clusters: np.ndarray) -> bool:
    """True when every cluster holds one value only (its repeats all agree)."""
    codes, k = factorize_labels(clusters)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, codes, x)
    np.maximum.at(hi, codes, x)
    return bool(np.all(lo == hi))


def _quantile_label(q: float) -> str:
    return "median" if q == 0.5 else f"p{q * 100:g}"


def quantile_cis(
    values: object,
    qs: Sequence[float] = (0.5,),
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    method: Literal["BCa", "percentile"] = "BCa",
) -> tuple[Interval, ...]:
    """Bootstrap intervals for several quantiles (fractions, e.g. 0.5, 0.9) from one resample.

    Each interval equals scipy.stats.bootstrap(..., method=method, rng=default_rng(seed)) for
    that quantile alone.
    """
    _check_confidence(confidence)
    x = finite_values(values)
    n = x.size
    kind = "bca-bootstrap" if method.lower() == "bca" else "percentile-bootstrap"
    if n == 0:
        return tuple(_undefined(kind, confidence, 0, "no data") for _ in qs)
    if n == 1:
        return tuple(_undefined(kind, confidence, 1, "n < 2: no interval", x[0]) for _ in qs)
    if np.ptp(x) == 0:
        return tuple(_constant(kind, confidence, n, x[0]) for _ in qs)
    B = n_resamples or default_resamples(n)
    boot = _resampled_quantiles(x, qs, _seeded_blocks(seed, n, B))
    out = []
    for q, theta_b in zip(qs, boot):
        note = ""
        if n * min(q, 1 - q) < 5:
            note = f"fewer than 5 observations beyond the {_quantile_label(q)}: interval unreliable"
        est = float(np.percentile(x, q * 100))
        out.append(
            _finish_bootstrap(
                est, theta_b, [_jackknife_quantile(x, q)], method=method, confidence=confidence,
                n=n, n_resamples=B, seed=seed, note=note,
            )
        )
    return tuple(out)


def median_ci(values: object, **kwargs: object) -> Interval:
    """Bootstrap (BCa) interval for the median; keyword arguments as in quantile_cis."""
    return quantile_cis(values, (0.5,), **kwargs)[0]  # type: ignore[arg-type]


def percentile_ci(values: object, percentile: float, **kwargs: object) -> Interval:
    """Bootstrap (BCa) interval for a percentile given in 0..100 (p90 -> 90)."""
    return quantile_cis(values, (percentile / 100,), **kwargs)[0]  # type: ignore[arg-type]
