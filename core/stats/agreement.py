"""Agreement between raters: Krippendorff's alpha, Cohen's kappa (weighted or not), Fleiss'
kappa, each with a bootstrap interval over units (or over prompts, when several units share a
prompt); the judge-against-humans comparison is in core.stats.judge_agreement (re-exported).

Ratings are a units x raters matrix (`RatingMatrix`), NaN where a rater did not rate a unit;
`rating_matrix(records)` builds one from long records (unit, rater, value), the later record of
a (unit, rater) pair winning (a correction is a new row). Values are numbers: a 0-10 rating, or
a category code (pairwise preferences: e.g. A=0, tie=1, B=2, see `PREFERENCE_CODES`).

Degenerate data (no unit rated twice, one value used by everyone) give an Interval with a note,
never an exception. Methods in prose: core.stats.methods.METHODS ("Agreement").
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.stats.basics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, _check_confidence, finite_or_none

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None
PREFERENCE_CODES: dict[str, float] = {"A": 0.0, "tie": 1.0, "B": 2.0}
_MIN_DEFINED = 0.9  # an interval needs at least this share of resamples with a defined statistic


@dataclass(frozen=True)
class RatingMatrix:
    """Ratings: values[u, r] is rater r's value for unit u (NaN: not rated)."""

    units: tuple[Any, ...]
    raters: tuple[Any, ...]
    values: np.ndarray


def rating_matrix(records: Any, unit: str = "unit", rater: str = "rater", value: str = "value") -> RatingMatrix:
    """A RatingMatrix from long records (a DataFrame or an iterable of mappings) in the order they
    were made: for a (unit, rater) pair rated twice the later record wins."""
    df = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    missing = [c for c in (unit, rater, value) if c not in df.columns]
    if missing:
        raise ValueError(f"rating records need columns {unit!r}, {rater!r}, {value!r} (missing: {', '.join(missing)})")
    df = df[[unit, rater, value]].drop_duplicates([unit, rater], keep="last")
    vals = pd.to_numeric(df[value], errors="coerce")
    wide = pd.DataFrame({"u": df[unit].to_numpy(), "r": df[rater].to_numpy(), "v": vals.to_numpy(float)})
    table = wide.pivot(index="u", columns="r", values="v")
    return RatingMatrix(tuple(table.index), tuple(table.columns), table.to_numpy(float))


def _as_matrix(ratings: RatingMatrix | Any) -> np.ndarray:
    values = ratings.values if isinstance(ratings, RatingMatrix) else ratings
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"ratings must be a units x raters matrix (got {arr.ndim} dimensions)")
    return arr


# =========================================================================== resampling units


def unit_weights(n_units: int, clusters: Sequence[Any] | None, n_resamples: int, seed: int) -> np.ndarray:
    """(B, n_units): how often each unit is drawn in each resample. Without clusters each unit is
    drawn independently; with clusters (a prompt per unit) prompts are drawn with all their units."""
    if clusters is None:
        codes, k = np.arange(n_units), n_units
    else:
        if len(clusters) != n_units:
            raise ValueError(f"clusters must give one prompt per unit ({len(clusters)} for {n_units} units)")
        codes, uniques = pd.factorize(pd.Series(list(clusters), dtype=object))
        k = len(uniques)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, max(k, 1), (n_resamples, k))
    flat = (idx + (np.arange(n_resamples) * k)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_resamples * k).reshape(n_resamples, k).astype(float)
    return counts[:, codes]


def percentile_interval(estimate: float | None, dist: np.ndarray, method: str, confidence: float, n: int,
                        n_resamples: int, seed: int, note: str = "") -> Interval:
    """Percentile bootstrap interval; resamples where the statistic is undefined are dropped (the
    note says how many), and no interval is given when more than 10% are."""
    if estimate is None:
        return Interval(None, None, None, method, confidence, n, n_resamples, seed, note or "not defined for these data")
    finite = dist[np.isfinite(dist)]
    dropped = dist.size - finite.size
    if finite.size < _MIN_DEFINED * dist.size or finite.size == 0:
        return Interval(estimate, None, None, method, confidence, n, n_resamples, seed,
                        _join(note, f"undefined in {dropped} of {dist.size} resamples: no interval"))
    if dropped:
        note = _join(note, f"undefined in {dropped} of {dist.size} resamples (dropped)")
    a = (1 - confidence) / 2
    low, high = np.quantile(finite, (a, 1 - a))
    return Interval(estimate, float(low), float(high), method, confidence, n, n_resamples, seed, note)


