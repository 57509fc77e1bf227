"""Statistics for benchmark samples: intervals, paired tests, effect sizes, comparisons.

Pure numpy / scipy / pandas (no I/O, no streamlit). Every interval is an `Interval` that
carries its method, confidence level, resample count and seed; degenerate data (no rows,
one row, constant values, all errors) gives a defined result with a `note`, never an
exception and never a NaN shown as a number. `METHODS` explains the choices in prose.

Sections: intervals (t, Wilson, bootstrap, cluster bootstrap) -> summaries -> tests and
effect sizes -> multiplicity, equivalence, power -> drift, cold start, Pareto -> the
metric registry. Model comparisons and verdicts are in core.compare (re-exported here).
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps
from scipy.special import ndtr, ndtri

DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 2000
LARGE_N = 1000  # above this many observations the default resample count drops ...
LARGE_N_RESAMPLES = 1000  # ... to this (speed; see METHODS)
_MAX_BLOCK = 4_000_000  # resample matrix elements held in memory at once
PERCENTILES = (50, 90, 95, 99)

METHODS = """\
Methods used by core.stats

Unit of analysis. A prompt (item) is the unit. When a prompt was run several times
(repeats), the repeats are not independent observations: intervals then use a cluster
bootstrap that resamples prompts with all their repeats, and model comparisons average the
repeats of each prompt first, then pair the two models prompt by prompt (tests, differences;
the ratio of medians keeps every repeat and resamples prompts).

Intervals (95% by default).
- Mean: Student t interval (scipy.stats.t) when each prompt has one value; cluster
  bootstrap otherwise.
- Percentiles (p50, p90, p95, p99): bootstrap, BCa (bias-corrected and accelerated) by
  default. Resampling is vectorised numpy (one index matrix rng.integers(0, n, (B, n)) from
  numpy.random.default_rng(seed), drawn once per (seed, n, B) and reused; order statistics
  from a row sort of 16-bit ranks (radix) or np.partition) and the BCa
  acceleration uses the closed-form jackknife of a sample quantile. This reproduces
  scipy.stats.bootstrap(method="BCa", rng=default_rng(seed)) on the same data (tested)
  at a fraction of the cost. When BCa is undefined (constant jackknife, bootstrap
  distribution on one side of the estimate) the percentile interval is used and the note
  says so.
- Resamples: 2000 by default; 1000 when there are more than 1000 observations. This is a
  speed trade-off (summary and all pairwise comparisons of 10 models x 3000 samples in a
  few seconds): the Monte Carlo error of each endpoint grows by about 1.4x, which is small
  beside the sampling error it estimates.
- Proportions (pass rate, error rate): Wilson score interval; Newcombe's hybrid score
  interval for a difference of two independent proportions.
