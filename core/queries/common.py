"""The one way a query runs: on the Store (a short-lived connection of its own) or on a
connection already open (an analysis reads everything it needs on one)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from core.store import Store

Source = Store | duckdb.DuckDBPyConnection  # an open connection saves ~10-20 ms per query


def check_quality_range(lo: float | None, hi: float | None) -> None:
    """The one refusal of an empty quality range, for every filter that has one (the sample pages,
    outputs side by side)."""
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"the quality range is empty: minimum {lo:g} is above maximum {hi:g} "
                         "(a minimum that is above the maximum matches nothing)")


def query(source: Source, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    if isinstance(source, Store):
        return source.query_df(sql, params)
    return source.execute(sql, list(params)).df()


def query_categorical(source: Source, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """query() with every text column as a pandas Categorical (categories in order of first
    appearance): a million rows of model, prompt and status names arrive in a third of the time
    and group faster. Group such frames with observed=True."""
    if isinstance(source, Store):
        with source.connect() as con:
            return query_categorical(con, sql, params)
    table = source.sql(sql, params=list(params)).to_arrow_table()
    return table.to_pandas(strings_to_categorical=True)