def _method(clusters: Sequence[Any] | None) -> str:
    """'percentile-bootstrap' over units; 'cluster-bootstrap' over prompts (percentile interval)."""
    return "percentile-bootstrap" if clusters is None else "cluster-bootstrap"


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# =========================================================================== Krippendorff's alpha


def _distance(values: np.ndarray, level: Level, n_c: np.ndarray | None = None) -> np.ndarray:
    """Squared difference function delta^2 between the distinct values (Krippendorff 2011).
    Ordinal needs the values' pairable counts n_c (one row per resample, or one vector)."""
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((c - k) / (c + k)) ** 2
        return np.nan_to_num(d)  # 0/0 only when c == k == 0
    if level == "ordinal":
        cum = np.cumsum(n_c, axis=-1)
        lo = np.minimum(np.arange(values.size)[:, None], np.arange(values.size)[None, :])
        hi = np.maximum(np.arange(values.size)[:, None], np.arange(values.size)[None, :])
        start = cum[..., lo] - n_c[..., lo]  # counts below the lower value
        between = cum[..., hi] - start
        return (between - (n_c[..., lo] + n_c[..., hi]) / 2) ** 2
    raise ValueError(f"unknown level {level!r}: use 'nominal', 'ordinal', 'interval' or 'ratio'")


