"""Cluster bootstrap: resample prompts with all their repeats (mean and quantiles computed
exactly as numpy on the expanded resample: padded sort for equal or nearly equal repeat
counts, weighted order statistics otherwise)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.stats.basics import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval, _check_confidence, _constant, _undefined, default_resamples
from core.stats.cluster_codes import factorize_labels, has_repeats
import core.stats.large_sample as large_sample
from core.stats.resampling import (
    _counts,
    _counts_cached,
    _finish_bootstrap,
    _index_blocks,
    _lerp,
    _seeded_blocks,
    _seeded_counts,
    _seeded_counts32,
    _sort_rows,
    _sorted_ranks,
)
from core.stats.windowed_quantiles import WINDOW_MIN_N, windowed_cluster_stats


def _has_repeats(clusters: np.ndarray) -> bool:
    return has_repeats(clusters)


def _parse_statistic(statistic: str | float) -> float | None:
    """None for the mean, else a quantile fraction ('median' -> 0.5, 'p90' -> 0.9, 0.9 -> 0.9)."""
    if isinstance(statistic, str):
        s = statistic.lower()
        if s == "mean":
            return None
        if s == "median":
            return 0.5
        if s.startswith("p"):
            return float(s[1:]) / 100
        raise ValueError(f"unknown statistic {statistic!r}: use 'mean', 'median', 'p90' or a fraction like 0.9")
    q = float(statistic)
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be a fraction in [0, 1] (got {q})")
    return q


_PAD_LIMIT = 1.5  # pad unequal clusters to the largest when that adds at most 50% more slots


def _cluster_boot(
    x: np.ndarray, codes: np.ndarray, k: int, stats_q: Sequence[float | None],
    rng: np.random.Generator | int, B: int,
) -> np.ndarray:
    """Bootstrap distributions (len(stats_q), B) resampling clusters with all their values.

    rng: a Generator, or a seed (then the index matrix may be shared with other calls).
    Equal clusters, or unequal ones that pad cheaply to the largest (a few failed repeats),
    expand each resample and sort ranks; otherwise weighted order statistics. From WINDOW_MIN_N
    values, quantiles come from core.stats.windowed_quantiles: the same numbers, faster.
    """
    if large_sample.is_large(k):  # the multiplier bootstrap (core.stats.large_sample); a seed: shared weights
        return large_sample.multiplier_stats(x, codes, k, stats_q, large_sample.weights(rng, k, B))
    sums = np.bincount(codes, weights=x, minlength=k)
    sizes = np.bincount(codes, minlength=k)
    xs, rank = _sorted_ranks(x)
    s_max = int(sizes.max())
    quantiles = any(q is not None for q in stats_q)
    seeded = not isinstance(rng, np.random.Generator)
    if quantiles and x.size >= WINDOW_MIN_N:  # the same draws and order statistics, located in a window
        cs = np.empty_like(codes)
        cs[rank] = codes
        counts = (_seeded_counts32(int(rng), k, B) if seeded
                  else (_counts(idx, k).astype(np.float32) for idx in _index_blocks(rng, k, B)))  # type: ignore[arg-type]
        # the mean: the same draw kept as float64 (block for block, as the float32 one, unless the draw is small)
        wide = _seeded_counts(int(rng), k, B) if seeded and None in stats_q and not _counts_cached(k, B) else None
        return windowed_cluster_stats(xs, cs, sums, sizes, counts, stats_q, wide)
    padded = quantiles and k * s_max <= _PAD_LIMIT * x.size
    expand = padded or not quantiles  # the mean alone needs only sums and sizes, not the members
    members = _padded_members(rank, codes, sizes, k, s_max) if padded else None
    cs = None
    if not expand:  # each sorted value's cluster (rank is the inverse of the sorting permutation)
        cs = np.empty_like(codes)
        cs[rank] = codes
    blocks = _seeded_blocks(int(rng), k, B) if seeded else _index_blocks(rng, k, B)  # type: ignore[arg-type]
    drawn = None  # (B, 2): each resample's total and count, from the cached count matrix
    if seeded and expand and _counts_cached(k, B):
        drawn = next(_seeded_counts(int(rng), k, B)) @ np.column_stack([sums, sizes.astype(float)])
    out, start = [], 0
    for idx in blocks:
        if expand:
            d = None if drawn is None else drawn[start:start + idx.shape[0]]
            out.append(_padded_cluster_stats(xs, members, sums, sizes, idx, stats_q, d))
        else:
            out.append(_weighted_cluster_stats(xs, cs, sums, sizes, idx, stats_q))  # type: ignore[arg-type]
        start += idx.shape[0]
    return np.concatenate(out, axis=1)


def _padded_members(rank: np.ndarray, codes: np.ndarray, sizes: np.ndarray, k: int, s_max: int) -> np.ndarray:
    """(k, s_max) ranks of each cluster's values, padded with n (sorts after every value)."""
    n = rank.size
    by_cluster = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot = np.arange(n) - np.repeat(starts, sizes)
    members = np.full((k, s_max), n, dtype=rank.dtype)
    members[codes[by_cluster], slot] = rank[by_cluster]
    return members


