"""Throughput sweeps (core.throughput): one row per model and batch size of a run."""
from __future__ import annotations

import pandas as pd

from core.queries.common import Source, query


def throughput(source: Source, run_id: str) -> pd.DataFrame:
    """A run's sweep rows ordered by model and batch size (empty when it has none)."""
    return query(source, "SELECT * FROM throughput WHERE run_id = ? ORDER BY model, batch_size", [run_id])


def has_throughput(source: Source, run_id: str) -> bool:
    """Whether the run has sweep rows."""
    return bool(query(source, "SELECT count(*) AS n FROM throughput WHERE run_id = ?", [run_id])["n"].iloc[0])
