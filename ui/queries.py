"""Bounded reads for the Results and Compare pages (no streamlit; plain functions over a Store).

core.analysis computes statistics; these queries fetch what a chart or a table shows, and
never more than a chart can draw: at most `cap` values per series, chosen by a seeded hash
so the same rows come back on every render. All user values are bound parameters.

(Candidates to move into core.analysis; kept here because the dashboard is their only user.)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.store import Store

MAX_POINTS = 30_000  # per distribution chart, all series together (the ceiling is about 100,000)
VALUE_COLUMNS = ("latency_ms", "ttft_ms", "decode_tps", "peak_rss_mb", "quality", "output_tokens", "input_tokens")


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def value_sample(store: Store, run_ids: Sequence[str], models: Sequence[str], column: str,
                 max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Successful samples' `column` per (run, model): all of them, or a seeded subset of
    max_points / series per series. Columns: run_id, model, value, item_id, seq."""
    if column not in VALUE_COLUMNS:
        raise ValueError(f"unknown column {column!r}")
    if not run_ids or not models:
        return pd.DataFrame(columns=["run_id", "model", "value", "item_id", "seq"])
    cap = max(1, max_points // (len(run_ids) * len(models)))
    return store.query_df(
        f"""
        SELECT run_id, model, "{column}" AS value, item_id, seq FROM samples
        WHERE run_id IN ({_in(run_ids)}) AND model IN ({_in(models)}) AND status = 'ok' AND "{column}" IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY run_id, model ORDER BY hash(result_key)) <= ?
        ORDER BY run_id, model, seq
        """,
        [*run_ids, *models, cap],
    )


def categories(store: Store, run_id: str) -> list[str]:
    df = store.query_df("SELECT DISTINCT category FROM samples WHERE run_id = ? ORDER BY 1", [run_id])
    return [c for c in df["category"] if isinstance(c, str)]


def explorer(store: Store, run_id: str, models: Sequence[str], *, category: str | None = None,
             failures_only: bool = False, disagree_only: bool = False, max_items: int = 50,
             offset: int = 0) -> tuple[pd.DataFrame, int]:
    """First repeat of up to max_items prompts (after filters), one row per (item, model),
    and the number of prompts that match. Disagreement: the models' pass/fail differ, one
    failed while another succeeded, or their quality scores span 2 points or more."""
    if not models:
        return pd.DataFrame(), 0
    base = f"""
        WITH s AS (
            SELECT item_id, category, model, status, error_kind, error_message, quality, passed, latency_ms, output_text
            FROM samples WHERE run_id = ? AND "repeat" = 0 AND model IN ({_in(models)})),
        items AS (
            SELECT item_id, any_value(category) AS category,
                   bool_or(status <> 'ok') AS any_failed,
                   count(DISTINCT status = 'ok') > 1 OR count(DISTINCT passed) > 1
                       OR coalesce(max(quality) - min(quality), 0) >= 2 AS disagree
            FROM s GROUP BY item_id),
        chosen AS (
            SELECT item_id FROM items
            WHERE (? IS NULL OR category = ?) AND (NOT ? OR any_failed) AND (NOT ? OR disagree))
    """
    params = [run_id, *models, category, category, failures_only, disagree_only]
    total = int(store.query_df(base + "SELECT count(*) AS n FROM chosen", params)["n"].iloc[0])
    rows = store.query_df(
        base + """
        SELECT s.* FROM s JOIN (SELECT item_id FROM chosen ORDER BY item_id LIMIT ? OFFSET ?) c USING (item_id)
        ORDER BY s.item_id, s.model
        """,
        [*params, int(max_items), int(offset)],
    )
    return rows, total


def drift_points(store: Store, run_id: str, models: Sequence[str], max_points: int = 2_000) -> pd.DataFrame:
    """Latency against sample order per model; above max_points per model, medians of equal
    blocks of consecutive samples (columns: model, seq, latency_ms, block_size)."""
    if not models:
        return pd.DataFrame(columns=["model", "seq", "latency_ms", "block_size"])
    df = store.query_df(
        f"""
        WITH s AS (
            SELECT model, seq, latency_ms, count(*) OVER (PARTITION BY model) AS n,
                   row_number() OVER (PARTITION BY model ORDER BY seq) - 1 AS i
            FROM samples WHERE run_id = ? AND model IN ({_in(models)}) AND status = 'ok' AND latency_ms IS NOT NULL)
        SELECT model, median(seq) AS seq, median(latency_ms) AS latency_ms, count(*) AS block_size
        FROM s GROUP BY model, floor(i / greatest(1, ceil(n / ?)))
        ORDER BY model, seq
        """,
        [run_id, *models, int(max_points)],
    )
    df["block_size"] = df["block_size"].astype(np.int64)
    return df