- Cluster bootstrap (repeats): prompts are drawn with replacement (B x K index matrix),
  each resample's statistic is computed exactly as numpy.mean / numpy.percentile (linear
  interpolation) of the expanded resample (equal or nearly equal repeat counts: the
  resample's ranks sorted; very unequal counts: weighted order statistics); percentile
  interval. Used automatically when any prompt has more than one value.
- Ratio of medians: the headline of "how much slower / faster" for a pair of models:
  median(a) / median(b), the medians of every successful sample (repeats included) on the
  prompts both ran, so with a complete run it is the ratio of the summary's medians.
  Bootstrap over prompts: BCa over pairs (paired) or over each sample independently
  (unpaired) with one run per prompt; with repeats, a percentile cluster bootstrap that
  draws prompts with all their repeats (the same prompts for both models when paired).

Comparisons of two models on one metric.
- Paired when both models ran the same prompts (at least half of the larger item set is
  shared): Wilcoxon signed-rank test on per-prompt differences (default; robust to the
  skew and outliers of latency; zero differences dropped; p-value as scipy.stats.wilcoxon
  computes it: exact null distribution for n <= 50 pairs without ties or zero differences;
  with ties or zeros, an exact permutation p-value (all 2^n sign flips) for n <= 13 and the
  tie-corrected normal approximation without continuity correction above; above 50 pairs,
  always that normal approximation), paired t
  test on request; McNemar for pass/fail with one run per prompt (exact binomial when
  fewer than 25 discordant pairs, else chi-square with continuity correction).
- Unpaired fallback when prompts do not match: Mann-Whitney U (default) or Welch t; for
  pass/fail, Fisher's exact test. The comparison states which test was used and why.
- Effect sizes: mean difference (a - b) with a t interval (paired t or Welch), ratio of
  medians (a / b) with a bootstrap interval, Cohen's d (dz on differences when paired),
  Cliff's delta, rank-biserial correlation (matched-pairs when paired).
- Multiple comparisons: Holm (default; controls the family-wise error rate) or
  Benjamini-Hochberg (controls the false discovery rate) over the family of comparisons
  (by default, all pairs of one metric).
- Equivalence: two one-sided t tests (TOST) against a margin +/- m in the metric's unit;
  equivalent when the TOST p-value is below alpha.
- Power: paired t test on the SD of per-prompt differences (noncentral t): the smallest
  difference detectable with 80% power at alpha 0.05 at the current n, and the n needed
  for a target difference.
- Verdicts claim a difference only when the (adjusted) p-value is below alpha and the
  effect interval excludes no-difference; otherwise they say there is no significant
  difference (or that the size is uncertain).

Drift. Kendall tau (the Mann-Kendall trend test) and Spearman rho of latency against sample
order (Spearman's p: exact permutation distribution up to 9 samples, the t approximation
above), Theil-Sen slope with its interval (above 500 samples: on 500 medians of blocks of
consecutive samples, as Theil-Sen is quadratic in n); flagged when the trend is significant
and the slope exceeds 1% of the median per 100 samples. Cold start: first sample against the
median of the rest.
"""


# =========================================================================== intervals

_METHOD_LABELS = {
    "bca-bootstrap": "BCa bootstrap",
    "percentile-bootstrap": "percentile bootstrap",
    "cluster-bootstrap": "cluster bootstrap",
    "t": "t interval",
    "welch-t": "Welch t interval",
    "wilson": "Wilson score",
    "newcombe": "Newcombe hybrid score",
    "theil-sen": "Theil-Sen",
}


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval and how it was computed.

    `low`/`high` are None when no interval can be computed (`note` says why); they equal
    the estimate when the data have no spread.
    """

    estimate: float | None
    low: float | None
    high: float | None
    method: str
    confidence: float = DEFAULT_CONFIDENCE
    n: int = 0
    n_resamples: int | None = None  # None for analytic intervals
    seed: int | None = None  # None for analytic intervals
    note: str = ""

    def __post_init__(self) -> None:
        # never a NaN or infinity presented as a number: such values become None
        bad = False
        for name in ("estimate", "low", "high"):
            v = getattr(self, name)
            if v is not None:
                clean = _num(v)
                bad |= clean is None
                object.__setattr__(self, name, clean)
        if bad and not self.note:
            object.__setattr__(self, "note", "not computable for these data (non-finite result)")

    @property
    def is_defined(self) -> bool:
        return self.estimate is not None and self.low is not None and self.high is not None

    @property
    def width(self) -> float | None:
        return self.high - self.low if self.is_defined else None

    def contains(self, value: float) -> bool:
        return self.is_defined and self.low <= value <= self.high  # type: ignore[operator]

    def format(self, unit: str = "", digits: int | None = None) -> str:
        """'412 ms (95% CI 398-430, BCa bootstrap, 2000 resamples, seed 0)'."""
        sep = " " if unit and unit not in ("%", "x") else ""
        if self.estimate is None:
            return f"n/a ({self.note or 'no data'})"
        est = f"{_fmt(self.estimate, digits)}{sep}{unit}"
        if not self.is_defined:
            return f"{est} (no interval: {self.note})" if self.note else est
        lo, hi = _fmt(self.low, digits), _fmt(self.high, digits)
        span = f"{lo} to {hi}" if self.low < 0 or self.high < 0 else f"{lo}-{hi}"  # type: ignore[operator]
        parts = [f"{self.confidence * 100:g}% CI {span}", _METHOD_LABELS.get(self.method, self.method)]
        if self.n_resamples is not None:
            parts.append(f"{self.n_resamples} resamples")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return f"{est} ({', '.join(parts)})"


def _fmt(x: float | None, digits: int | None = None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    if ax >= 100 or ax == 0:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _num(x: object) -> float | None:
    """A finite float, or None (never a NaN presented as a number)."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _clean(values: object) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def _undefined(method: str, confidence: float, n: int, note: str, estimate: float | None = None) -> Interval:
    return Interval(_num(estimate), None, None, method, confidence, n, note=note)


def _constant(method: str, confidence: float, n: int, value: float, note: str = "all values equal") -> Interval:
    v = float(value)
    return Interval(v, v, v, method, confidence, n, note=note)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (got {confidence}); e.g. 0.95")


def default_resamples(n: int) -> int:
    """The resample count used when none is given: 2000, or 1000 above 1000 observations."""
    return DEFAULT_RESAMPLES if n <= LARGE_N else LARGE_N_RESAMPLES


def mean_ci(values: object, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Student t interval for the mean (scipy.stats.t)."""
    _check_confidence(confidence)
    x = _clean(values)
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
        c = np.asarray(clusters, dtype=object).ravel()[keep]
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
    c = np.asarray(clusters, dtype=object).ravel()
    keep = np.isfinite(x)
    x, c = x[keep], c[keep]
    if not x.size or not _clusters_homogeneous(x, c):
        return None
    k = int(np.unique(c.astype(str)).size)
    return _wilson(float(x.mean()), k, confidence, "wilson-clusters", f"every prompt's repeats agree: Wilson on {k} prompts")


def _clusters_homogeneous(x: np.ndarray, clusters: np.ndarray) -> bool:
    """True when every cluster holds one value only (its repeats all agree)."""
    _, codes = np.unique(clusters.astype(str), return_inverse=True)
    k = int(codes.max()) + 1 if codes.size else 0
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, codes, x)
    np.maximum.at(hi, codes, x)
    return bool(np.all(lo == hi))


# --------------------------------------------------------------------------- bootstrap engine


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


_COMPACT_COUNTS_MAX = 16_000_000  # count-matrix elements kept as uint8 (16 MB) per cached draw


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
        compact = _compact_counts(seed, k, n_resamples, _MAX_BLOCK)
        if compact is not None:
            return (c.astype(float) for c in compact)
    return (_counts(idx, k) for idx in _seeded_blocks(seed, k, n_resamples))


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
        return Interval(_num(estimate), None, None, name, confidence, n, n_resamples, seed, _join(note, "non-finite bootstrap statistics (zero denominator?): no interval"))
    low, high = np.quantile(theta_b, levels)
    return Interval(_num(estimate), _num(low), _num(high), name, confidence, n, n_resamples, seed, note)


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


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
    x = _clean(values)
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


# --------------------------------------------------------------------------- cluster bootstrap


def _has_repeats(clusters: np.ndarray) -> bool:
    _, counts = np.unique(clusters.astype(str), return_counts=True)
    return bool(counts.size and counts.max() > 1)


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
    expand each resample and sort ranks; otherwise weighted order statistics.
    """
    sums = np.bincount(codes, weights=x, minlength=k)
    sizes = np.bincount(codes, minlength=k)
    xs, rank = _sorted_ranks(x)
    s_max = int(sizes.max())
    quantiles = any(q is not None for q in stats_q)
    padded = quantiles and k * s_max <= _PAD_LIMIT * x.size
    expand = padded or not quantiles  # the mean alone needs only sums and sizes, not the members
    members = _padded_members(rank, codes, sizes, k, s_max) if padded else None
    cs = None
    if not expand:  # each sorted value's cluster (rank is the inverse of the sorting permutation)
        cs = np.empty_like(codes)
        cs[rank] = codes
    seeded = not isinstance(rng, np.random.Generator)
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
    c = np.asarray(clusters, dtype=object).ravel()
    if c.size != x.size:
        raise ValueError(f"values ({x.size}) and clusters ({c.size}) must have the same length")
    keep = np.isfinite(x)
    codes, uniques = pd.factorize(pd.Series(c[keep]).astype(str))
    return x[keep], np.asarray(codes), len(uniques)


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


def _cluster_intervals(
    values: object, clusters: object, statistics: Sequence[str | float], confidence: float, n_resamples: int | None, seed: int
) -> tuple[Interval, ...]:
    _check_confidence(confidence)
    x, codes, k = _cluster_inputs(values, clusters)
    qs = [_parse_statistic(s) for s in statistics]
    ests = [float(x.mean()) if q is None else float(np.percentile(x, q * 100)) for q in qs] if x.size else []
    m = "cluster-bootstrap"
    if x.size == 0:
        return tuple(_undefined(m, confidence, 0, "no data") for _ in qs)
    if np.ptp(x) == 0:
        return tuple(_constant(m, confidence, x.size, x[0]) for _ in qs)
    if k < 2:
        return tuple(_undefined(m, confidence, x.size, "fewer than 2 prompts (clusters): no interval", e) for e in ests)
    B = n_resamples or default_resamples(x.size)
    boot = _cluster_boot(x, codes, k, qs, seed, B)
    note = f"resampled {k} prompts with their repeats"
    return tuple(
        _finish_bootstrap(
            e, tb, None, method="percentile", confidence=confidence, n=x.size, n_resamples=B, seed=seed, note=note, name=m
        )
        for e, tb in zip(ests, boot)
    )


# --------------------------------------------------------------------------- many means, one resample


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
            est = _num(top / bottom) if bottom else None
            return est, np.where(bb != 0, bt / np.where(bb != 0, bb, 1), np.nan)

    @property
    def method(self) -> str:
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
    cols = [np.asarray(v, dtype=float).ravel() for v in columns.values()]
    n = cols[0].size if cols else 0
    if any(c.size != n for c in cols):
        raise ValueError("every column must have the same length")
    if clusters is None:
        codes, k = np.arange(n), n
    else:
        cl = np.asarray(clusters, dtype=object).ravel()
        if cl.size != n:
            raise ValueError(f"values ({n}) and clusters ({cl.size}) must have the same length")
        f, uniques = pd.factorize(pd.Series(cl).astype(str))
        codes, k = np.asarray(f), len(uniques)
    m = len(cols)
    finite = np.column_stack([np.isfinite(c) for c in cols]) if m else np.zeros((n, 0), bool)
    values = np.column_stack([np.where(np.isfinite(c), c, 0.0) for c in cols]) if m else np.zeros((n, 0))
    sums = np.zeros((k, m))
    sizes = np.zeros((k, m))
    np.add.at(sums, codes, values)
    np.add.at(sizes, codes, finite.astype(float))
    return bootstrap_sums(names, sums, sizes, n, clustered=clusters is not None and k < n, n_resamples=n_resamples, seed=seed)


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
    k, m = sums.shape
    B = n_resamples or default_resamples(n)
    both = np.hstack([sums, sizes])
    boot = [np.zeros((0, 2 * m))]
    if k >= 2:
        for cnt in _seeded_counts(seed, k, B):
            boot.append(cnt @ both)
    boot_all = np.concatenate(boot)
    boot_t, boot_c = boot_all[:, :m], boot_all[:, m:]
    return BootstrapMeans(names, sums.sum(axis=0), sizes.sum(axis=0), boot_t, boot_c, n, k, clustered, B if k >= 2 else 0, seed)


# =========================================================================== summaries


@dataclass(frozen=True)
class MetricSummary:
    """Mean and tail percentiles of one metric for one model, each with an interval."""

    n: int
    n_prompts: int | None
    clustered: bool  # True when repeats made the intervals resample prompts
    mean: Interval
    p50: Interval | None
    p90: Interval | None
    p95: Interval | None
    p99: Interval | None


def summarize(
    values: object,
    clusters: object | None = None,
    *,
    binary: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    method: Literal["BCa", "percentile"] = "BCa",
) -> MetricSummary:
    """Mean and p50/p90/p95/p99 with intervals; cluster bootstrap when any prompt repeats.

    binary=True (pass/fail): the mean is a proportion (Wilson) and percentiles are omitted.
    """
    x = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(x)
    c = None if clusters is None else np.asarray(clusters, dtype=object).ravel()
    n_prompts = None if c is None else int(pd.Series(c[keep]).astype(str).nunique())
    clustered = c is not None and _has_repeats(c[keep])
    if binary:
        mean = proportion_ci(x, c, confidence=confidence, n_resamples=n_resamples, seed=seed)
        return MetricSummary(int(keep.sum()), n_prompts, clustered, mean, None, None, None, None)
    if clustered:
        ivs = _cluster_intervals(x, c, ["mean", *[p / 100 for p in PERCENTILES]], confidence, n_resamples, seed)
        return MetricSummary(int(keep.sum()), n_prompts, True, *ivs)
    qs = quantile_cis(x[keep], [p / 100 for p in PERCENTILES], confidence=confidence, n_resamples=n_resamples, seed=seed, method=method)
    return MetricSummary(int(keep.sum()), n_prompts, False, mean_ci(x[keep], confidence), *qs)


def summarize_models(
    df: pd.DataFrame, metric: str, *, confidence: float = DEFAULT_CONFIDENCE, n_resamples: int | None = None, seed: int = DEFAULT_SEED
) -> dict[str, MetricSummary]:
    """summarize() of one metric for each model over its ok samples (prompts = item_id)."""
    ok = _ok_rows(df, metric)
    info = metric_info(metric)
    out = {}
    for model, g in ok.groupby("model", sort=False):
        clusters = g["item_id"].to_numpy() if "item_id" in g else None
        out[str(model)] = summarize(g["_value"].to_numpy(), clusters, binary=info.binary, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return out


# =========================================================================== tests and effect sizes


@dataclass(frozen=True)
class TestResult:
    """One significance test: which, its statistic and p-value, and any caveat."""

    __test__ = False  # not a pytest class

    test: str  # wilcoxon | paired-t | mcnemar-exact | mcnemar-chi2 | mann-whitney | welch-t | fisher-exact | none
    statistic: float | None
    p_value: float | None
    n: int
    note: str = ""


def _pairs(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"paired samples must have equal length (got {x.size} and {y.size})")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _average_ranks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (ties get their average rank, from 1) and the size of each tie group: the same
    values as scipy.stats.rankdata(a, 'average') without its per-call overhead."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    start = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]])) if s.size else np.zeros(0, int)
    counts = np.diff(np.concatenate([start, [s.size]]))
    ranks = np.empty(a.size)
    ranks[order] = np.repeat(start + (counts + 1) / 2, counts)
    return ranks, counts


_WILCOXON_EXACT_MAX = 50  # scipy.stats.wilcoxon(method="auto") leaves the normal approximation only up to here


def _wilcoxon(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank (zeros dropped): scipy.stats.wilcoxon for n <= 50 (exact
    without ties or zeros; with them, permutation for n <= 13, else normal approximation),
    else its normal approximation (tie-corrected variance, no continuity
    correction) computed here with the same formula: scipy's per-call overhead dominated
    the all-pairs comparison of many models. Tested equal to scipy."""
    d = x - y
    if d.size <= _WILCOXON_EXACT_MAX:
        res = sps.wilcoxon(x, y, zero_method="wilcox")
        return float(res.statistic), float(res.pvalue)
    d = d[d != 0]
    count = float(d.size)
    r, ties = _average_ranks(np.abs(d))
    r_plus, r_minus = float(r[d > 0].sum()), float(r[d < 0].sum())
    mn = count * (count + 1.0) * 0.25
    se = math.sqrt((count * (count + 1.0) * (2.0 * count + 1.0) - float(np.sum(ties.astype(float) ** 3 - ties)) / 2) / 24)
    z = (r_plus - mn) / se
    return min(r_plus, r_minus), float(2 * ndtr(-abs(z)))


def paired_test(a: object, b: object, test: Literal["wilcoxon", "t"] = "wilcoxon") -> TestResult:
    """Paired test on per-prompt values: Wilcoxon signed-rank (default) or paired t."""
    x, y = _pairs(a, b)
    d = x - y
    n = d.size
    name = "wilcoxon" if test == "wilcoxon" else "paired-t"
    if n < 2:
        return TestResult(name, None, None, n, "fewer than 2 pairs: no test")
    if not np.any(d):
        return TestResult(name, 0.0, 1.0, n, "all paired differences are zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if test == "wilcoxon":
            stat, p = _wilcoxon(x, y)
            note = f"{int(np.sum(d == 0))} zero differences dropped" if np.any(d == 0) else ""
        else:
            res = sps.ttest_rel(x, y)
            stat, p = res.statistic, res.pvalue
            note = "all differences equal: zero variance" if np.ptp(d) == 0 else ""
    return TestResult(name, _num(stat), _num(p), n, note)


def unpaired_test(a: object, b: object, test: Literal["mann-whitney", "welch"] = "mann-whitney") -> TestResult:
    """Independent samples: Mann-Whitney U (default) or Welch t."""
    x, y = _clean(a), _clean(b)
    name = "mann-whitney" if test == "mann-whitney" else "welch-t"
    n = x.size + y.size
    if x.size < 2 or y.size < 2:
        return TestResult(name, None, None, n, "fewer than 2 values in a group: no test")
    if np.ptp(np.concatenate([x, y])) == 0:  # U is then n1*n2/2 (every pair a tie), not 0
        stat = x.size * y.size / 2 if test == "mann-whitney" else 0.0
        return TestResult(name, float(stat), 1.0, n, "all values equal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if test == "mann-whitney":
            res = sps.mannwhitneyu(x, y, alternative="two-sided")
        else:
            res = sps.ttest_ind(x, y, equal_var=False)
    return TestResult(name, _num(res.statistic), _num(res.pvalue), n)


def mcnemar_test(a_pass: object, b_pass: object, exact_below: int = 25) -> TestResult:
    """McNemar on paired pass/fail: exact binomial when discordant pairs < 25, else chi-square
    with continuity correction (statistic (|b - c| - 1)^2 / (b + c))."""
    x, y = _pairs(a_pass, b_pass)
    xa, ya = x.astype(bool), y.astype(bool)
    b = int(np.sum(xa & ~ya))
    c = int(np.sum(~xa & ya))
    n_disc = b + c
    if n_disc == 0:
        return TestResult("mcnemar-exact", 0.0, 1.0, x.size, "no discordant pairs")
    if n_disc < exact_below:
        p = min(1.0, 2 * float(sps.binom.cdf(min(b, c), n_disc, 0.5)))
        return TestResult("mcnemar-exact", float(min(b, c)), p, x.size, f"{n_disc} discordant pairs")
    stat = (abs(b - c) - 1) ** 2 / n_disc
    return TestResult("mcnemar-chi2", stat, float(sps.chi2.sf(stat, 1)), x.size, f"{n_disc} discordant pairs")


def fisher_test(k_a: int, n_a: int, k_b: int, n_b: int) -> TestResult:
    """Fisher's exact test on two independent pass counts."""
    if n_a == 0 or n_b == 0:
        return TestResult("fisher-exact", None, None, n_a + n_b, "a group has no trials")
    res = sps.fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]])
    return TestResult("fisher-exact", _num(res.statistic), _num(res.pvalue), n_a + n_b)


