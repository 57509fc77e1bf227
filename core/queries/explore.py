"""Bounded reads for charts and the sample explorer (what a view shows, never more).

core.analysis computes statistics; these queries fetch the values a chart draws or a
table lists, aggregated or thinned in DuckDB so that a run of millions of samples sends
at most a few tens of thousands of points to the browser. Samples are chosen by a hash
of their result key, so the same rows come back on every render. All user values are
bound parameters. Used by the dashboard (ui.state caches them); no streamlit here. SHOW,
outcome_text and scores_text are the explorer's vocabulary: its filters and its row values
in words.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.store import Store

MAX_POINTS = 30_000  # per distribution chart, all series together (the ceiling is about 100,000)
VALUE_COLUMNS = ("latency_ms", "ttft_ms", "decode_tps", "peak_rss_mb", "mem_added_mb", "quality", "output_tokens",
                 "input_tokens")
_HASH_MOD = 1_000_003  # a prime: hash(result_key) % _HASH_MOD is close to uniform


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def value_sample(store: Store, run_ids: Sequence[str], models: Sequence[str], column: str,
                 max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Successful samples' `column` per (run, model): all of them, or a seeded subset of
    about max_points / series per series. Columns: run_id, model, value, item_id, seq.

    Large series are thinned with a filter on the key's hash (no sort of the whole run),
    which keeps each row with probability 1.5 x cap / n, then trimmed to the cap.
    """
    if column not in VALUE_COLUMNS:
        raise ValueError(f"unknown column {column!r}")
    empty = pd.DataFrame(columns=["run_id", "model", "value", "item_id", "seq"])
    if not run_ids or not models:
        return empty
    where = (f'run_id IN ({_in(run_ids)}) AND model IN ({_in(models)}) AND status = \'ok\' '
             f'AND "{column}" IS NOT NULL')
    params = [*run_ids, *models]
    counts = store.query_df(f"SELECT run_id, model, count(*) AS n FROM samples WHERE {where} GROUP BY ALL", params)
    if counts.empty:
        return empty
    cap = max(1, max_points // len(counts))
    # keep-threshold per series: all rows when n <= cap, else a 1.5 x cap / n share (trimmed below)
    counts["keep"] = [_HASH_MOD if n <= cap else min(_HASH_MOD, int(_HASH_MOD * 1.5 * cap / n) + 1)
                      for n in counts["n"]]
    keep_sql = " ".join("WHEN run_id = ? AND model = ? THEN ?" for _ in range(len(counts)))
    keep_params = [v for r in counts.itertuples() for v in (r.run_id, r.model, int(r.keep))]
    return store.query_df(
        f"""
        WITH thin AS (
            SELECT run_id, model, "{column}" AS value, item_id, seq, hash(result_key) % {_HASH_MOD} AS h
            FROM samples WHERE {where} AND hash(result_key) % {_HASH_MOD} < CASE {keep_sql} ELSE 0 END)
        SELECT run_id, model, value, item_id, seq FROM thin
        QUALIFY row_number() OVER (PARTITION BY run_id, model ORDER BY h, seq) <= ?
        ORDER BY run_id, model, seq
        """,
        [*params, *keep_params, cap],
    )


def categories(store: Store, run_id: str) -> list[str]:
    df = store.query_df("SELECT DISTINCT category FROM samples WHERE run_id = ? ORDER BY 1", [run_id])
    return [c for c in df["category"] if isinstance(c, str)]


SHOW = {
    "all": "All prompts",
    "wrong": "Wrong answers (did not pass)",
    "errors": "Errors (generation failed or timed out)",
}
SHOW_HELP = ("Wrong answers: a model answered but its quality was below the pass mark. "
             "Errors: a model gave no answer (generation error or timeout). "
             "A prompt matches when any of the selected models matches.")


def explorer(store: Store, run_id: str, models: Sequence[str], *, category: str | None = None,
             show: str = "all", disagree_only: bool = False, max_items: int = 50,
             offset: int = 0) -> tuple[pd.DataFrame, int]:
    """First repeat of up to max_items prompts (after filters), one row per (item, model),
    and the number of prompts that match. `show`: "all", "wrong" (some model answered and did
    not pass) or "errors" (some model's generation failed or timed out). Disagreement: the
    models' pass/fail differ, one failed while another succeeded, or their quality scores span
    2 points or more. Rows carry `passed` and the per-scorer `scores` (JSON).

    One query: the per-prompt filter runs on narrow columns; output texts are read only
    for the page of prompts shown.
    """
    if show not in SHOW:
        raise ValueError(f"show must be one of {', '.join(SHOW)} (got {show!r})")
    if not models:
        return pd.DataFrame(), 0
    wrong, errors = show == "wrong", show == "errors"
    df = store.query_df(
        f"""
        WITH s AS (
            SELECT item_id, category, status, quality, passed
            FROM samples WHERE run_id = ? AND "repeat" = 0 AND model IN ({_in(models)})),
        items AS (
            SELECT item_id, any_value(category) AS category,
                   bool_or(status = 'ok' AND passed IS NOT NULL AND NOT passed) AS any_wrong,
                   bool_or(status IN ('error', 'timeout')) AS any_error,
                   count(DISTINCT status = 'ok') > 1 OR count(DISTINCT passed) > 1
                       OR coalesce(max(quality) - min(quality), 0) >= 2 AS disagree
            FROM s GROUP BY item_id),
        chosen AS (
            SELECT item_id FROM items
            WHERE (? IS NULL OR category = ?) AND (NOT ? OR any_wrong) AND (NOT ? OR any_error) AND (NOT ? OR disagree)
            ORDER BY item_id LIMIT ? OFFSET ?),
        total AS (
            SELECT count(*) AS total FROM items
            WHERE (? IS NULL OR category = ?) AND (NOT ? OR any_wrong) AND (NOT ? OR any_error) AND (NOT ? OR disagree))
        SELECT t.total, x.item_id, x.category, x.model, x.status, x.error_kind, x.error_message, x.quality,
               x.passed, x.scores, x.latency_ms, x.output_text
        FROM total t
        LEFT JOIN (SELECT * FROM samples
                   WHERE run_id = ? AND "repeat" = 0 AND model IN ({_in(models)})
                     AND item_id IN (SELECT item_id FROM chosen)) x ON TRUE
        ORDER BY x.item_id, x.model
        """,
        [run_id, *models, category, category, wrong, errors, disagree_only, int(max_items), int(offset),
         category, category, wrong, errors, disagree_only, run_id, *models],
    )
    total = int(df["total"].iloc[0]) if not df.empty else 0
    rows = df.drop(columns=["total"]).dropna(subset=["item_id"]).reset_index(drop=True)
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


def outcome_text(status: object, passed: object) -> str:
    """What a sample came to, in words: pass, fail (did not pass), no score, or its status."""
    if status != "ok":
        return str(status)
    if passed is None or (isinstance(passed, float) and np.isnan(passed)) or passed is pd.NA:
        return "no score"
    return "pass" if bool(passed) else "fail"


def scores_text(scores: object) -> str:
    """The per-scorer values of a sample ('exact_match 0.00 · token_f1 0.67'), each in [0, 1];
    a scoring failure's message as stored; '' when there are none."""
    if not isinstance(scores, str) or not scores:
        return ""
    try:
        parsed = json.loads(scores)
    except ValueError:
        return ""
    if not isinstance(parsed, dict):
        return ""
    if "_error" in parsed:
        return str(parsed["_error"])
    return " · ".join(f"{k} {float(v):.2f}" for k, v in parsed.items() if isinstance(v, (int, float)))