def _alpha_parts(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairable units' value counts (U, V), 1/(m_u - 1) and the distinct values."""
    m = np.isfinite(matrix).sum(axis=1)
    pairable = matrix[m >= 2]
    values = np.unique(pairable[np.isfinite(pairable)])
    counts = np.stack([(pairable == v).sum(axis=1) for v in values], axis=1).astype(float) if values.size else np.zeros((0, 0))
    return counts, 1.0 / (m[m >= 2] - 1.0), values


def _alpha_from(counts: np.ndarray, inv_m1: np.ndarray, values: np.ndarray, level: Level, w: np.ndarray) -> np.ndarray:
    """alpha for each row of unit weights w (B, U): 1 - (n - 1) D_o / D_e over the coincidences."""
    n_c = w @ counts  # (B, V): pairable values of each kind
    n = n_c.sum(axis=1)
    if level == "ordinal":
        delta = _distance(values, level, n_c)  # (B, V, V)
        o_unit = np.einsum("uc,uk->uck", counts, counts) - np.einsum("uc,ck->uck", counts, np.eye(values.size))
        d_o = np.einsum("bu,u,uck,bck->b", w, inv_m1, o_unit, delta)
        d_e = np.einsum("bc,bk,bck->b", n_c, n_c, delta)
    else:
        delta = _distance(values, level)
        per_unit = (np.einsum("uc,uk,ck->u", counts, counts, delta) - counts @ np.diag(delta)) * inv_m1
        d_o = w @ per_unit
        d_e = np.einsum("bc,bk,ck->b", n_c, n_c, delta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - (n - 1.0) * d_o / d_e


def krippendorff_alpha(ratings: RatingMatrix | Any, level: Level = "interval") -> float | None:
    """Krippendorff's alpha (missing ratings allowed); None when undefined (fewer than two
    pairable values, or no variation at all)."""
    counts, inv_m1, values = _alpha_parts(_as_matrix(ratings))
    if counts.shape[0] == 0 or values.size < 2:
        return None
    return finite_or_none(_alpha_from(counts, inv_m1, values, level, np.ones((1, counts.shape[0])))[0])


def krippendorff_alpha_ci(ratings: RatingMatrix | Any, level: Level = "interval", clusters: Sequence[Any] | None = None,
                          confidence: float = DEFAULT_CONFIDENCE, n_resamples: int = DEFAULT_RESAMPLES,
                          seed: int = DEFAULT_SEED) -> Interval:
    """Krippendorff's alpha with a percentile bootstrap interval over units (clusters: the prompt
    of each unit, to resample prompts with all their units)."""
    _check_confidence(confidence)
    matrix = _as_matrix(ratings)
    method = _method(clusters)
    est = krippendorff_alpha(matrix, level)
    pairable = np.isfinite(matrix).sum(axis=1) >= 2
    n = int(pairable.sum())
    if est is None:
        note = "no unit rated by two raters" if n == 0 else "raters used a single value throughout: alpha undefined"
        return Interval(None, None, None, method, confidence, n, n_resamples, seed, note)
    counts, inv_m1, values = _alpha_parts(matrix)
    w = unit_weights(matrix.shape[0], clusters, n_resamples, seed)[:, pairable]
    return percentile_interval(est, _alpha_from(counts, inv_m1, values, level, w), method, confidence, n, n_resamples, seed)


# =========================================================================== Cohen's kappa


def _categories(*arrays: np.ndarray, categories: Sequence[float] | None = None) -> np.ndarray:
    if categories is not None:
        return np.asarray(categories, dtype=float)
    joined = np.concatenate([a[np.isfinite(a)] for a in arrays])
    return np.unique(joined)


def _disagreement_weights(cats: np.ndarray, weights: Weights) -> np.ndarray:
    """0 on the diagonal; 1 off it (unweighted), or |i - j| / range (linear) and its square
    (quadratic) on the categories' numeric values."""
    if weights is None:
        return 1.0 - np.eye(cats.size)
    span = cats.max() - cats.min() if cats.size > 1 else 1.0
    d = np.abs(cats[:, None] - cats[None, :]) / (span or 1.0)
    if weights == "linear":
        return d
    if weights == "quadratic":
        return d ** 2
    raise ValueError(f"unknown weights {weights!r}: use None, 'linear' or 'quadratic'")


def _pair_table(a: np.ndarray, b: np.ndarray, cats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's cell in the V x V table (-1 where either is missing or outside the categories)."""
    ia = np.searchsorted(cats, a)
    ib = np.searchsorted(cats, b)
    ok = np.isfinite(a) & np.isfinite(b)
    ok &= (ia < cats.size) & (ib < cats.size)
    ok[ok] &= (cats[ia[ok]] == a[ok]) & (cats[ib[ok]] == b[ok])
    return np.where(ok, ia * cats.size + np.minimum(ib, cats.size - 1), -1), ok


def _kappa_from_tables(tables: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """kappa for each (B, V, V) contingency table: 1 - sum(w * observed) / sum(w * expected)."""
    total = tables.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = tables / total[:, None, None]
        exp = obs.sum(axis=2)[:, :, None] * obs.sum(axis=1)[:, None, :]
        return 1.0 - np.einsum("bij,ij->b", obs, weight) / np.einsum("bij,ij->b", exp, weight)


def _kappa_tables(a: np.ndarray, b: np.ndarray, cats: np.ndarray, w: np.ndarray) -> np.ndarray:
    cell, ok = _pair_table(a, b, cats)
    onehot = np.zeros((a.size, cats.size ** 2))
    onehot[np.flatnonzero(ok), cell[ok]] = 1.0
    return (w @ onehot).reshape(w.shape[0], cats.size, cats.size)


def cohens_kappa(a: Sequence[float], b: Sequence[float], weights: Weights = None,
                 categories: Sequence[float] | None = None) -> float | None:
    """Cohen's kappa between two raters on the units both rated (NaN: not rated); weighted
    kappa with linear or quadratic disagreement weights. None when undefined (chance agreement 1)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"the two raters' ratings must have equal length (got {x.size} and {y.size})")
    cats = _categories(x, y, categories=categories)
    if cats.size == 0:
        return None
    tables = _kappa_tables(x, y, cats, np.ones((1, x.size)))
    return finite_or_none(_kappa_from_tables(tables, _disagreement_weights(cats, weights))[0])


def cohens_kappa_ci(a: Sequence[float], b: Sequence[float], weights: Weights = None,
                    categories: Sequence[float] | None = None, clusters: Sequence[Any] | None = None,
                    confidence: float = DEFAULT_CONFIDENCE, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED) -> Interval:
    """Cohen's kappa with a percentile bootstrap interval over units (or prompts: clusters)."""
    _check_confidence(confidence)
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    method = _method(clusters)
    est = cohens_kappa(x, y, weights, categories)
    n = int((np.isfinite(x) & np.isfinite(y)).sum())
    if est is None:
        note = "no unit rated by both" if n == 0 else "both raters used one category throughout: kappa undefined"
        return Interval(None, None, None, method, confidence, n, n_resamples, seed, note)
    cats = _categories(x, y, categories=categories)
    w = unit_weights(x.size, clusters, n_resamples, seed)
    dist = _kappa_from_tables(_kappa_tables(x, y, cats, w), _disagreement_weights(cats, weights))
    return percentile_interval(est, dist, method, confidence, n, n_resamples, seed)


# =========================================================================== Fleiss' kappa


def category_counts(ratings: RatingMatrix | Any, categories: Sequence[float] | None = None) -> np.ndarray:
    """(units, categories): how many raters put each unit in each category."""
    matrix = _as_matrix(ratings)
    cats = _categories(matrix.ravel(), categories=categories)
    return np.stack([(matrix == c).sum(axis=1) for c in cats], axis=1).astype(float) if cats.size else np.zeros((matrix.shape[0], 0))


def _fleiss_from(counts: np.ndarray, w: np.ndarray) -> np.ndarray:
    n_i = counts.sum(axis=1)
    p_i = ((counts ** 2).sum(axis=1) - n_i) / (n_i * (n_i - 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_bar = (w @ p_i) / w.sum(axis=1)
        p_j = (w @ counts) / (w @ n_i)[:, None]
        p_e = (p_j ** 2).sum(axis=1)
        return (p_bar - p_e) / (1.0 - p_e)


def fleiss_kappa(counts: Any) -> float | None:
    """Fleiss' kappa from a (units, categories) table of rater counts (`category_counts`).
    Units with fewer than two ratings are left out; with unequal rater counts per unit each
    unit's agreement uses its own count (the usual generalisation). None when undefined."""
    c = np.asarray(counts, dtype=float)
    c = c[c.sum(axis=1) >= 2]
    if c.shape[0] == 0:
        return None
    return finite_or_none(_fleiss_from(c, np.ones((1, c.shape[0])))[0])


def fleiss_kappa_ci(counts: Any, clusters: Sequence[Any] | None = None, confidence: float = DEFAULT_CONFIDENCE,
                    n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval:
    """Fleiss' kappa with a percentile bootstrap interval over units (or prompts: clusters)."""
    _check_confidence(confidence)
    c = np.asarray(counts, dtype=float)
    keep = c.sum(axis=1) >= 2
    method = _method(clusters)
    est = fleiss_kappa(c)
    n = int(keep.sum())
    if est is None:
        note = "no unit rated by two raters" if n == 0 else "every rating in one category: kappa undefined"
        return Interval(None, None, None, method, confidence, n, n_resamples, seed, note)
    w = unit_weights(c.shape[0], clusters, n_resamples, seed)[:, keep]
    return percentile_interval(est, _fleiss_from(c[keep], w), method, confidence, n, n_resamples, seed)


def preference_codes(verdicts: Iterable[str | None]) -> np.ndarray:
    """Pairwise verdicts ("A", "B", "tie"; None: not rated) as category codes for the kappas."""
    out = []
    for v in verdicts:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(np.nan)
        elif v in PREFERENCE_CODES:
            out.append(PREFERENCE_CODES[v])
        else:
            raise ValueError(f"unknown preference {v!r}: use 'A', 'B' or 'tie'")
    return np.asarray(out, dtype=float)