def cliffs_delta(a: object, b: object) -> float | None:
    """Cliff's delta P(a > b) - P(a < b), from ranks in O(n log n); None if a group is empty."""
    x, y = _clean(a), _clean(b)
    if x.size == 0 or y.size == 0:
        return None
    ranks, _ = _average_ranks(np.concatenate([x, y]))
    u = ranks[: x.size].sum() - x.size * (x.size + 1) / 2
    return float(2 * u / (x.size * y.size) - 1)


def rank_biserial_paired(a: object, b: object) -> float | None:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-), zeros dropped."""
    x, y = _pairs(a, b)
    d = x - y
    d = d[d != 0]
    if d.size == 0:
        return None if x.size == 0 else 0.0
    r, _ = _average_ranks(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def cohens_dz(a: object, b: object) -> float | None:
    """Cohen's dz: mean of paired differences / their SD; None when the SD is 0 or n < 2."""
    x, y = _pairs(a, b)
    d = x - y
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    return _num(d.mean() / sd) if sd > 0 else None


def cohens_d(a: object, b: object) -> float | None:
    """Cohen's d with the pooled SD (independent samples)."""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return None
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    sd = math.sqrt(pooled)
    return _num((x.mean() - y.mean()) / sd) if sd > 0 else None


def mean_difference_ci(a: object, b: object, *, paired: bool, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """a - b: t interval on paired differences, or Welch interval for independent samples."""
    if paired:
        x, y = _pairs(a, b)
        return mean_ci(x - y, confidence)
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        est = x.mean() - y.mean() if x.size and y.size else None
        return _undefined("welch-t", confidence, x.size + y.size, "fewer than 2 values in a group: no interval", est)
    d = float(x.mean() - y.mean())
    if x.var() == 0 and y.var() == 0:
        return _constant("welch-t", confidence, x.size + y.size, d, "no spread in either group")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-identical data: precision warnings
        ci = sps.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return Interval(d, _num(ci.low), _num(ci.high), "welch-t", confidence, x.size + y.size)


class _BootCache:
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
    _cache: _BootCache | None = None,
    _keys: tuple[tuple, tuple] | None = None,
) -> Interval:
    """median(a) / median(b) with a bootstrap interval; paired resamples pairs jointly.

    Equals scipy.stats.bootstrap((a, b), ratio, paired=paired, rng=default_rng(seed)).
    """
    _check_confidence(confidence)
    kind = "bca-bootstrap" if method.lower() == "bca" else "percentile-bootstrap"
    if paired:
        x, y = _pairs(a, b)
    else:
        x, y = _clean(a), _clean(b)
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
    cache = _cache or _BootCache()
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
    _cache: _BootCache | None = None,
    _keys: tuple[tuple, tuple] | None = None,
) -> Interval:
    """median(a) / median(b) over every value (repeats included: the medians a summary shows),
    with a percentile interval from a cluster bootstrap that resamples prompts with all their
    values; paired (both ran the same prompts): the same resampled prompts for a and b.
    """
    _check_confidence(confidence)
    kind = "cluster-bootstrap"
    (x, ca, ka), (y, cb, kb) = _prompt_codes(a, prompts_a, b, prompts_b, paired)
    n = x.size + y.size
    if min(ka, kb) < 2:
        return _undefined(kind, confidence, n, "fewer than 2 prompts in a group: no interval")
    ma, mb = float(np.percentile(x, 50)), float(np.percentile(y, 50))
    if mb <= 0 or ma < 0:
        return _undefined(kind, confidence, n, "ratio of medians needs positive values")
    est = ma / mb
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return _constant(kind, confidence, n, est, "no spread in either group")
    B = n_resamples or default_resamples(max(x.size, y.size))
    if paired:  # one seeded index matrix over the shared prompts: both models draw the same prompts
        cache = _cache or _BootCache()
        key_a, key_b = _keys or (None, None)
        boot_a = cache.medians(key_a, x, B, seed, (ca, ka))
        boot_b = cache.medians(key_b, y, B, seed, (cb, kb))
    else:
        rng = np.random.default_rng(seed)
        boot_a = _cluster_boot(x, ca, ka, [0.5], rng, B)[0]
        boot_b = _cluster_boot(y, cb, kb, [0.5], rng, B)[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # zero medians: no interval
        theta_b = boot_a / boot_b
    note = f"resampled {ka} prompts with their repeats" + (" (the same prompts for both)" if paired else "")
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
        (_, ca), (_, cb) = (np.unique(la, return_inverse=True), np.unique(lb, return_inverse=True))
        return (x, ca, int(ca.max(initial=-1)) + 1), (y, cb, int(cb.max(initial=-1)) + 1)
    book, codes = np.unique(np.concatenate([la, lb]), return_inverse=True)
    ca, cb, k = codes[: la.size], codes[la.size:], book.size
    if np.bincount(ca, minlength=k).min(initial=1) == 0 or np.bincount(cb, minlength=k).min(initial=1) == 0:
        raise ValueError("paired: both groups must hold values for the same prompts")
    return (x, ca, k), (y, cb, k)


# =========================================================================== multiplicity, equivalence, power


def adjust_pvalues(pvalues: Sequence[float | None], method: Literal["holm", "bh", "none"] = "holm") -> np.ndarray:
    """Holm step-down (family-wise error) or Benjamini-Hochberg step-up (false discovery rate).

    Missing p-values (None/NaN) stay NaN and are not counted in the family.
    """
    p = np.array([np.nan if v is None else v for v in pvalues], dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0 or method == "none":
        out[ok] = p[ok]
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ps = p[order]
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ps))
    elif method in ("bh", "fdr_bh", "benjamini-hochberg"):
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ps)[::-1])[::-1]
        adj = np.minimum(1.0, adj)
    else:
        raise ValueError(f"unknown correction {method!r}: use 'holm', 'bh' or 'none'")
    out[order] = adj
    return out


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
    x, y = _pairs(a, b)
    d = x - y
    if d.size < 2:
        return Equivalence(margin, None, False, alpha, "tost-paired-t", "fewer than 2 pairs: no test")
    return _tost(float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1, margin, alpha, "tost-paired-t", d.size)


