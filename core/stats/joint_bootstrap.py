"""Many means, one resample: sums and counts of several columns over the same resampled
prompts, so ratios of sums and statistics of several means are resampled jointly."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.stats.basics import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval, _constant, _undefined, default_resamples, finite_or_none
import core.stats.large_sample as large_sample
from core.stats.cluster_codes import factorize_labels
from core.stats.resampling import _finish_bootstrap, _seeded_counts


@dataclass(frozen=True)
class BootstrapMeans:
    """Sums and counts of several columns over the same resampled prompts.

    One draw of prompts (clusters) serves every column, so ratios of sums (tokens per
    second, cost per 1,000 tokens) and anything computed from several means are resampled
    jointly. Missing values (NaN) are left out per column.
    """

    names: tuple[str, ...]
    totals: np.ndarray  # (m,) sum of each column's finite values
    counts: np.ndarray  # (m,) number of finite values
    boot_totals: np.ndarray  # (B, m) sums in each resample
    boot_counts: np.ndarray  # (B, m)
    n: int  # rows
    n_clusters: int
    clustered: bool  # some prompt has more than one row
    n_resamples: int
    seed: int
    large: bool = False  # resampled by core.stats.large_sample's multiplier bootstrap (many prompts)

    def _col(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.names)}") from None

    def mean(self, name: str) -> tuple[float | None, np.ndarray]:
        """(mean of the column, its B resampled means; NaN where a resample has no value)."""
        return self.ratio(name, None)

    def count(self, name: str) -> tuple[int, np.ndarray]:
        """(finite values of the column, their number in each resample)."""
        i = self._col(name)
        return int(self.counts[i]), self.boot_counts[:, i]

    def ratio(self, num: str, den: str | None) -> tuple[float | None, np.ndarray]:
        """Ratio of sums num / den (den None: the count, i.e. the mean), point and resampled."""
        i = self._col(num)
        j = None if den is None else self._col(den)
        top, bottom = self.totals[i], self.counts[i] if j is None else self.totals[j]
        bt, bb = self.boot_totals[:, i], self.boot_counts[:, i] if j is None else self.boot_totals[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            est = finite_or_none(top / bottom) if bottom else None
            return est, np.where(bb != 0, bt / np.where(bb != 0, bb, 1), np.nan)

    @property
    def method(self) -> str:
        if self.large:
            return large_sample.METHOD
        return "cluster-bootstrap" if self.clustered else "percentile-bootstrap"

    def interval(self, estimate: float | None, theta_b: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE, n: int | None = None) -> Interval:
        """Percentile interval of a statistic computed from these resamples."""
        n = self.n if n is None else n
        if estimate is None or n == 0:
            return _undefined(self.method, confidence, n, "no data", estimate)
        if self.n_clusters < 2:
            return _undefined(self.method, confidence, n, "fewer than 2 prompts: no interval", estimate)
        theta = np.asarray(theta_b, dtype=float)
        if theta.size and np.ptp(theta[np.isfinite(theta)]) == 0 and np.isfinite(theta).all() and theta[0] == estimate:
            return _constant(self.method, confidence, n, estimate)
        note = f"resampled {self.n_clusters} prompts with their repeats" if self.clustered else ""
        if self.large:
            note = large_sample.note(self.n_clusters)
        return _finish_bootstrap(
            estimate, theta, None, method="percentile", confidence=confidence, n=n,
            n_resamples=self.n_resamples, seed=self.seed, note=note, name=self.method,
        )


def bootstrap_means(
    columns: Mapping[str, object],
    clusters: object | None = None,
    *,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
) -> BootstrapMeans:
    """Resample prompts (clusters; each row its own when None) once for several columns.

    Draws the same index matrix as cluster_bootstrap_ci (rng.integers(0, k, (B, k)) from
    default_rng(seed), clusters numbered in order of first appearance), so a column without
    missing values gets exactly cluster_bootstrap_ci's resampled means. Vectorised: each
    resample's sums are a (B x k) count matrix times the (k x m) per-cluster sums.
    """
    names = tuple(columns)
    same_as: list[int] = []  # each column's first position: a column passed twice (the same array) is summed once
    first: dict[int, int] = {}
    for j, v in enumerate(columns.values()):
        same_as.append(first.setdefault(id(v), j))
    cols = [np.asarray(v, dtype=float).ravel() for v in columns.values()]
    n = cols[0].size if cols else 0
    if any(c.size != n for c in cols):
        raise ValueError("every column must have the same length")
    if clusters is None:
        codes, k = np.arange(n), n
    else:
        cl = np.asarray(clusters).ravel()
        if cl.size != n:
            raise ValueError(f"values ({n}) and clusters ({cl.size}) must have the same length")
        codes, k = factorize_labels(cl)
    both, copies = _cluster_totals(cols, codes, k, same_as)
    clustered = clusters is not None and k < n
    return _bootstrap_totals(names, both, n, clustered=clustered, n_resamples=n_resamples, seed=seed, copies=copies)


def _cluster_totals(cols: Sequence[np.ndarray], codes: np.ndarray, k: int,
                    same_as: Sequence[int]) -> tuple[np.ndarray, dict[int, int]]:
    """(k, 2m) each cluster's sum of each column's finite values, then their number; and
    {column: an earlier identical column} for the counts of columns missing on the same rows
    and for columns passed twice (same_as[j] < j: column j is the same array as that one):
    each summed once, and group_draws need not compare them again.

    One column at a time: bincount adds in row order, as np.add.at would, ~10x faster. Filled
    column-major (contiguous writes); _bootstrap_totals lays it out row-major where it must."""
    m = len(cols)
    both = np.zeros((k, 2 * m), order="F")
    copies: dict[int, int] = {}
    seen: dict[bytes, int] = {}  # the missing-value pattern -> the first column with it
    for j, c in enumerate(cols):
        if same_as[j] != j:
            both[:, j], both[:, m + j] = both[:, same_as[j]], both[:, m + same_as[j]]
            copies[j], copies[m + j] = same_as[j], m + same_as[j]
            continue
        finite = np.isfinite(c)
        both[:, j] = np.bincount(codes, weights=np.where(finite, c, 0.0), minlength=k)
        key = np.packbits(finite).tobytes()
        if key in seen:
            both[:, m + j] = both[:, m + seen[key]]
            copies[m + j] = m + seen[key]
        else:
            seen[key] = j
            both[:, m + j] = np.bincount(codes, weights=finite.astype(float), minlength=k)
    return both, copies


def bootstrap_sums(
    names: Sequence[str],
    sums: np.ndarray,
    sizes: np.ndarray,
    n: int,
    *,
    clustered: bool,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
) -> BootstrapMeans:
    """bootstrap_means from per-cluster totals already summed (e.g. by a SQL GROUP BY).

    sums, sizes: (k, m) sum and number of finite values of each column per cluster, clusters
    in order of first appearance (row i is cluster code i); n: the rows behind them. Gives
    the same resamples as bootstrap_means on those rows.
    """
    names = tuple(names)
    sums = np.asarray(sums, dtype=float).reshape(-1, len(names))
    sizes = np.asarray(sizes, dtype=float).reshape(-1, len(names))
    return _bootstrap_totals(names, np.hstack([sums, sizes]), n, clustered=clustered, n_resamples=n_resamples, seed=seed)


def _bootstrap_totals(names: tuple[str, ...], both: np.ndarray, n: int, *, clustered: bool,
                      n_resamples: int | None, seed: int, copies: Mapping[int, int] | None = None) -> BootstrapMeans:
    """bootstrap_sums from the (k, 2m) per-cluster sums then counts side by side; copies:
    {column: an earlier column it is known to equal} (see _cluster_totals)."""
    k, m = both.shape[0], len(names)
    B = n_resamples or default_resamples(n)
    boot = [np.zeros((0, 2 * m))]
    # every column with values must have them on many prompts (a sparse one: the count draw)
    large = large_sample.is_large(k) and all(large_sample.is_large(int(c)) or c == 0 for c in (both[:, m:] > 0).sum(axis=0))
    if not large:  # row-major, as the count draw's products have always read it: the same sums to the bit
        both = np.ascontiguousarray(both)
    sums, sizes = both[:, :m], both[:, m:]
    if large:
        boot.append(large_sample.group_draws(both, seed, B, copies=copies))
    elif k >= 2:
        for cnt in _seeded_counts(seed, k, B):
            boot.append(cnt @ both)
    boot_all = np.concatenate(boot)
    boot_t, boot_c = boot_all[:, :m], boot_all[:, m:]
    return BootstrapMeans(names, sums.sum(axis=0), sizes.sum(axis=0), boot_t, boot_c, n, k, clustered, B if k >= 2 else 0, seed, large)
