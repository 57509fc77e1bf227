"""Rankings from pairwise preferences: a Bradley-Terry model with ties (Davidson 1970), fitted by
maximum likelihood, with intervals from a bootstrap that resamples prompts; the win-rate matrix;
which pairs are distinguishable (Holm-corrected); and position bias of a judge asked in both
orders (`resolve_both_orders`, in core.stats.position_bias, re-exported here).

Preferences are rows (prompt, model_a, model_b, outcome) with outcome "A" (model_a preferred),
"B" (model_b preferred) or "tie". Davidson's model, with log-strengths theta and nu = exp(delta):

    P(i beats j) = e^theta_i / D,  P(tie) = nu e^((theta_i + theta_j) / 2) / D,  D = the sum of the three numerators

Strengths are identified by sum-to-zero (the mean model has strength 0; a difference of 1 is a
factor e in the odds of winning). A weak ridge (RIDGE) keeps them finite when one model wins
every comparison (the maximum-likelihood estimate then does not exist; the note says so).
Without any tie in the data (or ties="split": a tie is half a win for each) the model is the
plain Bradley-Terry model. Methods in prose: core.stats.methods.METHODS ("Rankings").
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from core.stats.agreement import percentile_interval, unit_weights
from core.stats.basics import DEFAULT_ALPHA, DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, _check_confidence
from core.stats.position_bias import PositionBias, preference_frame, resolve_both_orders
from core.stats.significance import adjust_pvalues

RIDGE = 1e-4  # penalty on the squared parameters: finite strengths when a model wins everything
_MAX_ITER = 200
_TOL = 1e-9
__all__ = ["RIDGE", "BradleyTerry", "LeaderboardRow", "PairDifference", "PositionBias", "rank_by_preferences",
           "fit_strengths", "resolve_both_orders"]


@dataclass(frozen=True)
class LeaderboardRow:
    """One model: log-strength (sum-to-zero) with its interval, rank (1 = strongest) and the
    middle 95% of its bootstrap ranks, and its record."""

    model: str
    strength: Interval
    rank: int
    rank_low: int
    rank_high: int
    wins: float
    losses: float
    ties: float


@dataclass(frozen=True)
class PairDifference:
    """strength(model_a) - strength(model_b), model_a ranked higher; distinguishable when the
    adjusted bootstrap p-value is below alpha."""

    model_a: str
    model_b: str
    difference: Interval
    p_value: float | None
    p_adjusted: float | None
    distinguishable: bool


@dataclass(frozen=True)
class BradleyTerry:
    leaderboard: tuple[LeaderboardRow, ...]  # by rank
    pairs: tuple[PairDifference, ...]
    win_rates: pd.DataFrame  # row model's share of wins against the column model, a tie counting half
    comparisons: pd.DataFrame  # how many comparisons each pair had
    tie_parameter: Interval | None  # Davidson's nu (None: no ties modelled)
    ties: str
    correction: str
    alpha: float
    n_prompts: int
    n_comparisons: int
    note: str = ""


def _features(pairs: list[tuple[int, int]], k: int, with_ties: bool) -> np.ndarray:
    """(P, outcomes, parameters): each outcome's log-numerator as a linear function of (theta, delta)."""
    f = np.zeros((len(pairs), 3 if with_ties else 2, k + 1 if with_ties else k))
    for p, (i, j) in enumerate(pairs):
        f[p, 0, i] = f[p, 1, j] = 1.0
        if with_ties:
            f[p, 2, i] = f[p, 2, j] = 0.5
            f[p, 2, k] = 1.0
    return f