def tost_unpaired(a: object, b: object, margin: float, alpha: float = DEFAULT_ALPHA) -> Equivalence:
    """Welch TOST: is -margin < mean(a) - mean(b) < margin?"""
    x, y = _clean(a), _clean(b)
    if x.size < 2 or y.size < 2:
        return Equivalence(margin, None, False, alpha, "tost-welch", "fewer than 2 values in a group: no test")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    with np.errstate(all="ignore"):  # Welch-Satterthwaite; underflow -> conservative df
        df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    if not np.isfinite(df):
        df = min(x.size, y.size) - 1
    return _tost(float(x.mean() - y.mean()), se, df, margin, alpha, "tost-welch", x.size + y.size)


@dataclass(frozen=True)
class Power:
    """Paired t power analysis: the detectable difference at n, or the n for a difference."""

    n: int | None
    sd: float | None  # SD of per-prompt differences
    effect: float | None  # difference in the metric's unit
    effect_size: float | None  # standardised (Cohen's dz)
    alpha: float = DEFAULT_ALPHA
    power: float = 0.8
    method: str = "paired-t (noncentral t)"
    note: str = ""


def _t_power(dz: float, n: float, alpha: float) -> float:
    """Power of the two-sided one-sample/paired t test (noncentral t, as statsmodels TTestPower)."""
    df = n - 1
    crit = sps.t.ppf(1 - alpha / 2, df)
    nc = dz * math.sqrt(n)
    upper = float(sps.nct.sf(crit, df, nc))
    lower = float(sps.nct.cdf(-crit, df, nc))  # the far tail: negligible, NaN when nc is large
    return upper + (lower if math.isfinite(lower) else 0.0)


