"""Can a judge stand in for the human raters? Spearman correlation and kappa between a judge and
the humans on the samples both rated, the humans' agreement with each other, and a plain
sentence with the verdict.

The rule (STAND_IN_KAPPA, documented in METHODS): the judge can stand in when
  1. its agreement with the raters is substantial: the lower bound of the interval of the
     judge-rater kappa (mean over raters) is at least 0.6 (Landis and Koch 1977), and
  2. it agrees with the raters about as well as they agree with each other: the interval of
     (judge-rater kappa - rater-rater kappa), from one joint bootstrap, does not lie below 0.
With a single rater only (1) can be checked, and the sentence says so.
Ratings (0-10) use quadratic-weighted kappa; preferences (nominal) use unweighted kappa.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from core.stats.agreement import (
    Level,
    RatingMatrix,
    _as_matrix,
    _categories,
    _disagreement_weights,
    _kappa_from_tables,
    _kappa_tables,
    _method,
    percentile_interval,
    unit_weights,
)
from core.stats.basics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, _check_confidence, finite_or_none

STAND_IN_KAPPA = 0.6  # lower bound the judge-rater kappa must reach ("substantial", Landis and Koch 1977)


@dataclass(frozen=True)
class JudgeAgreement:
    """A judge against human raters on the units both rated.

    judge_kappa: mean over raters of kappa(judge, rater); human_kappa: mean over pairs of raters
    of kappa(rater, rater) (None with one rater); difference: judge_kappa - human_kappa;
    spearman: judge score against the raters' mean rating (None for preferences)."""

    level: str
    weights: str | None
    n_units: int
    n_raters: int
    judge_kappa: Interval
    human_kappa: Interval | None
    difference: Interval | None
    spearman: Interval | None
    stands_in: bool
    sentence: str


def _mean_pair_kappa(cols: Sequence[tuple[np.ndarray, np.ndarray]], cats: np.ndarray, weight: np.ndarray,
                     w: np.ndarray) -> np.ndarray:
    """(B,) mean kappa over the column pairs (pairs with fewer than two common units left out;
    NaN in a resample where no pair is defined)."""
    per_pair = []
    for x, y in cols:
        if (np.isfinite(x) & np.isfinite(y)).sum() >= 2:
            per_pair.append(_kappa_from_tables(_kappa_tables(x, y, cats, w), weight))
    if not per_pair:
        return np.full(w.shape[0], np.nan)
    stacked = np.vstack(per_pair)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(stacked)
        return np.where(defined.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(defined.sum(axis=0), 1), np.nan)


def _weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, U) mid-ranks of x in each resample where unit u appears w[b, u] times (ties averaged)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    group = np.empty(x.size, dtype=int)
    group[order] = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    gw = np.add.reduceat(w[:, order], starts, axis=1)
    below = np.cumsum(gw, axis=1) - gw
    return (below + (gw + 1) / 2)[:, group]


def weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) Spearman's rho of the resamples given by the unit counts w (B, U): the Pearson
    correlation of mid-ranks, as scipy.stats.spearmanr computes it on the expanded sample."""
    rx, ry = _weighted_ranks(x, w), _weighted_ranks(y, w)
    tot = w.sum(axis=1, keepdims=True)
    mx, my = (w * rx).sum(axis=1, keepdims=True) / tot, (w * ry).sum(axis=1, keepdims=True) / tot
    cov = (w * (rx - mx) * (ry - my)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt((w * (rx - mx) ** 2).sum(axis=1) * (w * (ry - my) ** 2).sum(axis=1))


def judge_vs_raters(judge: Sequence[float], humans: RatingMatrix | Any, level: Level = "interval",
                    clusters: Sequence[Any] | None = None, confidence: float = DEFAULT_CONFIDENCE,
                    n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> JudgeAgreement:
    """The judge (one value per unit, NaN: not judged) against the raters (units x raters, same
    unit order) on the units the judge and at least one rater rated; one bootstrap over units
    (or over prompts: clusters, one per unit) for every interval."""
    _check_confidence(confidence)
    j, h = np.asarray(judge, dtype=float), _as_matrix(humans)
    if j.shape[0] != h.shape[0]:
        raise ValueError(f"the judge and the raters must rate the same units ({j.shape[0]} and {h.shape[0]} rows)")
    keep = np.isfinite(j) & np.isfinite(h).any(axis=1)
    j, h = j[keep], h[:, np.isfinite(h[keep]).any(axis=0)][keep]
    cl = None if clusters is None else [c for c, k in zip(clusters, keep) if k]
    weights = None if level == "nominal" else "quadratic"
    cats = _categories(j, h.ravel())
    wmat = _disagreement_weights(cats, weights) if cats.size else np.zeros((0, 0))
    w = unit_weights(j.size, cl, n_resamples, seed)
    ones = np.ones((1, j.size))
    iv = dict(method=_method(cl), confidence=confidence, n=int(j.size), n_resamples=n_resamples, seed=seed)

    def stat(cols: list, fn=_mean_pair_kappa) -> tuple[float | None, np.ndarray]:
        if not cols or j.size < 2 or cats.size < 2:
            return None, np.full(n_resamples, np.nan)
        return finite_or_none(fn(cols, cats, wmat, ones)[0]), fn(cols, cats, wmat, w)

    jk, jk_b = stat([(j, h[:, r]) for r in range(h.shape[1])])
    judge_kappa = percentile_interval(jk, jk_b, **iv, note=_why_none(jk, j.size, cats.size))
    human_kappa = difference = None
    if h.shape[1] >= 2:
        hk, hk_b = stat([(h[:, a], h[:, b]) for a, b in combinations(range(h.shape[1]), 2)])
        human_kappa = percentile_interval(hk, hk_b, **iv, note=_why_none(hk, j.size, cats.size, "no two raters rated the same units"))
        diff = None if jk is None or hk is None else jk - hk
        difference = percentile_interval(diff, jk_b - hk_b, **iv, note="" if diff is not None else "either kappa undefined")
    spearman = None if level == "nominal" else _spearman(j, h, w, iv)
    stands, sentence = stand_in_verdict(judge_kappa, difference, h.shape[1], confidence)
    return JudgeAgreement(level, weights, int(j.size), int(h.shape[1]), judge_kappa, human_kappa, difference,
                          spearman, stands, sentence)


def _why_none(est: float | None, n: int, n_cats: int, default: str = "") -> str:
    if est is not None:
        return ""
    if n < 2:
        return "fewer than two samples rated by both the judge and a rater"
    return "a single value used throughout: kappa undefined" if n_cats < 2 else default or "kappa undefined for these data"


def _spearman(j: np.ndarray, h: np.ndarray, w: np.ndarray, iv: dict) -> Interval:
    """Spearman's rho between the judge and the raters' mean rating of each unit."""
    mean_h = np.nanmean(h, axis=1)
    if j.size < 3 or np.unique(j).size < 2 or np.unique(mean_h).size < 2:
        return Interval(None, None, None, iv["method"], iv["confidence"], iv["n"], iv["n_resamples"], iv["seed"],
                        "fewer than three samples, or no variation: Spearman's rho undefined")
    est = finite_or_none(weighted_spearman(j, mean_h, np.ones((1, j.size)))[0])
    return percentile_interval(est, weighted_spearman(j, mean_h, w), **iv)


def stand_in_verdict(judge_kappa: Interval, difference: Interval | None, n_raters: int,
                     confidence: float = DEFAULT_CONFIDENCE) -> tuple[bool, str]:
    """(whether the judge can stand in for the raters, a plain sentence saying so and why)."""
    level = f"{confidence * 100:g}%"
    bar = f"{STAND_IN_KAPPA:g}"
    if not judge_kappa.is_defined:
        return False, ("Whether the judge can stand in for the raters cannot be said: its agreement with them "
                       f"could not be measured ({judge_kappa.note or 'too few samples rated by both'}).")
    if judge_kappa.low < STAND_IN_KAPPA:  # type: ignore[operator]
        return False, ("The judge cannot stand in for the raters yet: its agreement with them is not shown to be "
                       f"substantial (the lower {level} bound of kappa is below {bar}).")
    if difference is not None and difference.is_defined and difference.high < 0:  # type: ignore[operator]
        return False, ("The judge cannot stand in for the raters: it agrees with them less than they agree with "
                       f"each other (the {level} interval of the difference in kappa lies below zero).")
    if n_raters < 2 or difference is None or not difference.is_defined:
        return True, ("The judge can stand in for the rater: its agreement with the rater is substantial (the lower "
                      f"{level} bound of kappa is at least {bar}); how well raters agree with each other could not be "
                      "measured, so check again with a second rater.")
    return True, ("The judge can stand in for the raters: its agreement with them is substantial (the lower "
                  f"{level} bound of kappa is at least {bar}) and not clearly below their agreement with each other.")