def _newton(y: np.ndarray, f: np.ndarray, ridge: float = RIDGE) -> tuple[np.ndarray, np.ndarray]:
    """Penalised maximum likelihood for each row of counts y (B, P, outcomes), batched Newton
    steps (at most 1 per coordinate: the log-likelihood is concave). Returns (x, converged)."""
    b, d = y.shape[0], f.shape[2]
    n = y.sum(axis=2)
    x = np.zeros((b, d))
    done = np.zeros(b, dtype=bool)
    eye = np.eye(d)
    for _ in range(_MAX_ITER):
        a = ~done
        eta = np.einsum("pod,bd->bpo", f, x[a])
        p = np.exp(eta - eta.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        g = np.einsum("bpo,pod->bd", y[a] - n[a][..., None] * p, f) - ridge * x[a]
        m = np.einsum("bpo,pod->bpd", p, f)
        info = np.einsum("bp,bpo,pod,poe->bde", n[a], p, f, f) - np.einsum("bp,bpd,bpe->bde", n[a], m, m) + ridge * eye
        step = np.linalg.solve(info, g[..., None])[..., 0]
        big = np.abs(step).max(axis=1, keepdims=True)
        step = step / np.maximum(big, 1.0)
        x[a] += step
        done[np.flatnonzero(a)[big[:, 0] < _TOL]] = True
        if done.all():
            break
    return x, done


def fit_strengths(counts: np.ndarray, pairs: list[tuple[int, int]], k: int, with_ties: bool) -> tuple[np.ndarray, float | None]:
    """(sum-to-zero log-strengths, Davidson's nu or None) from counts (P, 3): for each pair (i, j)
    the wins of i, the wins of j and the ties."""
    y = counts if with_ties else counts[:, :2] + counts[:, 2:3] / 2
    x, _ = _newton(y[None], _features(pairs, k, with_ties))
    theta = x[0, :k] - x[0, :k].mean()
    return theta, float(np.exp(x[0, k])) if with_ties else None


def _tables(df: pd.DataFrame, models: list[str]) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """Per-prompt counts (prompts, P, 3) over the model pairs (i < j): i won, j won, tie."""
    index = {m: i for i, m in enumerate(models)}
    pairs = list(combinations(range(len(models)), 2))
    pair_of = {pq: p for p, pq in enumerate(pairs)}
    prompts, pcode = np.unique(df["prompt"].astype(str).to_numpy(), return_inverse=True)
    ia, ib = df["model_a"].map(index).to_numpy(), df["model_b"].map(index).to_numpy()
    swap = ia > ib
    pair = np.array([pair_of[(min(a, c), max(a, c))] for a, c in zip(ia, ib)], dtype=int)
    out = df["outcome"].map({"A": 0, "B": 1, "tie": 2}).to_numpy()
    out = np.where(swap & (out < 2), 1 - out, out)
    counts = np.zeros((len(prompts), len(pairs), 3))
    np.add.at(counts, (pcode, pair, out), 1.0)
    return counts, pairs, prompts


def _notes(total: np.ndarray, pairs: list[tuple[int, int]], k: int) -> str:
    beat = np.zeros((k, k))
    for (i, j), (wi, wj, t) in zip(pairs, total):
        beat[i, j] += wi + t
        beat[j, i] += wj + t
    n_weak, _ = connected_components(beat + beat.T > 0, directed=False)
    if n_weak > 1:
        return "some models were never compared, directly or through others: their strengths are not comparable"
    n_strong, _ = connected_components(beat > 0, directed=True, connection="strong")
    if n_strong > 1:
        return ("a model (or group) won, or lost, every comparison with the others: the maximum-likelihood strengths do not "
                f"exist, a weak ridge ({RIDGE:g}) keeps them finite and their intervals are wide")
    return ""


def rank_by_preferences(preferences: Any, ties: Literal["davidson", "split"] = "davidson", confidence: float = DEFAULT_CONFIDENCE,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, alpha: float = DEFAULT_ALPHA,
                  correction: Literal["holm", "bh", "none"] = "holm") -> BradleyTerry:
    """Leaderboard, distinguishable pairs and win rates from preferences (rows or a DataFrame with
    prompt, model_a, model_b, outcome); intervals from one bootstrap over prompts (percentile)."""
    _check_confidence(confidence)
    if ties not in ("davidson", "split"):
        raise ValueError(f"unknown ties {ties!r}: use 'davidson' or 'split'")
    df = preference_frame(preferences)
    models = sorted(set(df["model_a"]) | set(df["model_b"]))
    if len(models) < 2:
        raise ValueError("a ranking needs preferences between at least two models")
    counts, pairs, prompts = _tables(df, models)
    k, total = len(models), counts.sum(axis=0)
    with_ties = ties == "davidson" and total[:, 2].sum() > 0
    f = _features(pairs, k, with_ties)
    y_of = (lambda c: c) if with_ties else (lambda c: c[..., :2] + c[..., 2:3] / 2)
    x, _ = _newton(y_of(total)[None], f)
    w = unit_weights(len(prompts), None, n_resamples, seed)
    xb, ok = _newton(y_of(np.einsum("bu,upo->bpo", w, counts)), f)
    xb[~ok] = np.nan
    theta, theta_b = x[0, :k] - x[0, :k].mean(), xb[:, :k] - xb[:, :k].mean(axis=1, keepdims=True)
    iv = dict(method="cluster-bootstrap", confidence=confidence, n=len(prompts), n_resamples=n_resamples, seed=seed)
    note = _notes(total, pairs, k)
    rows = _leaderboard(models, theta, theta_b, total, pairs, iv)
    nu = percentile_interval(float(np.exp(x[0, k])), np.exp(xb[:, k]), **iv) if with_ties else None
    return BradleyTerry(rows, _pair_differences(rows, models, theta, theta_b, iv, alpha, correction),
                        *_win_rates(models, pairs, total), nu, ties if with_ties or ties == "split" else "none in the data",
                        correction, alpha, len(prompts), int(len(df)), note)


def _leaderboard(models: list[str], theta: np.ndarray, theta_b: np.ndarray, total: np.ndarray,
                 pairs: list[tuple[int, int]], iv: dict) -> tuple[LeaderboardRow, ...]:
    order = np.argsort(-theta, kind="stable")
    ranks_b = np.argsort(np.argsort(-theta_b, axis=1, kind="stable"), axis=1) + 1
    ranks_b = ranks_b[np.isfinite(theta_b).all(axis=1)]
    a = (1 - iv["confidence"]) / 2
    record = np.zeros((len(models), 3))
    for (i, j), (wi, wj, t) in zip(pairs, total):
        record[i] += (wi, wj, t)
        record[j] += (wj, wi, t)
    rows = []
    for rank, i in enumerate(order, start=1):
        lo, hi = np.quantile(ranks_b[:, i], (a, 1 - a)) if ranks_b.size else (rank, rank)
        rows.append(LeaderboardRow(models[i], percentile_interval(float(theta[i]), theta_b[:, i], **iv), rank,
                                   int(np.floor(lo)), int(np.ceil(hi)), *map(float, record[i])))
    return tuple(rows)


def _pair_differences(rows: tuple[LeaderboardRow, ...], models: list[str], theta: np.ndarray, theta_b: np.ndarray,
                      iv: dict, alpha: float, correction: str) -> tuple[PairDifference, ...]:
    """Every pair, the higher-ranked model first; bootstrap p-value 2 min(P(d <= 0), P(d >= 0))
    with the +1 correction, adjusted over all pairs."""
    index = {m: i for i, m in enumerate(models)}
    out, pvals = [], []
    for ra, rb in combinations(rows, 2):
        i, j = index[ra.model], index[rb.model]
        d = theta_b[:, i] - theta_b[:, j]
        d = d[np.isfinite(d)]
        p = float(min(1.0, 2 * min((d <= 0).sum() + 1, (d >= 0).sum() + 1) / (d.size + 1))) if d.size else None
        out.append((ra.model, rb.model, percentile_interval(float(theta[i] - theta[j]), theta_b[:, i] - theta_b[:, j], **iv), p))
        pvals.append(p)
    adj = adjust_pvalues(pvals, correction)  # type: ignore[arg-type]
    return tuple(PairDifference(a, b, iv_, p, None if not np.isfinite(q) else float(q), bool(np.isfinite(q) and q < alpha))
                 for (a, b, iv_, p), q in zip(out, adj))


def _win_rates(models: list[str], pairs: list[tuple[int, int]], total: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    k = len(models)
    wins, n = np.zeros((k, k)), np.zeros((k, k))
    for (i, j), (wi, wj, t) in zip(pairs, total):
        wins[i, j], wins[j, i] = wi + t / 2, wj + t / 2
        n[i, j] = n[j, i] = wi + wj + t
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, wins / n, np.nan)
    return pd.DataFrame(rate, index=models, columns=models), pd.DataFrame(n.astype(int), index=models, columns=models)