def _normal_guess(alpha: float, power: float) -> float:
    return float(ndtri(1 - alpha / 2) + ndtri(power))


def _solve_increasing(f: object, lo: float, hi: float, cap: float) -> float:
    """Root of an increasing function, widening the upper bracket as needed (keeps nct finite)."""
    while f(hi) < 0 and hi < cap:  # type: ignore[operator]
        lo, hi = hi, hi * 2
    return float(optimize.brentq(f, lo, min(hi, cap)))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _detectable_dz(n: int, alpha: float, power: float) -> float:
    guess = _normal_guess(alpha, power) / math.sqrt(n)
    return _solve_increasing(lambda d: _t_power(d, n, alpha) - power, guess / 4, guess * 2, 1e4)


def minimum_detectable_effect(sd_diff: float | None, n: int, *, alpha: float = DEFAULT_ALPHA, power: float = 0.8) -> Power:
    """Smallest mean difference a two-sided paired t test detects with `power` at this n."""
    if n < 2:
        return Power(n, sd_diff, None, None, alpha, power, note="n < 2: no power analysis")
    dz = _detectable_dz(n, alpha, power)
    sd = _num(sd_diff)
    return Power(n, sd, None if sd is None else dz * sd, dz, alpha, power)


def required_sample_size(effect: float, sd_diff: float, *, alpha: float = DEFAULT_ALPHA, power: float = 0.8) -> Power:
    """Number of prompts a paired t test needs to detect `effect` (metric units) with `power`."""
    if effect == 0 or sd_diff is None or sd_diff <= 0:
        return Power(None, sd_diff, effect, None, alpha, power, note="needs a non-zero effect and a positive SD")
    dz = abs(effect) / sd_diff
    if _t_power(dz, 2, alpha) >= power:
        return Power(2, sd_diff, effect, dz, alpha, power)
    guess = (_normal_guess(alpha, power) / dz) ** 2
    n = _solve_increasing(lambda k: _t_power(dz, k, alpha) - power, 2.0, max(4.0, guess * 1.5), 1e12)
    return Power(int(math.ceil(n - 1e-9)), sd_diff, effect, dz, alpha, power)


