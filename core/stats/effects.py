"""Effect sizes of a against b: Cliff's delta, rank-biserial, Cohen's d / dz, the mean
difference with a t interval and the ratio of medians with a bootstrap interval."""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Literal

import numpy as np
from scipy import stats as sps

from core.stats.basics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    Interval,
    _check_confidence,
    _constant,
    _undefined,
    default_resamples,
    finite_or_none,
    finite_pairs,
    finite_values,
)
import core.stats.large_sample as large_sample
from core.stats.cluster_bootstrap import _cluster_boot
from core.stats.cluster_codes import unique_inverse
from core.stats.multiplier_batch import multiplier_quantiles
from core.stats.intervals import mean_ci
from core.stats.resampling import _finish_bootstrap, _index_blocks, _jackknife_quantile, _resampled_quantiles
from core.stats.significance import SignedRanks, signed_rank_sums


def cliffs_delta(a: object, b: object) -> float | None:
    """Cliff's delta P(a > b) - P(a < b) in O(n log n): each value of a counts the values of b
    below and above it, read off one merge of a and b sorted (integer counts: exact); None if a
    group is empty."""
    x, y = finite_values(a), finite_values(b)
    if x.size == 0 or y.size == 0:
        return None
    xs, ys = np.sort(x), np.sort(y)
    merged = np.concatenate([xs, ys])
    order = np.argsort(merged, kind="stable")  # timsort: one merge of the two sorted runs, O(n)
    below = _pairs_below(order, xs.size)  # pairs with b < a
    at = merged[order]
    if bool((at[1:] == at[:-1]).any()):  # ties: count the pairs with b > a the same way
        above = _pairs_below(np.argsort(np.concatenate([ys, xs]), kind="stable"), ys.size)
    else:  # no ties: every other pair has b > a
        above = x.size * y.size - below
    return float((below - above) / (x.size * y.size))


def _pairs_below(order: np.ndarray, n: int) -> int:
    """Given the stable argsort of [s, t] (both sorted, s of size n): the pairs (s_i, t_j) with
    t_j < s_i. s_i lands before any equal t, so its merged position minus i counts the t below it."""
    return int(np.flatnonzero(order < n).sum()) - n * (n - 1) // 2


def rank_biserial_paired(a: object, b: object, *, _ranks: SignedRanks | None = None) -> float | None:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-), zeros dropped.
    _ranks: signed_rank_sums(a - b) when the caller has it."""
    x, y = finite_pairs(a, b)
    sr = signed_rank_sums(x - y) if _ranks is None else _ranks
    if sr.count == 0:
        return None if x.size == 0 else 0.0
    return float((sr.r_plus - sr.r_minus) / (sr.r_plus + sr.r_minus))


def cohens_dz(a: object, b: object) -> float | None:
    """Cohen's dz: mean of paired differences / their SD; None when the SD is 0 or n < 2."""
    x, y = finite_pairs(a, b)
    d = x - y
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    return finite_or_none(d.mean() / sd) if sd > 0 else None


def cohens_d(a: object, b: object) -> float | None:
    """Cohen's d with the pooled SD (independent samples)."""
    x, y = finite_values(a), finite_values(b)
    if x.size < 2 or y.size < 2:
        return None
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    sd = math.sqrt(pooled)
    return finite_or_none((x.mean() - y.mean()) / sd) if sd > 0 else None


