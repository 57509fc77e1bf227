"""Reads of the blind human ratings (core.ratings): the rateable answers of a run, the rating
history and the latest rating per (rater, unit).

A unit is what one rating judges: (item, repeat, model) when absolute, (item, repeat, the pair of
models in either order) when pairwise. The latest row (highest seq) of each (rater, unit) is the
one the statistics use; the history keeps every row.
"""
from __future__ import annotations

import pandas as pd

from core.queries.common import Source, query

_COLUMNS = ('seq, created_at, rater, run_id, mode, item_id, "repeat", model, model_a, model_b, score, preference,'
            ' comment, scale_min, scale_max, seed, origin')
_UNIT = ('item_id, "repeat", coalesce(model, \'\'), least(coalesce(model_a, \'\'), coalesce(model_b, \'\')),'
         ' greatest(coalesce(model_a, \'\'), coalesce(model_b, \'\'))')


def rateable(source: Source, run_id: str, models: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The run's successful answers (item_id, repeat, model, output_text), in a canonical order
    (item, repeat, model); only `models` when given."""
    where, params = _rateable_where(run_id, models)
    return query(source, f'SELECT item_id, "repeat", model, output_text FROM samples WHERE {where}'
                 ' ORDER BY item_id, "repeat", model', params)


def _rateable_where(run_id: str, models: list[str] | tuple[str, ...]) -> tuple[str, list]:
    """The samples a rater can be shown: the run's successful answers with a text, of `models` if given."""
    where, params = "run_id = ? AND status = 'ok' AND output_text IS NOT NULL", [run_id, *models]
    if models:
        where += f" AND model IN ({', '.join('?' * len(models))})"
    return where, params


def rateable_version(source: Source, run_id: str, models: list[str] | tuple[str, ...] = ()) -> tuple[int, int]:
    """(count, highest row id) of what rateable() returns: changes whenever the run's rateable
    answers do, and costs one aggregate instead of fetching every answer's text."""
    where, params = _rateable_where(run_id, models)
    row = query(source, f"SELECT count(*) AS n, coalesce(max(rowid), -1) AS last FROM samples WHERE {where}", params).iloc[0]
    return int(row["n"]), int(row["last"])


def run_rated_models(source: Source, run_id: str) -> list[str]:
    """The models of a run that have at least one successful answer, by name."""
    df = query(source, "SELECT DISTINCT model FROM samples WHERE run_id = ? AND status = 'ok' ORDER BY model", [run_id])
    return list(df["model"])


def history(source: Source, run_id: str, rater: str | None = None, mode: str | None = None) -> pd.DataFrame:
    """Every rating row of a run (corrections included), oldest first; one rater's / mode's when given."""
    sql, params = f"SELECT {_COLUMNS} FROM ratings WHERE run_id = ?", [run_id]
    if rater is not None:
        sql += " AND rater = ?"
        params.append(rater)
    if mode is not None:
        sql += " AND mode = ?"
        params.append(mode)
    return query(source, sql + " ORDER BY seq", params)


def latest(source: Source, run_id: str, mode: str, rater: str | None = None) -> pd.DataFrame:
    """The latest row (highest seq) of each (rater, unit) of a run and mode: what the statistics use."""
    sql, params = f"SELECT {_COLUMNS} FROM ratings WHERE run_id = ? AND mode = ?", [run_id, mode]
    if rater is not None:
        sql += " AND rater = ?"
        params.append(rater)
    sql += f" QUALIFY row_number() OVER (PARTITION BY rater, {_UNIT} ORDER BY seq DESC) = 1 ORDER BY seq"
    return query(source, sql, params)


def rated_runs(source: Source) -> pd.DataFrame:
    """(run_id, mode, raters, ratings) of every run with ratings."""
    return query(source, "SELECT run_id, mode, count(DISTINCT rater) AS raters, count(*) AS ratings FROM ratings"
                         " GROUP BY run_id, mode ORDER BY run_id, mode")


def has_ratings(source: Source, run_id: str, mode: str | None = None) -> bool:
    """Whether the run has any rating row (of `mode` when given)."""
    sql, params = "SELECT count(*) AS n FROM ratings WHERE run_id = ?", [run_id]
    if mode is not None:
        sql += " AND mode = ?"
        params.append(mode)
    return bool(query(source, sql, params)["n"].iloc[0])


HUMAN_RATING = "human_rating"  # the per-sample column a fetch of the samples can ask for

# what fetch (core.queries.aggregate) joins onto the run's samples when asked for human_rating: per
# (item, repeat, model) the mean over raters of each rater's latest absolute rating (NULL when nobody
# rated the answer); one parameter, the run id. Its columns are renamed so that the samples' keep
# their unqualified names.
SAMPLE_JOIN = (
    ' LEFT JOIN (SELECT item_id AS hr_item, "repeat" AS hr_repeat, model AS hr_model, avg(score) AS hr_score'
    " FROM (SELECT item_id, \"repeat\", model, score FROM ratings WHERE run_id = ? AND mode = 'absolute'"
    ' QUALIFY row_number() OVER (PARTITION BY rater, item_id, "repeat", model'
    " ORDER BY seq DESC) = 1) GROUP BY hr_item, hr_repeat, hr_model) AS hr"
    ' ON hr.hr_item = samples.item_id AND hr.hr_repeat = samples."repeat" AND hr.hr_model = samples.model'
)
SAMPLE_COLUMN = f'hr.hr_score AS "{HUMAN_RATING}"'
