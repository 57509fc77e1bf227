"""Blind human ratings of a run's answers (issue 14): the rater's queue, submissions, statistics.

A rater rates a run in one of two modes: absolute (a score on SCALE for one answer, with an
optional comment) or pairwise (Answer A, Answer B or a tie, for two models' answers to the same
prompt and repeat). Model names are never part of what a rater is shown: a Unit carries them for
the submission only. Each rater's session on a (run, mode) has a seed stored in the store; the
queue's order and the side each model takes are a hash of that seed and the unit, so they are
the same every time the rater comes back and differ between raters, and a new answer in the run
does not reshuffle the rest.

Ratings are append-only (core.store.Store.append_rating): a correction, or a second tab
submitting the same unit, is a new row; the statistics use each (rater, unit)'s latest row
(core.queries.ratings.latest), the history shows every row.
"""
from __future__ import annotations

import hashlib
import math
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import pandas as pd

from core import prompts
from core.queries import ratings as rq
from core.stats import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval, cluster_bootstrap_ci
from core.store import Store

MODES = ("absolute", "pairwise")
SCALE = (0.0, 10.0)
PREFERENCES = ("A", "B", "tie")
MAX_NAME = 80
MAX_COMMENT = 2000


class RatingError(ValueError):
    """A submission or a queue request that cannot be accepted (the message says what to fix)."""


@dataclass(frozen=True)
class Unit:
    """What one rating judges: one answer (absolute) or two answers shown as A and B (pairwise)."""

    item_id: str
    repeat: int
    models: tuple[str, ...]  # absolute: (model,); pairwise: (model shown as A, model shown as B)
    answers: tuple[str, ...]  # in the order of models
    prompt: str = ""
    reference: str | None = None

    @property
    def mode(self) -> str:
        return "absolute" if len(self.models) == 1 else "pairwise"

    @cached_property
    def key(self) -> str:
        """The unit's identity, the same whichever side each model is shown on."""
        return unit_key(self.item_id, self.repeat, self.models)


def unit_key(item_id: str, repeat: int, models: tuple[str, ...] | list[str]) -> str:
    names = [str(m) for m in models]
    return "\x1f".join([str(item_id), str(int(repeat)), *(sorted(names) if len(names) > 1 else names)])


@dataclass(frozen=True)
class Queue:
    """A rater's blind queue on a run and mode, in the rater's order, with what is already rated."""

    rater: str
    run_id: str
    mode: str
    seed: int
    units: tuple[Unit, ...]
    rated: frozenset[str]  # keys of the units this rater has rated

    @property
    def total(self) -> int:
        return len(self.units)

    @property
    def done(self) -> int:
        return sum(u.key in self.rated for u in self.units)

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else 1.0

    def next_unit(self) -> Unit | None:
        """The first unit in the rater's order not rated yet (None when all are): resume point."""
        return next((u for u in self.units if u.key not in self.rated), None)

    def position(self, unit: Unit) -> int:
        """1-based place of unit in the queue."""
        return next(i for i, u in enumerate(self.units, 1) if u.key == unit.key)


# --------------------------------------------------------------------------- validation