def _padded_cluster_stats(
    xs: np.ndarray, members: np.ndarray | None, sums: np.ndarray, sizes: np.ndarray, idx: np.ndarray,
    stats_q: Sequence[float | None], drawn: np.ndarray | None = None,
) -> np.ndarray:
    """Each resample's values (padding sorts last), sorted; order statistics at each row's own
    size with numpy.percentile's linear interpolation. drawn: (rows, 2) resample sums and
    sizes when already known. members: None when stats_q holds only means."""
    rows = idx.shape[0]
    if drawn is None:
        tsum, total = np.take(sums, idx).sum(axis=1), np.take(sizes, idx).sum(axis=1)
    else:
        tsum, total = drawn[:, 0], np.rint(drawn[:, 1]).astype(np.int64)
    res = []
    srt = None
    r = np.arange(rows)
    for q in stats_q:
        if q is None:
            res.append(tsum / total)
            continue
        if srt is None:
            srt = _sort_rows(np.take(members, idx, axis=0).reshape(rows, -1))  # take: ~3x faster than fancy indexing
        h = (total - 1) * q
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, total - 1)
        res.append(_lerp(xs[srt[r, lo]], xs[srt[r, hi]], h - lo))
    return np.stack(res)


_WEIGHT_BLOCK = 64  # sorted values per block when locating weighted order statistics


def _weighted_cluster_stats(
    xs: np.ndarray, cs: np.ndarray, sums: np.ndarray, sizes: np.ndarray, idx: np.ndarray, stats_q: Sequence[float | None]
) -> np.ndarray:
    """Unequal clusters: each value weighted by how often its cluster was drawn; weighted
    order statistics located by cumulative weights (same interpolation as numpy.percentile)."""
    rows, k = idx.shape
    # one spare all-zero column: _weighted_position reads it for positions past the last value
    padded = np.bincount((idx + (np.arange(rows) * (k + 1))[:, None]).ravel(), minlength=rows * (k + 1)).reshape(rows, k + 1)
    counts = padded[:, :k]
    weights = counts.astype(float)  # exact: small integers; float for BLAS products
    res: list[np.ndarray | None] = []
    quantiles = [q for q in stats_q if q is not None]
    if quantiles:
        blocks = _block_weights(weights, cs)
        total = blocks[:, -1]
        h = (total - 1) * np.asarray(quantiles)[:, None]  # (quantiles, rows)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, total - 1)
        at = _weighted_position(padded, cs, blocks, np.concatenate([lo, hi]))
        at_lo, at_hi = at[: len(quantiles)], at[len(quantiles):]
        values = iter(_lerp(xs[at_lo], xs[at_hi], h - lo))
    for q in stats_q:
        if q is None:
            drawn = weights @ np.column_stack([sums, sizes])
            res.append(drawn[:, 0] / drawn[:, 1])
        else:
            res.append(next(values))
    return np.stack(res)