# =========================================================================== drift, cold start, Pareto


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
    med = _num(np.median(y)) if n else None
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
    slope = Interval(_num(ts.slope), _num(ts.low_slope), _num(ts.high_slope), "theil-sen", confidence, n, note=note)
    rel = None if not med or slope.estimate is None else slope.estimate * 100 / med
    sig = kt.pvalue is not None and bool(kt.pvalue < alpha)
    material = rel is not None and abs(rel) > material_fraction
    sp = _spearman_exact_p(x, y) if n <= SPEARMAN_EXACT_MAX_N else sr.pvalue
    return Drift(n, _num(kt.statistic), _num(kt.pvalue), _num(sr.statistic), _num(sp), slope, med, rel, sig, material, sig and material)


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


@dataclass(frozen=True)
class ParetoPoint:
    model: str
    efficient: bool  # not dominated by any other model
    dominated_by: tuple[str, ...]


DEFAULT_OBJECTIVES: dict[str, Literal["max", "min"]] = {
    "quality": "max",
    "latency_ms": "min",
    "cost": "min",
    "memory_needed_mb": "min",  # model footprint + largest peak added per generation (core.kpis.memory_needed_mb)
}


def pareto_front(
    table: pd.DataFrame, objectives: Mapping[str, Literal["max", "min"]] | None = None, model_col: str = "model"
) -> tuple[ParetoPoint, ...]:
    """Non-dominated models over the objectives present in `table` (one row per model).

    A dominates B when A is at least as good on every objective and better on one. A missing
    value counts as the worst possible on that objective.
    """
    objs = {k: v for k, v in (objectives or DEFAULT_OBJECTIVES).items() if k in table.columns}
    if not objs:
        raise ValueError(f"none of the objectives {list(objectives or DEFAULT_OBJECTIVES)} are columns of the table")
    models = [str(m) for m in (table[model_col] if model_col in table.columns else table.index)]
    vals = np.column_stack(
        [pd.to_numeric(table[c], errors="coerce").to_numpy(float) * (1 if d == "max" else -1) for c, d in objs.items()]
    )
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    ge = (vals[:, None, :] >= vals[None, :, :]).all(axis=2)
    gt = (vals[:, None, :] > vals[None, :, :]).any(axis=2)
    dom = ge & gt  # dom[i, j]: i dominates j
    return tuple(
        ParetoPoint(m, not dom[:, j].any(), tuple(models[i] for i in np.flatnonzero(dom[:, j]))) for j, m in enumerate(models)
    )


