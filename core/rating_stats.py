"""What the human ratings of a run say (issue 14, items 4-6): mean rating per model with an interval,
agreement between raters, agreement of the LLM judge with them, and the Bradley-Terry ranking
from the pairwise preferences. One `human_ratings(store, run_id)` call; the Rate page, the
reports and the exports show its parts.

Statistics use each (rater, unit)'s latest rating (core.queries.ratings.latest). Every interval
resamples prompts (a prompt's units move together), with the confidence, resample count and seed
recorded in the Interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import ratings as R
from core.queries import judgements as jq
from core.queries import ratings as rq
from core.stats import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval
from core.stats.agreement import category_counts, cohens_kappa_ci, fleiss_kappa_ci, krippendorff_alpha_ci, preference_codes
from core.stats.bradley_terry import BradleyTerry, rank_by_preferences
from core.stats.judge_agreement import JudgeAgreement, judge_vs_raters
from core.stats.position_bias import PositionBias, resolve_both_orders
from core.store import Store

RESAMPLES = 1000
RATING_METRIC = "human_rating"  # the metric's name in KPI tables and exports


@dataclass(frozen=True)
class Agreement:
    statistic: str  # "Krippendorff's alpha (interval)", "Cohen's kappa", "Fleiss' kappa"
    interval: Interval
    raters: int


@dataclass(frozen=True)
class HumanRatings:
    run_id: str
    models: tuple[R.ModelRating, ...]  # absolute ratings per model
    counts: dict[str, tuple[int, int]]  # mode -> (ratings in the statistics, raters)
    absolute_agreement: Agreement | None
    pairwise_agreement: Agreement | None
    judge_absolute: JudgeAgreement | None
    judge_pairwise: JudgeAgreement | None
    ranking: BradleyTerry | None
    ranking_note: str = ""

    @property
    def empty(self) -> bool:
        return not any(n for n, _ in self.counts.values())


def human_ratings(store: Store, run_id: str, *, confidence: float = DEFAULT_CONFIDENCE, n_resamples: int = RESAMPLES,
                  seed: int = DEFAULT_SEED) -> HumanRatings:
    iv = dict(confidence=confidence, n_resamples=n_resamples, seed=seed)
    absolute, pairwise = rq.latest(store, run_id, "absolute"), rq.latest(store, run_id, "pairwise")
    counts = {m: (len(df), int(df["rater"].nunique()) if len(df) else 0)
              for m, df in (("absolute", absolute), ("pairwise", pairwise))}
    models = tuple(R.model_ratings(absolute, **iv))
    ranking, note = _ranking(pairwise, **iv)
    return HumanRatings(run_id, models, counts, _absolute_agreement(absolute, **iv), _pairwise_agreement(pairwise, **iv),
                        _judge_absolute(store, run_id, absolute, **iv), _judge_pairwise(store, run_id, pairwise, **iv),
                        ranking, note)


def _absolute_agreement(latest: pd.DataFrame, **iv) -> Agreement | None:
    m = R.absolute_matrix(latest)
    raters = [c for c in m.columns if c not in ("item_id", "repeat", "model")]
    if len(raters) < 2:
        return None
    ci = krippendorff_alpha_ci(m[raters].to_numpy(float), "interval", clusters=list(m["item_id"]), **iv)
    return Agreement("Krippendorff's alpha (interval)", ci, len(raters))


def _pairwise_agreement(latest: pd.DataFrame, **iv) -> Agreement | None:
    m = R.pairwise_matrix(latest)
    raters = [c for c in m.columns if c not in ("item_id", "repeat", "first", "second")]
    if len(raters) < 2:
        return None
    codes = np.column_stack([preference_codes(m[r]) for r in raters])
    clusters = list(m["item_id"])
    if len(raters) == 2:
        return Agreement("Cohen's kappa", cohens_kappa_ci(codes[:, 0], codes[:, 1], clusters=clusters, **iv), 2)
    ci = fleiss_kappa_ci(category_counts(codes, categories=[0.0, 1.0, 2.0]), clusters=clusters, **iv)
    return Agreement("Fleiss' kappa", ci, len(raters))


def _judge_absolute(store: Store, run_id: str, latest: pd.DataFrame, **iv) -> JudgeAgreement | None:
    """The first judge scorer's scores against the raters' scores on the answers both rated."""
    m = R.absolute_matrix(latest)
    if m.empty:
        return None
    j = jq.latest_judgements(store, run_id)
    j = j[j["status"] == "ok"] if not j.empty else j
    if j.empty:
        return None
    j = j[j["scorer_key"] == sorted(j["scorer_key"])[0]]
    scores = {(str(r.item_id), int(r.repeat), str(r.model)): float(r.score) for r in j.itertuples(index=False)}
    judge = [scores.get((str(i), int(p), str(mo)), np.nan) for i, p, mo in zip(m["item_id"], m["repeat"], m["model"], strict=True)]
    if not np.isfinite(judge).any():
        return None
    raters = [c for c in m.columns if c not in ("item_id", "repeat", "model")]
    return judge_vs_raters(judge, m[raters].to_numpy(float), "interval", clusters=list(m["item_id"]), **iv)


def _judge_pairwise(store: Store, run_id: str, latest: pd.DataFrame, **iv) -> JudgeAgreement | None:
    """The judge's preference (asked in both orders; order-dependent verdicts count as ties) against the raters'."""
    m = R.pairwise_matrix(latest)
    if m.empty:
        return None
    j = jq.pairwise_judgements(store, run_id)
    j = j[j["status"] == "ok"] if not j.empty else j
    if j.empty:
        return None
    winners: dict[tuple, set] = {}
    for r in j.itertuples(index=False):
        key = (str(r.item_id), int(r.repeat), *sorted((str(r.model_a), str(r.model_b))))
        winners.setdefault(key, set()).add(str(r.winner))
    def verdict(key: tuple) -> str | None:
        w = winners.get(key)
        if not w:
            return None
        only = next(iter(w)) if len(w) == 1 else "tie"
        return "tie" if only == "tie" else "A" if only == key[2] else "B"
    keys = zip(m["item_id"].astype(str), m["repeat"].astype(int), m["first"].astype(str), m["second"].astype(str), strict=True)
    judge = preference_codes([verdict(k) for k in keys])
    if not np.isfinite(judge).any():
        return None
    raters = [c for c in m.columns if c not in ("item_id", "repeat", "first", "second")]
    humans = np.column_stack([preference_codes(m[r]) for r in raters])
    return judge_vs_raters(judge, humans, "nominal", clusters=list(m["item_id"]), **iv)


def _ranking(latest: pd.DataFrame, **iv) -> tuple[BradleyTerry | None, str]:
    prefs = R.preferences(latest)
    if prefs.empty:
        return None, "no pairwise ratings yet"
    if len(set(prefs["model_a"]) | set(prefs["model_b"])) < 2:
        return None, "a ranking needs preferences between at least two models"
    return rank_by_preferences(prefs[["prompt", "model_a", "model_b", "outcome"]], **iv), ""


@dataclass(frozen=True)
class JudgePreferences:
    """The LLM judge's pairwise verdicts on a run (`python -m core judge RUN --pairwise A B`): its
    position bias (the share of order-dependent verdicts, which count as ties) and the Bradley-Terry
    ranking from the resolved preferences (None with fewer than two models)."""

    bias: PositionBias
    ranking: BradleyTerry | None


def judge_preferences(store: Store, run_id: str, *, confidence: float = DEFAULT_CONFIDENCE, n_resamples: int = RESAMPLES,
                      seed: int = DEFAULT_SEED) -> JudgePreferences | None:
    """None when the judge gave no pairwise verdict on the run."""
    j = jq.pairwise_judgements(store, run_id)
    j = j[(j["status"] == "ok") & j["preference"].isin(["A", "B", "tie"])] if not j.empty else j
    if j.empty:
        return None
    first = [a if o == "AB" else b for a, b, o in zip(j["model_a"], j["model_b"], j["answer_order"], strict=True)]
    second = [b if o == "AB" else a for a, b, o in zip(j["model_a"], j["model_b"], j["answer_order"], strict=True)]
    unit = [f"{i}\x1f{int(r)}" for i, r in zip(j["item_id"], j["repeat"], strict=True)]  # a repeat is its own pair
    bias = resolve_both_orders(pd.DataFrame({"prompt": unit, "model_a": first, "model_b": second,
                                             "outcome": list(j["preference"])}), confidence)
    prefs = bias.preferences.assign(prompt=bias.preferences["prompt"].str.split("\x1f").str[0])  # clusters: prompts
    models = set(prefs["model_a"]) | set(prefs["model_b"])
    ranking = (rank_by_preferences(prefs, confidence=confidence, n_resamples=n_resamples, seed=seed)
               if len(prefs) and len(models) >= 2 else None)
    return JudgePreferences(bias, ranking)


def rating_kpi_rows(hr: HumanRatings) -> pd.DataFrame:
    """The mean human rating per model as KPI rows (the long form of core.reports.kpi_frame):
    model, category, kpi, value, low, high, unit, method, confidence, n, n_resamples, seed, note."""
    rows = [{"model": r.model, "category": None, "kpi": RATING_METRIC, "value": r.interval.estimate,
             "low": r.interval.low, "high": r.interval.high, "unit": "points 0-10", "method": r.interval.method,
             "confidence": r.interval.confidence, "n": r.ratings, "n_resamples": r.interval.n_resamples,
             "seed": r.interval.seed,
             "note": f"mean human rating (0-10) of {r.ratings} ratings by {r.raters} rater(s) on {r.prompts} prompts; "
                     f"{r.interval.note}".rstrip("; ")} for r in hr.models]
    return pd.DataFrame(rows, columns=["model", "category", "kpi", "value", "low", "high", "unit", "method", "confidence",
                                       "n", "n_resamples", "seed", "note"])
