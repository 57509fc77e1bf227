"""The reads a report makes beyond the KPI table: which models succeeded, prompt and failure
counts, box-plot statistics and the appendix's sample rows (all bounded in size)."""
from __future__ import annotations

import pandas as pd

from core.store import Store


def ok_models(store: Store, run_id: str) -> set[str]:
    """Models with at least one successful request in the run."""
    return set(store.query_df("SELECT DISTINCT model FROM samples WHERE run_id = ? AND status = 'ok'", [run_id])["model"])


def prompt_and_failure_counts(store: Store, run_id: str) -> pd.Series:
    """`items` (distinct prompts) and `failed` (rows that did not succeed) of a run."""
    return store.query_df("SELECT count(DISTINCT item_id) AS items, count(*) FILTER (WHERE status <> 'ok') AS failed"
                          " FROM samples WHERE run_id = ?", [run_id]).iloc[0]


_BOX_SQL = """
WITH v AS (
    SELECT model, CAST("{col}" AS DOUBLE) AS v FROM samples
    WHERE run_id = ? AND status = 'ok' AND "{col}" IS NOT NULL AND isfinite(CAST("{col}" AS DOUBLE))),
q AS (
    SELECT model, count(*) AS n, avg(v) AS mean, quantile_cont(v, 0.25) AS q1, quantile_cont(v, 0.5) AS med,
           quantile_cont(v, 0.75) AS q3
    FROM v GROUP BY model)
SELECT q.model, any_value(q.n) AS n, any_value(q.mean) AS mean, any_value(q.q1) AS q1, any_value(q.med) AS med,
       any_value(q.q3) AS q3,
       min(v.v) FILTER (WHERE v.v >= q.q1 - 1.5 * (q.q3 - q.q1)) AS lo,
       max(v.v) FILTER (WHERE v.v <= q.q3 + 1.5 * (q.q3 - q.q1)) AS hi,
       count(*) FILTER (WHERE v.v < q.q1 - 1.5 * (q.q3 - q.q1) OR v.v > q.q3 + 1.5 * (q.q3 - q.q1)) AS outliers
FROM v JOIN q USING (model) GROUP BY q.model
"""


def box_stats(store: Store, run_id: str, column: str) -> pd.DataFrame:
    """Exact quartiles, mean and Tukey fences of one samples column per model (successful,
    finite values), indexed by model: n, mean, q1, med, q3, lo, hi, outliers. `column` is a
    samples column name chosen by the caller (never user text)."""
    return store.query_df(_BOX_SQL.format(col=column), [run_id]).set_index("model")


_APPENDIX_SQL = """
WITH first AS (
    SELECT * FROM samples WHERE run_id = ?
    QUALIFY row_number() OVER (PARTITION BY item_id, model ORDER BY "repeat", seq) = 1),
items AS (
    SELECT item_id, bool_or(status <> 'ok') AS failed FROM first GROUP BY item_id),
chosen AS (
    (SELECT item_id, failed FROM items WHERE failed ORDER BY item_id LIMIT ?)
    UNION ALL
    (SELECT item_id, failed FROM items WHERE NOT failed ORDER BY item_id LIMIT ?))
SELECT f.item_id, f.category, f.model, f.status, f.error_kind, f.error_message, f.latency_ms, f.quality, f.passed,
       left(f.output_text, ?) AS output_text, length(f.output_text) AS output_chars, c.failed
FROM first f JOIN chosen c USING (item_id)
ORDER BY c.failed DESC, f.item_id
"""


def appendix_rows(store: Store, run_id: str, n_items: int, max_output_chars: int) -> pd.DataFrame:
    """First repeat of up to n_items failed and n_items clean prompts, one row per (prompt,
    model), failed prompts first; outputs cut to max_output_chars (output_chars: full length)."""
    return store.query_df(_APPENDIX_SQL, [run_id, n_items, n_items, max_output_chars])