def clean_rater(rater: object) -> str:
    name = " ".join(str(rater or "").split())
    if not name:
        raise RatingError("give a rater name (any name you will use again to come back to your queue)")
    if len(name) > MAX_NAME:
        raise RatingError(f"the rater name is {len(name)} characters long; use at most {MAX_NAME}")
    return name


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise RatingError(f"unknown rating mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


def check_score(score: object, scale: tuple[float, float] = SCALE) -> float:
    try:
        value = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RatingError(f"the score must be a number from {scale[0]:g} to {scale[1]:g} (got {score!r})") from None
    if not math.isfinite(value) or not scale[0] <= value <= scale[1]:
        raise RatingError(f"the score must be from {scale[0]:g} to {scale[1]:g} (got {score!r})")
    return value


def check_preference(preference: object) -> str:
    if preference not in PREFERENCES:
        raise RatingError(f"the preference must be A, B or tie (got {preference!r})")
    return str(preference)


# --------------------------------------------------------------------------- the queue


def _digest(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{int(seed)}\x1e{key}".encode()).digest()


def _units(answers: pd.DataFrame, mode: str, seed: int, items: dict[str, tuple[str, str | None]]) -> list[Unit]:
    """Every unit of the run's answers in the rater's order (first repeat of each item only).

    Built column-wise (a million-sample run has 330,000 absolute units): one unit per answer
    (absolute) or per pair of models' answers to the same prompt and repeat (pairwise)."""
    if answers.empty:
        return []
    first = answers[answers["repeat"] == answers.groupby("item_id")["repeat"].transform("min")]
    first = first.assign(item_id=first["item_id"].astype(str), model=first["model"].astype(str),
                         output_text=first["output_text"].astype(str))
    first = first.drop_duplicates(["item_id", "repeat", "model"], keep="last")
    if mode == "absolute":
        rows = zip(*(first[c].tolist() for c in ("item_id", "repeat", "model", "output_text")), strict=True)
        units = [_unit(seed, i, int(r), (m,), (t,), items) for i, r, m, t in rows]
    else:
        pairs = first.merge(first, on=["item_id", "repeat"], suffixes=("_a", "_b"))
        pairs = pairs[pairs["model_a"] < pairs["model_b"]]
        cols = ("item_id", "repeat", "model_a", "model_b", "output_text_a", "output_text_b")
        rows = zip(*(pairs[c].tolist() for c in cols), strict=True)
        units = [_unit(seed, i, int(r), (a, b), (ta, tb), items) for i, r, a, b, ta, tb in rows]
    return [u for _, u in sorted(units, key=lambda du: du[0])]


def _unit(seed: int, item: str, rep: int, models: tuple[str, ...], answers: tuple[str, ...],
          items: dict[str, tuple[str, str | None]]) -> tuple[bytes, Unit]:
    """(the unit's place in the rater's order, the unit); in pairwise, the side each model takes is
    the same hash's last bit, so it is fixed per rater and differs between raters."""
    key = unit_key(item, rep, models)
    digest = _digest(seed, key)
    if len(models) == 2 and digest[-1] & 1:
        models, answers = (models[1], models[0]), (answers[1], answers[0])
    prompt, reference = items.get(item, ("", None))
    unit = Unit(item, rep, models, answers, prompt, reference)
    unit.__dict__["key"] = key  # the cached_property's value, known already (models sorted either way)
    return digest, unit


_UNITS: OrderedDict[tuple, tuple[Unit, ...]] = OrderedDict()  # (store, run, mode, seed, models, version) -> units
_UNITS_KEPT = 4


def _queue_units(store: Store, run_id: str, mode: str, seed: int, models: tuple[str, ...],
                 items: dict[str, tuple[str, str | None]]) -> tuple[Unit, ...]:
    """The rater's units, kept per (store, run, mode, seed, models) while the run's answers are
    unchanged (their count and last sample number are the version), so a page rerun after each
    rating does not rebuild a large run's queue."""
    key = (str(store.path), run_id, mode, seed, tuple(models), rq.rateable_version(store, run_id, list(models)))
    if key in _UNITS:
        _UNITS.move_to_end(key)
        return _UNITS[key]
    units = tuple(_units(rq.rateable(store, run_id, list(models)), mode, seed, items))
    _UNITS[key] = units
    while len(_UNITS) > _UNITS_KEPT:
        _UNITS.popitem(last=False)
    return units


def session_seed(store: Store, rater: str, run_id: str, mode: str) -> int:
    """The rater's stored seed on (run, mode), drawn and stored on first use."""
    return store.rater_seed(clean_rater(rater), run_id, check_mode(mode), secrets.randbelow(2**31))


def queue(store: Store, rater: str, run_id: str, mode: str, models: tuple[str, ...] = ()) -> Queue:
    """The rater's blind queue (absolute: one unit per model and item; pairwise: one per pair of
    `models`, default all the run's models with answers, and item)."""
    rater, mode = clean_rater(rater), check_mode(mode)
    try:
        run = store.get_run(run_id)
    except KeyError:
        raise RatingError(f"no run {run_id!r} to rate in {store.path}; pick one of the stored runs") from None
    if mode == "pairwise" and 0 < len(models) < 2:
        raise RatingError("pairwise rating needs at least two models of the run")
    seed = session_seed(store, rater, run_id, mode)
    ps = prompts.run_set(store, run)
    items = {i.id: (i.prompt, i.reference) for i in ps.items} if ps is not None else {}
    units = _queue_units(store, run_id, mode, seed, tuple(models), items)
    mine = rq.latest(store, run_id, mode, rater)
    rated = frozenset(_row_key(r) for r in mine.itertuples(index=False))
    return Queue(rater, run_id, mode, seed, units, rated)


def _row_key(row) -> str:  # noqa: ANN001 - a ratings row (itertuples)
    models = (row.model,) if row.mode == "absolute" else (row.model_a, row.model_b)
    return unit_key(row.item_id, row.repeat, models)


# --------------------------------------------------------------------------- submitting


def submit(store: Store, q: Queue, unit: Unit, *, score: object = None, preference: object = None,
           comment: str | None = None, origin: str = "dashboard") -> int:
    """Validate and append one rating of `unit` from queue `q`; returns its seq (a correction is a new row)."""
    if unit.key not in {u.key for u in q.units}:
        raise RatingError(f"item {unit.item_id!r} is not in this rater's queue for run {q.run_id}; reload the queue")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise RatingError(f"the comment is {len(comment)} characters long; use at most {MAX_COMMENT}")
    row = {"rater": q.rater, "run_id": q.run_id, "mode": q.mode, "item_id": unit.item_id, "repeat": unit.repeat,
           "comment": comment, "scale_min": SCALE[0], "scale_max": SCALE[1], "seed": q.seed, "origin": origin}
    if q.mode == "absolute":
        row |= {"model": unit.models[0], "score": check_score(score)}
    else:
        row |= {"model_a": unit.models[0], "model_b": unit.models[1], "preference": check_preference(preference)}
    return store.append_rating(row)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class ModelRating:
    """A model's mean human rating with an interval clustered by prompt."""

    model: str
    interval: Interval
    ratings: int
    raters: int
    prompts: int


def model_ratings(latest_absolute: pd.DataFrame, *, confidence: float = DEFAULT_CONFIDENCE,
                  n_resamples: int | None = None, seed: int = DEFAULT_SEED) -> list[ModelRating]:
    """Per model: mean of the latest absolute ratings (every rater), interval resampling prompts."""
    out = []
    if latest_absolute.empty:
        return out
    for model, g in latest_absolute.groupby("model", sort=True):
        ci = cluster_bootstrap_ci(g["score"].to_numpy(float), g["item_id"].astype(str).to_numpy(), "mean",
                                  confidence=confidence, n_resamples=n_resamples, seed=seed)
        out.append(ModelRating(str(model), ci, len(g), g["rater"].nunique(), g["item_id"].nunique()))
    return out


def preferences(latest_pairwise: pd.DataFrame) -> pd.DataFrame:
    """Pairwise outcomes as core.stats.bradley_terry reads them: prompt (the item), model_a,
    model_b (as shown), outcome (A, B or tie), plus repeat, rater and winner (a model, None: tie)."""
    cols = ["prompt", "model_a", "model_b", "outcome", "repeat", "rater", "winner"]
    if latest_pairwise.empty:
        return pd.DataFrame(columns=cols)
    df = latest_pairwise.rename(columns={"item_id": "prompt", "preference": "outcome"})
    df["winner"] = [a if p == "A" else b if p == "B" else None
                    for a, b, p in zip(df["model_a"], df["model_b"], df["outcome"], strict=True)]
    return df[cols].reset_index(drop=True)


def absolute_matrix(latest_absolute: pd.DataFrame) -> pd.DataFrame:
    """Reliability data for agreement between raters: one row per unit (item_id, repeat, model
    as columns), one column per rater, the score (NaN where a rater did not rate the unit)."""
    if latest_absolute.empty:
        return pd.DataFrame()
    return latest_absolute.pivot_table(index=["item_id", "repeat", "model"], columns="rater", values="score",
                                       aggfunc="last").reset_index()


def pairwise_matrix(latest_pairwise: pd.DataFrame) -> pd.DataFrame:
    """As absolute_matrix for pairwise: units (item_id, repeat, first, second: the pair sorted by
    name) x raters, the verdict as 'A' (first won), 'B' (second won) or 'tie', whatever the sides shown."""
    if latest_pairwise.empty:
        return pd.DataFrame()
    df = preferences(latest_pairwise).rename(columns={"prompt": "item_id"})
    first = df[["model_a", "model_b"]].min(axis=1)
    df["first"], df["second"] = first, df[["model_a", "model_b"]].max(axis=1)
    df["verdict"] = ["tie" if pd.isna(w) else "A" if w == f else "B" for w, f in zip(df["winner"], first, strict=True)]
    return df.pivot_table(index=["item_id", "repeat", "first", "second"], columns="rater", values="verdict",
                          aggfunc="last").reset_index()
