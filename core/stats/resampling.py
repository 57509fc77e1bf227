"""The bootstrap engine: seeded index and count matrices (drawn once per (seed, n, B) and
reused), resampled quantiles from sorted ranks, jackknife and BCa levels, and the step that
turns a bootstrap distribution into an Interval."""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from core.stats.basics import Interval, _join, finite_or_none


_MAX_BLOCK = 4_000_000  # resample matrix elements held in memory at once


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """numpy's own linear interpolation (bit-identical to numpy.percentile 'linear')."""
    a, b, t = np.asarray(a, float), np.asarray(b, float), np.asarray(t, float)
    diff = b - a
    out = a + diff * t
    return np.where(t >= 0.5, b - diff * (1 - t), out)


def _index_blocks(rng: np.random.Generator, n: int, n_resamples: int) -> Iterator[np.ndarray]:
    """Rows of rng.integers(0, n, (B, n)) in memory-bounded blocks (same stream as one call)."""
    rows = max(1, _MAX_BLOCK // max(n, 1))
    for start in range(0, n_resamples, rows):
        yield rng.integers(0, n, (min(rows, n_resamples - start), n))


_SEEDED_CACHE_MAX = 4_000_000  # index-matrix elements kept per cached (seed, n, B) draw


@functools.lru_cache(maxsize=8)
def _cached_blocks(seed: int, n: int, n_resamples: int, max_block: int) -> tuple[np.ndarray, ...]:
    blocks = []
    for b in _index_blocks(np.random.default_rng(seed), n, n_resamples):
        b = b.astype(np.int32) if n < 2**31 else b
        b.flags.writeable = False
        blocks.append(b)
    return tuple(blocks)


def _seeded_blocks(seed: int, n: int, n_resamples: int) -> Iterator[np.ndarray]:
    """_index_blocks(default_rng(seed), n, B), reused across calls for small draws.

    A summary resamples the same number of prompts with the same seed many times (latency,
    TTFT, the joint means, every model with the same prompts): the index matrix depends only
    on (seed, n, B), so drawing it once is exactly what each fresh draw would give.
    """
    if n * n_resamples > _SEEDED_CACHE_MAX:
        return _index_blocks(np.random.default_rng(seed), n, n_resamples)
    return iter(_cached_blocks(seed, n, n_resamples, _MAX_BLOCK))


_COUNTS_CACHE_MAX = 2_000_000  # count-matrix elements (float64) kept per cached draw


@functools.lru_cache(maxsize=4)
def _cached_counts(seed: int, k: int, n_resamples: int, max_block: int) -> np.ndarray:
    counts = np.concatenate([_counts(idx, k) for idx in _cached_blocks(seed, k, n_resamples, max_block)])
    counts.flags.writeable = False
    return counts


def _counts(idx: np.ndarray, k: int) -> np.ndarray:
    """(rows, k) float matrix: how often each cluster was drawn in each resample."""
    rows = idx.shape[0]
    flat = (idx + (np.arange(rows) * k)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * k).reshape(rows, k).astype(float)


def _counts_cached(k: int, n_resamples: int) -> bool:
    return k * n_resamples <= min(_COUNTS_CACHE_MAX, _SEEDED_CACHE_MAX)


_COMPACT_COUNTS_MAX = 40_000_000  # count-matrix elements kept as uint8 (40 MB) per cached draw: 33,334 prompts x 1,000


@functools.lru_cache(maxsize=2)
def _compact_counts(seed: int, k: int, n_resamples: int, max_block: int) -> tuple[np.ndarray, ...] | None:
    """The count matrix of a larger draw as uint8 blocks (None if a count exceeds 255).

    Every model of a run resamples the same number of prompts with the same seed, so the
    draw (the slow part: random indices and their counts) is made once per (seed, k, B)
    and each use only widens a block to float: the same numbers as a fresh draw."""
    blocks = []
    for idx in _index_blocks(np.random.default_rng(seed), k, n_resamples):
        c = _counts(idx, k)
        if c.size and c.max() > 255:
            return None
        c = c.astype(np.uint8)
        c.flags.writeable = False
        blocks.append(c)
    return tuple(blocks)


def _seeded_counts(seed: int, k: int, n_resamples: int) -> Iterator[np.ndarray]:
    """Draw counts of each cluster per resample, in blocks; cached like _seeded_blocks."""
    if _counts_cached(k, n_resamples):
        return iter([_cached_counts(seed, k, n_resamples, _MAX_BLOCK)])
    if k * n_resamples <= _COMPACT_COUNTS_MAX:
        cached = _cached_counts64(seed, k, n_resamples, _MAX_BLOCK)
        if cached is not None:
            return iter(cached)
    return (_counts(idx, k) for idx in _seeded_blocks(seed, k, n_resamples))


@functools.lru_cache(maxsize=1)
def _cached_counts64(seed: int, k: int, n_resamples: int, max_block: int) -> tuple[np.ndarray, ...] | None:
    """The latest large draw's counts as float64 blocks (k x B x 8 bytes: 267 MB for 33,334 prompts
    x 1,000), kept: every model's joint bootstrap of its means and its resampled means multiply
    them by float64 sums, and widening the uint8 draw again for each took longer than the product."""
    compact = _compact_counts(seed, k, n_resamples, max_block)
    if compact is None:
        return None
    blocks = tuple(c.astype(float) for c in compact)
    for b in blocks:
        b.flags.writeable = False
    return blocks


@functools.lru_cache(maxsize=1)
def _cached_counts32(seed: int, k: int, n_resamples: int, max_block: int) -> tuple[np.ndarray, ...] | None:
    compact = _compact_counts(seed, k, n_resamples, max_block)
    if compact is None:
        return None
    blocks = tuple(c.astype(np.float32) for c in compact)
    for b in blocks:
        b.flags.writeable = False
    return blocks


def _seeded_counts32(seed: int, k: int, n_resamples: int) -> Iterator[np.ndarray]:
    """_seeded_counts as float32 blocks (exact: counts are small integers), the latest large draw
    kept (k x B x 4 bytes: 133 MB for 33,334 prompts x 1,000), since every model of a run and
    every comparison of a pair resamples the same prompts with the same seed."""
    if k * n_resamples <= _COMPACT_COUNTS_MAX:
        cached = _cached_counts32(seed, k, n_resamples, _MAX_BLOCK)
        if cached is not None:
            return iter(cached)
    return (c.astype(np.float32) for c in _seeded_counts(seed, k, n_resamples))


def _positions(n: int, q: float) -> tuple[int, int, float]:
    h = (n - 1) * q
    lo = int(math.floor(h))
    return lo, min(lo + 1, n - 1), h - lo


def _resampled_quantiles(x: np.ndarray, qs: Sequence[float], idx_blocks: Iterator[np.ndarray]) -> np.ndarray:
    """Quantiles of each resample x[idx] -> array (len(qs), B), via partition of ranks."""
    xs, rank = _sorted_ranks(x)
    pos = [_positions(x.size, q) for q in qs]
    kth = sorted({k for lo, hi, _ in pos for k in (lo, hi)})
    out = []
    for idx in idx_blocks:
        part = _order_statistics(np.take(rank, idx), kth)
        out.append(np.stack([_lerp(xs[part[:, lo]], xs[part[:, hi]], g) for lo, hi, g in pos]))
    return np.concatenate(out, axis=1)


def _sorted_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and each value's position in them, as the narrowest integer type:
    order statistics of a resample are then those of its ranks (cheaper to select)."""
    order = np.argsort(x, kind="stable")
    dtype = np.int16 if x.size < 2**15 else np.int32 if x.size < 2**31 else np.int64
    rank = np.empty(x.size, dtype=dtype)
    rank[order] = np.arange(x.size, dtype=dtype)
    return x[order], rank


def _order_statistics(rows: np.ndarray, kth: Sequence[int]) -> np.ndarray:
    """Rows with the kth order statistics in place: a full sort for 16-bit ranks (numpy's
    radix sort beats even a one-kth partition, about 3x), else partition for one or two kth
    and a SIMD sort for more."""
    if len(kth) <= 2 and rows.dtype.itemsize > 2:
        return np.partition(rows, kth, axis=1)
    return _sort_rows(rows)


def _sort_rows(rows: np.ndarray) -> np.ndarray:
    """Sort each row; 'stable' selects numpy's radix sort for 16-bit ranks (about 3x faster)."""
    return np.sort(rows, axis=1, kind="stable" if rows.dtype.itemsize <= 2 else "quicksort")


def _jackknife_quantile(x: np.ndarray, q: float) -> np.ndarray:
    """Leave-one-out quantile for each observation (in the order of x), in O(n log n)."""
    n = x.size
    order = np.argsort(x, kind="stable")
    xs = x[order]
    lo, hi, g = _positions(n - 1, q)
    i = np.arange(n)
    a = np.where(lo < i, xs[lo], xs[lo + 1])
    b = np.where(hi < i, xs[hi], xs[min(hi + 1, n - 1)])
    out = np.empty(n)
    out[order] = _lerp(a, b, g)
    return out


def _bca_levels(theta_b: np.ndarray, theta_hat: float, jackknives: Sequence[np.ndarray], alpha: float) -> tuple[float, float] | None:
    """BCa percentile levels (Efron & Tibshirani 1993, 14.3), as scipy computes them."""
    B = theta_b.size
    pct = (np.count_nonzero(theta_b < theta_hat) + np.count_nonzero(theta_b <= theta_hat)) / (2 * B)
    if not 0 < pct < 1:
        return None
    z0 = float(ndtri(pct))
    num = den = np.float64(0.0)
    with np.errstate(all="ignore"):  # extreme values: overflow/underflow -> undefined, below
        for th in jackknives:
            nj = float(th.size)
            u = (nj - 1) * (th.mean() - th)
            num += np.sum(u**3) / nj**3
            den += np.sum(u**2) / nj**2
        scale = 6 * den**1.5
    if not (scale > 0 and np.isfinite(scale) and np.isfinite(num)):
        return None
    a = float(num / scale)
    z = float(ndtri(alpha))
    levels = (ndtr(z0 + (z0 + z) / (1 - a * (z0 + z))), ndtr(z0 + (z0 - z) / (1 - a * (z0 - z))))
    if not all(np.isfinite(levels)):
        return None
    return float(levels[0]), float(levels[1])


def _finish_bootstrap(
    estimate: float,
    theta_b: np.ndarray,
    jackknives: Sequence[np.ndarray] | None,
    *,
    method: str,
    confidence: float,
    n: int,
    n_resamples: int,
    seed: int,
    note: str = "",
    name: str = "percentile-bootstrap",
) -> Interval:
    """Turn a bootstrap distribution into a BCa (or percentile) Interval."""
    alpha = (1 - confidence) / 2
    levels: tuple[float, float] | None = (alpha, 1 - alpha)
    if method.lower() == "bca" and jackknives is not None:
        bca = _bca_levels(theta_b, estimate, jackknives, alpha)
        if bca is None:
            note = _join(note, "BCa undefined for these data (constant jackknife or one-sided bootstrap distribution): percentile interval")
        else:
            levels, name = bca, "bca-bootstrap"
    finite = theta_b[np.isfinite(theta_b)]
    if finite.size < theta_b.size:
        return Interval(finite_or_none(estimate), None, None, name, confidence, n, n_resamples, seed, _join(note, "non-finite bootstrap statistics (zero denominator?): no interval"))
    low, high = np.quantile(theta_b, levels)
    return Interval(finite_or_none(estimate), finite_or_none(low), finite_or_none(high), name, confidence, n, n_resamples, seed, note)
