"""Large-sample intervals: from LARGE_CLUSTERS prompts on, a multiplier bootstrap over prompts.

Resampling prompts costs a (B x k) draw of counts and, for a quantile, an order statistic of
every resample: seconds to a minute per model on a run of 33,334 prompts x 3 repeats. From
LARGE_CLUSTERS prompts the central limit theorem over prompts is exact enough that the
intervals come instead from the same statistic's first-order (linear) approximation:

- a mean or a ratio of two totals (tokens per second): its resampled value is
  (T + sum_c w_c (t_c - mean t)) / (N + sum_c w_c (n_c - mean n)), t_c and n_c the prompt's
  total and count, w_c a Rademacher weight (+1 or -1, one per prompt and resample): a
  multiplier (wild) bootstrap, whose variance is the with-replacement bootstrap's;
- a quantile q (Woodruff 1952): the share of values at or below the sample quantile is a mean
  of per-prompt counts, resampled as above (p* = q + sum_c w_c (u_c - p n_c) / N), and mapped
  back through the sample's quantile function (numpy's linear interpolation).

One weight matrix per (seed, prompts, resamples) serves every column, every quantile and every
model on the same prompts, so paired comparisons (the same prompts for both models) and ratios
of several means are resampled jointly, as with the count matrix. Percentile intervals.
Checked against the cluster bootstrap at 5,000-10,000 prompts (tests/test_large_sample.py).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

LARGE_CLUSTERS = 5_000  # prompts (clusters; single runs: observations) from which intervals use this module
METHOD = "multiplier-bootstrap"


def is_large(k: int) -> bool:
    """Whether k prompts (or independent observations) take the large-sample path."""
    return k >= LARGE_CLUSTERS


def note(k: int, paired: bool = False) -> str:
    both = " (the same weights for both models)" if paired else ""
    return (f"large sample: multiplier bootstrap over {k:,} prompts{both} (Rademacher weights; "
            "quantiles by Woodruff's method)")


# each byte's 8 bits (most significant first, as numpy.unpackbits) as weights -1.0 / +1.0
_BYTE_SIGNS = (np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) * 2 - 1)


def _signs(rng: np.random.Generator, k: int, n_resamples: int) -> np.ndarray:
    """(B, k) Rademacher weights from random bytes, one bit each (a lookup of 8 weights per byte)."""
    raw = rng.integers(0, 256, (n_resamples, -(-k // 8)), dtype=np.uint8)
    return _BYTE_SIGNS[raw].reshape(n_resamples, -1)  # k rounded up to whole bytes: the spare columns weigh nothing


@functools.lru_cache(maxsize=2)
def _cached_signs(seed: int, k: int, n_resamples: int) -> np.ndarray:
    w = _signs(np.random.default_rng(seed), k, n_resamples)
    w.flags.writeable = False
    return w


def weights(rng: np.random.Generator | int, k: int, n_resamples: int) -> np.ndarray:
    """(B, k rounded up to a multiple of 8) Rademacher weights (the columns past k are unused): from a seed, drawn once and kept (every model and column on
    the same prompts shares them); from a Generator, a fresh draw from it (independent groups)."""
    if isinstance(rng, np.random.Generator):
        return _signs(rng, k, n_resamples)
    return _cached_signs(int(rng), k, n_resamples)


def multiplier_totals(columns: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, c) resampled column totals from per-prompt totals `columns` (k, c); w: (B, >= k)."""
    columns = np.asarray(columns, dtype=float)
    if columns.shape[0] == 0:
        return np.zeros((w.shape[0], columns.shape[1]))
    centred = np.zeros((w.shape[1], columns.shape[1]), dtype=np.float32)  # rows past k: zero (unused weights)
    centred[: columns.shape[0]] = columns - columns.mean(axis=0)
    return columns.sum(axis=0) + (w @ centred).astype(float)


def _quantile_at(xs: np.ndarray, p: np.ndarray) -> np.ndarray:
    """numpy.quantile(xs, p) of sorted xs with linear interpolation, for many p at once."""
    h = (xs.size - 1) * np.clip(p, 0.0, 1.0)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, xs.size - 1)
    t = h - lo
    a, b = xs[lo], xs[hi]
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def multiplier_stats(x: np.ndarray, codes: np.ndarray, k: int, stats_q: Sequence[float | None],
                     w: np.ndarray, xs: np.ndarray | None = None) -> np.ndarray:
    """(len(stats_q), B) resampled statistics of x (None: the mean; q: the q quantile), prompts
    `codes` (0..k-1), weights `w` (B, >= k). xs: x sorted, when the caller has it."""
    n = x.size
    sizes = np.bincount(codes, minlength=k).astype(float)
    xs = np.sort(x) if xs is None else xs
    cols, rows = [sizes], []
    for q in stats_q:
        if q is None:
            cols.append(np.bincount(codes, weights=x, minlength=k))
        else:
            qhat = _quantile_at(xs, np.array([q]))[0]
            below = np.bincount(codes, weights=(x <= qhat).astype(float), minlength=k)
            cols.append(below - below.sum() / n * sizes)  # linearised share at or below the quantile
    drawn = multiplier_totals(np.column_stack(cols), w)  # (B, 1 + len(stats_q))
    count = drawn[:, 0]
    for j, q in enumerate(stats_q, start=1):
        if q is None:
            rows.append(drawn[:, j] / count)
        else:
            rows.append(_quantile_at(xs, q + drawn[:, j] / n))
    return np.stack(rows) if rows else np.zeros((0, w.shape[0]))
