"""Throughput sweeps (core.throughput): one row per model and level (batch size, or requests in flight) of a run."""
from __future__ import annotations

import pandas as pd

from core.queries.common import Source, query


def throughput(source: Source, run_id: str) -> pd.DataFrame:
    """A run's sweep rows ordered by model, level kind and level (empty when it has none); level_kind is
    'batch' (batch_size is a batch size) or 'concurrency' (batch_size is the number of requests in flight)."""
    return query(source, "SELECT * REPLACE (coalesce(level_kind, 'batch') AS level_kind) FROM throughput"
                         " WHERE run_id = ? ORDER BY model, level_kind, batch_size", [run_id])


def has_throughput(source: Source, run_id: str) -> bool:
    """Whether the run has sweep rows."""
    return bool(query(source, "SELECT count(*) AS n FROM throughput WHERE run_id = ?", [run_id])["n"].iloc[0])


def sweep_run_ids(source: Source) -> list[str]:
    """The runs that have sweep rows."""
    return list(query(source, "SELECT DISTINCT run_id FROM throughput ORDER BY run_id")["run_id"])
