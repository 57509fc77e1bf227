"""Large-sample intervals: from LARGE_CLUSTERS prompts on, a multiplier bootstrap over prompts.

Resampling prompts costs a (B x k) draw of counts and, for a quantile, an order statistic of
every resample: seconds to a minute per model on a run of 33,334 prompts x 3 repeats. From
LARGE_CLUSTERS prompts the central limit theorem over prompts is exact enough that the
intervals come instead from the statistic's first-order (linear) approximation, resampled by a
Gaussian multiplier (wild) bootstrap over prompts:

- a mean or a ratio of two totals (tokens per second): its resampled value is
  (T + sum_c w_c (t_c - mean t)) / (N + sum_c w_c (n_c - mean n)), t_c and n_c the prompt's
  total and count, w_c ~ N(0, 1) one weight per prompt and resample; the variance is the
  with-replacement bootstrap's;
- a quantile q (Woodruff 1952): the share of values at or below the sample quantile is a mean
  of per-prompt counts, resampled as above (p* = q + sum_c w_c (u_c - p n_c) / N), and mapped
  back through the sample's quantile function (numpy's linear interpolation).

With Gaussian weights, w @ Z (Z the k x c centred per-prompt columns) is exactly normal with
covariance Z'Z, so the statistics of one group are drawn from that c-dimensional normal
(`group_draws`: no k-wide weights at all). Statistics of two models that must be resampled
together (a paired ratio of medians: the same prompts for both) share one (B x k) weight
matrix per (seed, prompts, resamples) instead (`weights`, `multiplier_stats`). Percentile
intervals. Checked against the cluster bootstrap at 6,000 prompts and for coverage by
simulation (tests/test_large_sample.py).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

LARGE_CLUSTERS = 5_000  # prompts (clusters; single runs: observations) from which intervals use this module
METHOD = "multiplier-bootstrap"


def is_large(k: int) -> bool:
    """Whether k prompts (or independent observations) take the large-sample path."""
    return k >= LARGE_CLUSTERS


def note(k: int, paired: bool = False) -> str:
    both = " (the same weights for both models)" if paired else ""
    return (f"large sample: Gaussian multiplier bootstrap over {k:,} prompts{both} (quantiles by "
            "Woodruff's method)")


@functools.lru_cache(maxsize=2)
def _cached_weights(seed: int, k: int, n_resamples: int) -> np.ndarray:
    w = np.random.default_rng(seed).standard_normal((n_resamples, k), dtype=np.float32)
    w.flags.writeable = False
    return w


def weights(rng: np.random.Generator | int, k: int, n_resamples: int) -> np.ndarray:
    """(B, k) Gaussian weights: from a seed, drawn once and kept (every model on the same
    prompts shares them, so their statistics are resampled together); from a Generator, a
    fresh draw from it (independent groups)."""
    if isinstance(rng, np.random.Generator):
        return rng.standard_normal((n_resamples, k), dtype=np.float32)
    return _cached_weights(int(rng), k, n_resamples)


def group_draws(columns: np.ndarray, rng: np.random.Generator | int, n_resamples: int, *,
                copies: Mapping[int, int] | None = None) -> np.ndarray:
    """(B, c) resampled column totals of ONE group from its per-prompt totals (k, c): the
    Gaussian multiplier draws w @ Z drawn from their exact distribution N(0, Z'Z) (c numbers per
    resample instead of k). Not shared with other groups: use weights() when two groups'
    statistics must be resampled together. copies: {column: an earlier column the caller knows
    it equals}, spared the comparison (the draws are the same with or without it)."""
    columns = np.asarray(columns, dtype=float)
    totals = columns.sum(axis=0)
    # identical columns (the counts of columns missing on the same rows) enter the product once
    kept, where = _identical_columns(columns, totals, copies or {})
    centred = columns[:, kept]  # a copy: centred in place
    centred -= centred.mean(axis=0)
    root = _root(centred.T @ centred)
    g = (rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)).standard_normal((n_resamples, len(kept)))
    return totals + (g @ root.T)[:, where]


def _identical_columns(columns: np.ndarray, totals: np.ndarray, copies: Mapping[int, int]) -> tuple[list[int], np.ndarray]:
    """(kept, where): the first column of each set of bit-for-bit identical columns, in column
    order, and each column's position among the kept ones.

    Identical columns have identical totals (the same additions on the same numbers), so only
    columns whose totals match are compared in full: no copy of every column to hash it. A
    column in `copies` equals an earlier one, so it joins that one's set without a comparison."""
    kept: list[int] = []
    by_total: dict[int, list[int]] = {}  # a total's bits -> the kept columns with that total
    where = np.empty(columns.shape[1], dtype=int)
    bits = totals.view(np.int64)  # bits, not values: NaN totals match, -0.0 and 0.0 do not
    for j in range(columns.shape[1]):
        if j in copies:
            where[j] = where[copies[j]]
            continue
        candidates = by_total.setdefault(int(bits[j]), [])
        match = next((i for i in candidates if _same_bits(columns[:, kept[i]], columns[:, j])), None)
        if match is None:
            match = len(kept)
            kept.append(j)
            candidates.append(match)
        where[j] = match
    return kept, where


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two float columns hold the same bytes (as tobytes() equality would say)."""
    return bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def _root(cov: np.ndarray) -> np.ndarray:
    """A square root L (L L' = cov) of a covariance matrix that may be singular (identical or
    constant columns): Cholesky of the correlation matrix with a 1e-10 ridge, scaled back, so a
    column without variance draws exactly its total. (Cholesky, not an eigendecomposition: a
    multithreaded eigensolver takes 100x longer on a busy machine.)"""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    live = sd > 0
    root = np.zeros_like(cov)
    if live.any():
        s = sd[live]
        corr = cov[np.ix_(live, live)] / np.outer(s, s)
        try:
            low = np.linalg.cholesky(corr + 1e-10 * np.eye(s.size))
        except np.linalg.LinAlgError:
            vals, vecs = np.linalg.eigh(corr)
            low = vecs * np.sqrt(np.clip(vals, 0.0, None))
        root[np.ix_(live, live)] = s[:, None] * low
    return root


def multiplier_totals(columns: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, c) resampled column totals from per-prompt totals `columns` (k, c) and weights w (B, k)."""
    columns = np.asarray(columns, dtype=float)
    centred = (columns - columns.mean(axis=0)).astype(np.float32)
    return columns.sum(axis=0) + (w @ centred).astype(float)


