"""What the store's table mixins (core.store_queue.QueueTables, core.store_catalog.CatalogTables) use of
core.store.Store: its connection, its query helper and its clock, declared once."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd


class StoreAccess:
    """The three things every part of the store needs; core.store.Store implements them."""

    def connect(self, timeout_s: float | None = None) -> contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]:
        raise NotImplementedError  # core.store.Store

    def query_df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        raise NotImplementedError  # core.store.Store

    @staticmethod
    def now() -> datetime:
        raise NotImplementedError  # core.store.Store