def mean_difference_ci(a: object, b: object, *, paired: bool, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """a - b: t interval on paired differences, or Welch interval for independent samples."""
    if paired:
        x, y = finite_pairs(a, b)
        return mean_ci(x - y, confidence)
    x, y = finite_values(a), finite_values(b)
    if x.size < 2 or y.size < 2:
        est = x.mean() - y.mean() if x.size and y.size else None
        return _undefined("welch-t", confidence, x.size + y.size, "fewer than 2 values in a group: no interval", est)
    d = float(x.mean() - y.mean())
    if x.var() == 0 and y.var() == 0:
        return _constant("welch-t", confidence, x.size + y.size, d, "no spread in either group")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-identical data: precision warnings
        ci = sps.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return Interval(d, finite_or_none(ci.low), finite_or_none(ci.high), "welch-t", confidence, x.size + y.size)


class BootCache:
    """Bootstrap medians (and index matrices) reused across comparisons on the same prompts.

    The resample indices depend only on (n, B, seed), so a cached median distribution is
    exactly what a fresh call would compute.
    """

    _MAX_CACHED_INDEX = 16_000_000

    def __init__(self) -> None:
        self._medians: dict[tuple, np.ndarray] = {}
        self._indices: dict[tuple[int, int, int], list[np.ndarray]] = {}

    def _blocks(self, n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray] | list[np.ndarray]:
        if n * n_resamples > self._MAX_CACHED_INDEX:
            return _index_blocks(np.random.default_rng(seed), n, n_resamples)
        key = (n, n_resamples, seed)
        if key not in self._indices:
            self._indices[key] = list(_index_blocks(np.random.default_rng(seed), n, n_resamples))
        return self._indices[key]

    def median(self, key: tuple | None, x: np.ndarray) -> float:
        """np.percentile(x, 50), kept under key (None: not kept)."""
        if key is None:
            return float(np.percentile(x, 50))
        full = (key, "median")
        if full not in self._medians:
            self._medians[full] = float(np.percentile(x, 50))  # type: ignore[assignment]
        return self._medians[full]  # type: ignore[return-value]

    def __contains__(self, full_key: tuple) -> bool:
        return full_key in self._medians

    def put_medians(self, key: tuple, n_resamples: int, seed: int, clustered: bool, medians: np.ndarray) -> None:
        """Store bootstrap medians computed elsewhere (several models at once) under the key
        medians(key, ..., n_resamples, seed, clusters if clustered) reads."""
        self._medians[(key, n_resamples, seed, clustered)] = medians

    def medians(self, key: tuple | None, x: np.ndarray, n_resamples: int, seed: int,
                clusters: tuple[np.ndarray, int] | None = None) -> np.ndarray:
        """Bootstrap medians of x; clusters=(codes, k): resampling the k prompts with all their values."""
        full = None if key is None else (key, n_resamples, seed, clusters is not None)
        if full is not None and full in self._medians:
            return self._medians[full]
        if clusters is None:
            med = _resampled_quantiles(x, [0.5], iter(self._blocks(x.size, n_resamples, seed)))[0]
        else:
            med = _cluster_boot(x, clusters[0], clusters[1], [0.5], seed, n_resamples)[0]
        if full is not None:
            self._medians[full] = med
        return med


def ratio_of_medians_ci(
    a: object,
    b: object,
    *,
    paired: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    method: Literal["BCa", "percentile"] = "BCa",
    _cache: BootCache | None = None,
    _keys: tuple[tuple, tuple] | None = None,
) -> Interval:
    """median(a) / median(b) with a bootstrap interval; paired resamples pairs jointly.

    Equals scipy.stats.bootstrap((a, b), ratio, paired=paired, rng=default_rng(seed)).
    """
    _check_confidence(confidence)
    kind = "bca-bootstrap" if method.lower() == "bca" else "percentile-bootstrap"
    if paired:
        x, y = finite_pairs(a, b)
    else:
        x, y = finite_values(a), finite_values(b)
    n = x.size + (0 if paired else y.size)
    if min(x.size, y.size) < 2:
        return _undefined(kind, confidence, n, "fewer than 2 values in a group: no interval")
    ma, mb = float(np.percentile(x, 50)), float(np.percentile(y, 50))
    if mb <= 0 or ma < 0:
        return _undefined(kind, confidence, n, "ratio of medians needs positive values")
    est = ma / mb
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return _constant(kind, confidence, n, est, "no spread in either group")
    B = n_resamples or default_resamples(max(x.size, y.size))
    cache = _cache or BootCache()
    ka, kb = _keys or (None, None)
    if paired:
        boot_a = cache.medians(ka, x, B, seed)
        boot_b = cache.medians(kb, y, B, seed)
    else:
        rng = np.random.default_rng(seed)
        boot_a = _resampled_quantiles(x, [0.5], _index_blocks(rng, x.size, B))[0]
        boot_b = _resampled_quantiles(y, [0.5], _index_blocks(rng, y.size, B))[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # zero medians: handled below
        theta_b = boot_a / boot_b
        ja, jb = _jackknife_quantile(x, 0.5), _jackknife_quantile(y, 0.5)
        jack = [ja / jb] if paired else [ja / mb, ma / jb]
    jk = None if any(not np.isfinite(j).all() for j in jack) else jack
    return _finish_bootstrap(est, theta_b, jk, method=method, confidence=confidence, n=n, n_resamples=B, seed=seed)


def ratio_of_medians_cluster_ci(
    a: object,
    prompts_a: object,
    b: object,
    prompts_b: object,
    *,
    paired: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    _cache: BootCache | None = None,
    _keys: tuple[tuple, tuple] | None = None,
    _k: int | None = None,
) -> Interval:
    """median(a) / median(b) over every value (repeats included: the medians a summary shows),
    with a percentile interval from a cluster bootstrap that resamples prompts with all their
    values; paired (both ran the same prompts): the same resampled prompts for a and b.
    _k (paired): the prompts are already the codes _prompt_codes would give (0.._k-1 in label
    order, each held by both groups) and the values finite: a caller comparing many pairs skips
    recoding them.
    """
    _check_confidence(confidence)
    kind = "cluster-bootstrap"
    if paired and _k is not None:
        (x, ca, ka), (y, cb, kb) = (np.asarray(a, dtype=float), np.asarray(prompts_a), _k), (np.asarray(b, dtype=float), np.asarray(prompts_b), _k)
    else:
        (x, ca, ka), (y, cb, kb) = _prompt_codes(a, prompts_a, b, prompts_b, paired)
    n = x.size + y.size
    if min(ka, kb) < 2:
        return _undefined(kind, confidence, n, "fewer than 2 prompts in a group: no interval")
    key_a, key_b = _keys if paired and _cache is not None and _keys else (None, None)
    cache = _cache or BootCache()
    ma, mb = cache.median(key_a, x), cache.median(key_b, y)
    if mb <= 0 or ma < 0:
        return _undefined(kind, confidence, n, "ratio of medians needs positive values")
    est = ma / mb
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return _constant(kind, confidence, n, est, "no spread in either group")
    B = n_resamples or default_resamples(max(x.size, y.size))
    if paired and _cache is None and large_sample.is_large(ka):  # one pair alone: both medians from one joint draw
        boot_a, boot_b = multiplier_quantiles([(x, ca), (y, cb)], ka, 0.5,
                                              lambda z: large_sample.group_draws(z, seed, B))
    elif paired:  # one seeded index matrix over the shared prompts: both models draw the same prompts
        boot_a = cache.medians(key_a, x, B, seed, (ca, ka))
        boot_b = cache.medians(key_b, y, B, seed, (cb, kb))
    else:
        rng = np.random.default_rng(seed)
        boot_a = _cluster_boot(x, ca, ka, [0.5], rng, B)[0]
        boot_b = _cluster_boot(y, cb, kb, [0.5], rng, B)[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # zero medians: no interval
        theta_b = boot_a / boot_b
    note = f"resampled {ka} prompts with their repeats" + (" (the same prompts for both)" if paired else "")
    if large_sample.is_large(max(ka, kb)):  # either group (unpaired: the other may be resampled by counts)
        kind, note = large_sample.METHOD, large_sample.note(max(ka, kb), paired)
    return _finish_bootstrap(est, theta_b, None, method="percentile", confidence=confidence, n=n, n_resamples=B,
                             seed=seed, note=note, name=kind)


def _prompt_codes(a: object, prompts_a: object, b: object, prompts_b: object,
                  paired: bool) -> tuple[tuple[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray, int]]:
    """Finite values with integer prompt codes: sorted prompt labels, so the codes (and a seeded
    resample) do not depend on row order; paired: one code book, and both must hold every prompt."""
    out = []
    for v, c in ((a, prompts_a), (b, prompts_b)):
        x, labels = np.asarray(v, dtype=float).ravel(), np.asarray(c).ravel()
        if labels.size != x.size:
            raise ValueError(f"values ({x.size}) and prompts ({labels.size}) must have the same length")
        keep = np.isfinite(x)
        out.append((x[keep], labels[keep]))
    (x, la), (y, lb) = out
    if not paired:
        (_, ca), (_, cb) = unique_inverse(la), unique_inverse(lb)
        return (x, ca, int(ca.max(initial=-1)) + 1), (y, cb, int(cb.max(initial=-1)) + 1)
    book, codes = unique_inverse(np.concatenate([la, lb]))
    ca, cb, k = codes[: la.size], codes[la.size:], book.size
    if np.bincount(ca, minlength=k).min(initial=1) == 0 or np.bincount(cb, minlength=k).min(initial=1) == 0:
        raise ValueError("paired: both groups must hold values for the same prompts")
    return (x, ca, k), (y, cb, k)