def _block_weights(weights: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """Cumulative weight at the end of each block of sorted values, per resample (rows x blocks):
    the count matrix times a (clusters x blocks) membership matrix, instead of a cumulative
    sum over every value of every resample."""
    n, k = cs.size, weights.shape[1]
    nb = -(-n // _WEIGHT_BLOCK)
    member = np.zeros((k, nb))
    np.add.at(member, (cs, np.arange(n) // _WEIGHT_BLOCK), 1.0)
    return np.rint(np.cumsum(weights @ member, axis=1)).astype(np.int64)


def _weighted_position(padded: np.ndarray, cs: np.ndarray, blocks: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each target (T x rows) of each resample, the first sorted position whose cumulative
    weight exceeds it (searchsorted side='right' on the cumulative weights): find the block,
    then the place in it. `padded`: the counts with a trailing all-zero column."""
    rows, width = padded.shape
    n = cs.size
    blk = (blocks[None, :, :] > target[:, :, None]).argmax(axis=2).astype(np.int32)
    r = np.arange(rows, dtype=np.int32)
    before = np.where(blk > 0, blocks[r, np.maximum(blk - 1, 0)], 0)
    cs_padded = np.concatenate([cs, np.full(_WEIGHT_BLOCK, width - 1)]).astype(np.int32)  # past the end: zero weight
    cols = blk[..., None] * np.int32(_WEIGHT_BLOCK) + np.arange(_WEIGHT_BLOCK, dtype=np.int32)
    idx = cs_padded[cols]
    idx += (r * np.int32(width))[:, None]  # int32 is enough: a block holds at most _MAX_BLOCK (+ rows) counts
    w = padded.ravel()[idx]
    within = (before[..., None] + np.cumsum(w, axis=-1) > target[..., None]).argmax(axis=-1)
    return blk * _WEIGHT_BLOCK + within


def _cluster_inputs(values: object, clusters: object) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(values, dtype=float).ravel()
    c = np.asarray(clusters).ravel()
    if c.size != x.size:
        raise ValueError(f"values ({x.size}) and clusters ({c.size}) must have the same length")
    keep = np.isfinite(x)
    codes, k = factorize_labels(c[keep])
    return x[keep], codes, k


def cluster_bootstrap_ci(
    values: object,
    clusters: object,
    statistic: str | float = "mean",
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile interval resampling clusters (prompts) with all their values.

    statistic: 'mean', 'median', 'p90'-style or a quantile fraction.
    """
    return _cluster_intervals(values, clusters, [statistic], confidence, n_resamples, seed)[0]


def _point_estimates(x: np.ndarray, xs: np.ndarray | None, qs: Sequence[float | None]) -> list[float]:
    """The sample mean and quantiles (numpy.percentile, linear) of x. The quantiles come from x
    sorted once (xs), in one call: the same numbers as one numpy.percentile(x, q * 100) per q
    (the same order statistics and interpolation), without partitioning x again for each q."""
    quantiles = [q * 100 for q in qs if q is not None]
    at = iter(np.percentile(xs, quantiles)) if quantiles else iter(())
    return [float(x.mean()) if q is None else float(next(at)) for q in qs]


def _cluster_intervals(
    values: object, clusters: object, statistics: Sequence[str | float], confidence: float, n_resamples: int | None, seed: int
) -> tuple[Interval, ...]:
    _check_confidence(confidence)
    x, codes, k = _cluster_inputs(values, clusters)
    qs = [_parse_statistic(s) for s in statistics]
    xs = np.sort(x) if any(q is not None for q in qs) else None
    ests = _point_estimates(x, xs, qs) if x.size else []
    m = "cluster-bootstrap"
    if x.size == 0:
        return tuple(_undefined(m, confidence, 0, "no data") for _ in qs)
    if np.ptp(x) == 0:
        return tuple(_constant(m, confidence, x.size, x[0]) for _ in qs)
    if k < 2:
        return tuple(_undefined(m, confidence, x.size, "fewer than 2 prompts (clusters): no interval", e) for e in ests)
    B = n_resamples or default_resamples(x.size)
    note = f"resampled {k} prompts with their repeats"
    if large_sample.is_large(k):  # drawn for this series alone: nothing here is paired with another
        boot = large_sample.multiplier_stats(x, codes, k, qs, None, rng=seed, n_resamples=B, xs=xs)
        m, note = large_sample.METHOD, large_sample.note(k)
    else:
        boot = _cluster_boot(x, codes, k, qs, seed, B)
    return tuple(
        _finish_bootstrap(
            e, tb, None, method="percentile", confidence=confidence, n=x.size, n_resamples=B, seed=seed, note=note, name=m
        )
        for e, tb in zip(ests, boot)
    )