# =========================================================================== metric registry


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric: direction, unit and the phrase verdicts use."""

    name: str
    label: str
    unit: str
    lower_is_better: bool | None  # None: neither direction is better
    effect: Literal["ratio", "difference"]  # which effect a verdict reports
    binary: bool = False
    margin: float | None = None  # default TOST equivalence margin, metric units
    phrase: str = "{x} has {f}x higher {label} than {y}"  # for the model with the higher value
    scale: float = 1.0  # multiply differences by this for display (fraction -> percentage points)
    diff_unit: str = ""


METRICS: dict[str, MetricInfo] = {
    "latency_ms": MetricInfo("latency_ms", "latency", "ms", True, "ratio", phrase="{x} is {f}x slower than {y}"),
    "ttft_ms": MetricInfo("ttft_ms", "time to first token", "ms", True, "ratio", phrase="{x} takes {f}x longer to the first token than {y}"),
    "decode_tps": MetricInfo("decode_tps", "decode speed", "tok/s", False, "ratio", phrase="{x} decodes {f}x faster than {y}"),
    "mem_added_mb": MetricInfo("mem_added_mb", "peak memory added per generation", "MB", True, "difference",
                               phrase="{x} needs {d} MB more memory per generation (peak added above the level before it) than {y}",
                               diff_unit="MB"),
    "peak_rss_mb": MetricInfo("peak_rss_mb", "process peak RSS", "MB", True, "ratio",
                              phrase="{x}'s process peaks at {f}x the RSS of {y}'s (whole process, libraries and every loaded model included)"),
    "peak_accel_mb": MetricInfo("peak_accel_mb", "process peak accelerator memory", "MB", True, "ratio",
                                phrase="{x}'s process peaks at {f}x the accelerator memory of {y}'s (every loaded model included)"),
    "output_tokens": MetricInfo("output_tokens", "output tokens", "tokens", None, "ratio", phrase="{x} writes {f}x more output tokens than {y}"),
    "input_tokens": MetricInfo("input_tokens", "input tokens", "tokens", None, "ratio", phrase="{x} counts {f}x more input tokens than {y}"),
    "local_cost": MetricInfo("local_cost", "local cost per request", "USD", True, "ratio", phrase="{x} costs {f}x more per request to run locally than {y}"),
    "quality": MetricInfo("quality", "quality", "points", False, "difference", margin=0.5, phrase="{x} scores {d} points higher on quality than {y}", diff_unit="points"),
    "passed": MetricInfo("passed", "pass rate", "", False, "difference", binary=True, margin=0.05, phrase="{x} passes {d} percentage points more often than {y}", scale=100.0, diff_unit="pp"),
}


def metric_info(metric: str) -> MetricInfo:
    """Registry entry, or a neutral difference-type entry for an unknown metric."""
    return METRICS.get(metric) or MetricInfo(metric, metric, "", None, "difference", phrase="{x} is {d} higher on " + metric + " than {y}")


def _ok_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with status 'ok' and a finite metric value, the value in column '_value'."""
    if metric not in df.columns:
        raise ValueError(f"no column {metric!r} in the samples; available: {', '.join(map(str, df.columns))}")
    rows = df[df["status"] == "ok"] if "status" in df.columns else df
    value = pd.to_numeric(rows[metric].astype("float64"), errors="coerce")
    out = rows.assign(_value=value)
    return out[np.isfinite(out["_value"].to_numpy(float))]


# =========================================================================== moved to core.compare

# Comparison, compare_arrays, compare_models, pairwise, comparisons_frame and verdict live in
# core.compare; these names stay importable from core.stats (resolved on first use, which
# avoids a circular import: core.compare builds on this module).
_MOVED_TO_COMPARE = frozenset({'Comparison', '_CORRECTION_NAMES', '_ItemTable', '_KeyedCache', '_SAME_FAMILY', '_choose_test', '_claim', '_compare_from_table', '_direction', '_effect_excludes_null', '_effect_text', '_factor', '_item_table', '_p_text', '_pairing', '_primary_effect', 'compare_arrays', 'compare_models', 'comparisons_frame', 'pairwise', 'verdict'})


def __getattr__(name: str) -> object:
    if name in _MOVED_TO_COMPARE:
        from core import compare

        return getattr(compare, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