def _quantile_at(xs: np.ndarray, p: np.ndarray) -> np.ndarray:
    """numpy.quantile(xs, p) of sorted xs with linear interpolation, for many p at once."""
    h = (xs.size - 1) * np.clip(p, 0.0, 1.0)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, xs.size - 1)
    t = h - lo
    a, b = xs[lo], xs[hi]
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def linearised_share(x: np.ndarray, xs: np.ndarray, codes: np.ndarray, k: int, q: float,
                     sizes: np.ndarray | None = None) -> np.ndarray:
    """Woodruff's column for the q quantile of x (xs: x sorted): per prompt, its values at or
    below the sample quantile minus its share of them (u_c - p n_c); sums to zero."""
    sizes = np.bincount(codes, minlength=k).astype(float) if sizes is None else sizes
    qhat = _quantile_at(xs, np.array([q]))[0]
    below = np.bincount(codes, weights=(x <= qhat).astype(float), minlength=k)
    return below - below.sum() / x.size * sizes


def multiplier_stats(x: np.ndarray, codes: np.ndarray, k: int, stats_q: Sequence[float | None],
                     w: np.ndarray | None, *, rng: np.random.Generator | int = 0, n_resamples: int = 0,
                     xs: np.ndarray | None = None) -> np.ndarray:
    """(len(stats_q), B) resampled statistics of x (None: the mean; q: the q quantile), prompts
    `codes` (0..k-1): with the shared weights `w` (B, k), or, w None, drawn for this group alone
    (group_draws with rng and n_resamples). xs: x sorted, when the caller sorted it already."""
    n = x.size
    sizes = np.bincount(codes, minlength=k).astype(float)
    xs = np.sort(x) if xs is None else xs
    cols, rows = [sizes], []
    for q in stats_q:
        if q is None:
            cols.append(np.bincount(codes, weights=x, minlength=k))
        else:
            cols.append(linearised_share(x, xs, codes, k, q, sizes))
    z = np.column_stack(cols)
    drawn = multiplier_totals(z, w) if w is not None else group_draws(z, rng, n_resamples)  # (B, 1 + len(stats_q))
    count = drawn[:, 0]
    for j, q in enumerate(stats_q, start=1):
        if q is None:
            rows.append(drawn[:, j] / count)
        else:
            rows.append(_quantile_at(xs, q + drawn[:, j] / n))
    return np.stack(rows) if rows else np.zeros((0, drawn.shape[0]))
