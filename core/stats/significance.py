"""Significance tests of two models (paired: Wilcoxon, t, McNemar; unpaired: Mann-Whitney,
Welch, Fisher) and the adjustment of a family of p-values (Holm, Benjamini-Hochberg)."""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr

from core.stats.basics import finite_or_none, finite_pairs, finite_values


@dataclass(frozen=True)
class TestResult:
    """One significance test: which, its statistic and p-value, and any caveat."""

    __test__ = False  # not a pytest class

    test: str  # wilcoxon | paired-t | mcnemar-exact | mcnemar-chi2 | mann-whitney | welch-t | fisher-exact | none
    statistic: float | None
    p_value: float | None
    n: int
    note: str = ""


def _average_ranks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (ties get their average rank, from 1) and the size of each tie group: the same
    values as scipy.stats.rankdata(a, 'average') without its per-call overhead. (Tied values
    share their average rank, so the order within a tie is irrelevant: an unstable sort gives
    the same ranks, about twice as fast.)"""
    order = np.argsort(a)
    s = a[order]
    start = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]])) if s.size else np.zeros(0, int)
    counts = np.diff(np.concatenate([start, [s.size]]))
    ranks = np.empty(a.size)
    ranks[order] = np.repeat(start + (counts + 1) / 2, counts)
    return ranks, counts


@dataclass(frozen=True)
class SignedRanks:
    """The signed-rank sums of paired differences (zeros dropped): Wilcoxon's statistic and the
    rank-biserial correlation read the same ranking."""

    count: int  # non-zero differences
    r_plus: float
    r_minus: float
    tie_term: float  # sum of t^3 - t over tie groups of |d|


def signed_rank_sums(d: np.ndarray) -> SignedRanks:
    """Rank |d| of the non-zero (finite) differences once: sums of the ranks of positive and negative ones.
    Summed per tie group (its average rank times its positive count) rather than rank by rank: the
    ranks are half-integers, so every partial sum is exact and the sums equal the rank-by-rank ones."""
    d = np.asarray(d, dtype=float)
    d = d[(d != 0) & np.isfinite(d)]
    if d.size == 0:
        return SignedRanks(0, 0.0, 0.0, 0.0)
    order = np.argsort(np.abs(d))
    s = np.abs(d)[order]
    start = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
    counts = np.diff(np.concatenate([start, [s.size]]))
    avg = start + (counts + 1) / 2  # each tie group's average rank
    positive = np.add.reduceat((d[order] > 0).astype(np.int64), start)
    total = float(s.size) * (s.size + 1) / 2  # all ranks: 1..n
    r_plus = float((avg * positive).sum())
    t = counts.astype(float)
    return SignedRanks(int(d.size), r_plus, total - r_plus, float(np.sum(t ** 3 - t)))


_WILCOXON_EXACT_MAX = 50  # scipy.stats.wilcoxon(method="auto") leaves the normal approximation only up to here


def _wilcoxon(x: np.ndarray, y: np.ndarray, ranks: SignedRanks | None = None) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank (zeros dropped): scipy.stats.wilcoxon for n <= 50 (exact
    without ties or zeros; with them, permutation for n <= 13, else normal approximation),
    else its normal approximation (tie-corrected variance, no continuity
    correction) computed here with the same formula: scipy's per-call overhead dominated
    the all-pairs comparison of many models. Tested equal to scipy."""
    d = x - y
    if d.size <= _WILCOXON_EXACT_MAX:
        res = sps.wilcoxon(x, y, zero_method="wilcox")
        return float(res.statistic), float(res.pvalue)
    sr = signed_rank_sums(d) if ranks is None else ranks
    count, r_plus, r_minus = float(sr.count), sr.r_plus, sr.r_minus
    mn = count * (count + 1.0) * 0.25
    se = math.sqrt((count * (count + 1.0) * (2.0 * count + 1.0) - sr.tie_term / 2) / 24)
    z = (r_plus - mn) / se
    return min(r_plus, r_minus), float(2 * ndtr(-abs(z)))


def paired_test(a: object, b: object, test: Literal["wilcoxon", "t"] = "wilcoxon", *,
                _ranks: SignedRanks | None = None) -> TestResult:
    """Paired test on per-prompt values: Wilcoxon signed-rank (default) or paired t.
    _ranks: signed_rank_sums(a - b) when the caller has it."""
    x, y = finite_pairs(a, b)
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
            stat, p = _wilcoxon(x, y, _ranks)
            note = f"{int(np.sum(d == 0))} zero differences dropped" if np.any(d == 0) else ""
        else:
            res = sps.ttest_rel(x, y)
            stat, p = res.statistic, res.pvalue
            note = "all differences equal: zero variance" if np.ptp(d) == 0 else ""
    return TestResult(name, finite_or_none(stat), finite_or_none(p), n, note)


def unpaired_test(a: object, b: object, test: Literal["mann-whitney", "welch"] = "mann-whitney") -> TestResult:
    """Independent samples: Mann-Whitney U (default) or Welch t."""
    x, y = finite_values(a), finite_values(b)
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
    return TestResult(name, finite_or_none(res.statistic), finite_or_none(res.pvalue), n)


def mcnemar_test(a_pass: object, b_pass: object, exact_below: int = 25) -> TestResult:
    """McNemar on paired pass/fail: exact binomial when discordant pairs < 25, else chi-square
    with continuity correction (statistic (|b - c| - 1)^2 / (b + c))."""
    x, y = finite_pairs(a_pass, b_pass)
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
    return TestResult("fisher-exact", finite_or_none(res.statistic), finite_or_none(res.pvalue), n_a + n_b)


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
