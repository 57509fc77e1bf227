"""The KPI aggregate and the per-sample arrays behind every KPI, comparison and cost.

`aggregate` is the one definition of a run's counts, means, percentiles and totals per model
(and category): the KPI table (core.analysis.kpis), the comparisons, the CLI summary, the reports and
the MLflow mirror (core.tracking) all read it. `fetch` returns the per-sample columns the
intervals are computed from; `prompt_cost_sums` the per-prompt sums the cost resamples need.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from core.queries.common import Source, query, query_categorical
from core.queries.ratings import HUMAN_RATING, SAMPLE_COLUMN, SAMPLE_JOIN
from core.schemas import ERROR_KINDS

_QUANTILES = "[0.5, 0.9, 0.95, 0.99]"  # p50, p90, p95, p99: one sort per column (quantile_cont with a list)


def _sql_dist(col: str, prefix: str) -> str:
    """Distribution aggregates of one column over successful rows (the `ok` part of the aggregate)."""
    return f"""
        avg({col}) AS {prefix}_mean, quantile_cont({col}, {_QUANTILES}) AS "_{prefix}_q",
        stddev_samp({col}) AS {prefix}_std, min({col}) AS {prefix}_min, max({col}) AS {prefix}_max"""


def _sql_quantiles(prefix: str) -> str:
    return ", ".join(f'q."_{prefix}_q"[{i}] AS {prefix}_{name}' for i, name in enumerate(("p50", "p90", "p95", "p99"), 1))


def score_path(scorer: str) -> str:
    return '$."' + scorer.replace('"', "") + '"'


def _aggregate_sql(by_category: bool, n_models: int, scorers: Sequence[str]) -> str:
    """Two aggregates joined by group: counts over every row, metrics over successful rows
    (filtering the rows once is much cheaper than a FILTER clause on each of ~40 aggregates)."""
    kinds = ",\n".join(f"count(*) FILTER (WHERE status <> 'ok' AND error_kind = '{k}') AS errors_{k}" for k in ERROR_KINDS)
    score_cols = "".join(
        f",\n avg(CASE WHEN json_valid(scores) THEN TRY_CAST(json_extract_string(scores, ?) AS DOUBLE) END) AS \"score_{s}_mean\""
        for s in scorers
    )
    score_out = "".join(f', q."score_{s}_mean"' for s in scorers)
    cat = "CASE WHEN grouping(category) = 1 THEN NULL ELSE coalesce(category, '') END" if by_category else "NULL"
    group = "GROUPING SETS ((model), (model, category))" if by_category else "model"
    where = f" AND model IN ({', '.join('?' * n_models)})" if n_models else ""
    return f"""
    WITH c AS (
    SELECT model, {cat} AS category,
        count(*) AS samples,
        count(*) FILTER (WHERE status = 'ok') AS ok,
        count(*) FILTER (WHERE status = 'error') AS errors,
        count(*) FILTER (WHERE status = 'timeout') AS timeouts,
        count(*) FILTER (WHERE status = 'skipped') AS skipped,
        count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE status IN ('ok', 'error', 'timeout')) AS attempted,
        {kinds},
        max(peak_rss_mb) AS peak_rss_mb_max,
        max(peak_accel_mb) AS peak_accel_mb_max
    FROM samples WHERE run_id = ?{where}
    GROUP BY {group}
    ), q AS (
    SELECT model, {cat} AS category,
        {_sql_dist("latency_ms", "latency_ms")},
        {_sql_dist("ttft_ms", "ttft_ms")},
        sum(output_tokens) FILTER (WHERE latency_ms IS NOT NULL)
            / nullif(sum(latency_ms) FILTER (WHERE output_tokens IS NOT NULL) / 1000.0, 0) AS tokens_per_s,
        sum(output_tokens - 1) FILTER (WHERE decode_tps IS NOT NULL)
            / nullif(sum(latency_ms - ttft_ms) FILTER (WHERE decode_tps IS NOT NULL) / 1000.0, 0)
            AS decode_tps_aggregate,
        avg(decode_tps) AS decode_tps_mean,
        quantile_cont(decode_tps, 0.5) AS decode_tps_p50,
        avg(input_tokens) AS input_tokens_mean,
        avg(output_tokens) AS output_tokens_mean,
        sum(input_tokens) AS input_tokens_total,
        sum(output_tokens) AS output_tokens_total,
        avg(peak_rss_mb) AS peak_rss_mb_mean,
        max(mem_added_mb) AS mem_added_mb_max,
        avg(mem_added_mb) AS mem_added_mb_mean,
        arg_min(latency_ms, seq) AS first_latency_ms,
        avg(quality) AS quality_mean,
        quantile_cont(quality, 0.5) AS quality_p50,
        count(quality) AS scored_quality,
        count(passed) AS scored,
        count(*) FILTER (WHERE passed) AS passed{score_cols}
    FROM samples WHERE run_id = ? AND status = 'ok'{where}
    GROUP BY {group}
    )
    SELECT c.model, c.category, c.samples, c.ok, c.errors, c.timeouts, c.skipped, c.cancelled, c.attempted,
        {", ".join(f"c.errors_{k}" for k in ERROR_KINDS)},
        q.latency_ms_mean, {_sql_quantiles("latency_ms")}, q.latency_ms_std, q.latency_ms_min, q.latency_ms_max,
        q.ttft_ms_mean, {_sql_quantiles("ttft_ms")}, q.ttft_ms_std, q.ttft_ms_min, q.ttft_ms_max,
        q.tokens_per_s, q.decode_tps_aggregate, q.decode_tps_mean, q.decode_tps_p50, q.input_tokens_mean,
        q.output_tokens_mean, q.input_tokens_total, q.output_tokens_total, c.peak_rss_mb_max, q.peak_rss_mb_mean,
        q.mem_added_mb_max, q.mem_added_mb_mean, c.peak_accel_mb_max, q.first_latency_ms, q.quality_mean, q.quality_p50,
        coalesce(q.scored_quality, 0) AS scored_quality, coalesce(q.scored, 0) AS scored,
        coalesce(q.passed, 0) AS passed{score_out}
    FROM c LEFT JOIN q ON c.model = q.model AND c.category IS NOT DISTINCT FROM q.category
    ORDER BY c.model, c.category NULLS FIRST
    """



def run_scorers(store: Source, run_id: str) -> list[str]:
    """Scorer names found in the run's `scores` JSON (keys starting with '_' are notes).

    Every row is looked at, but each distinct JSON text is parsed once (scores repeat a lot:
    rounded values, the same few keys), which makes this ~3x cheaper on a large run."""
    df = query(store,
        "SELECT DISTINCT unnest(json_keys(scores)) AS k FROM"
        " (SELECT DISTINCT scores FROM samples WHERE run_id = ? AND status = 'ok' AND scores IS NOT NULL)"
        " WHERE json_valid(scores) AND json_type(scores) = 'OBJECT'",
        [run_id],
    )
    return sorted(k for k in df["k"] if isinstance(k, str) and not k.startswith("_"))


def aggregate(store: Source, run_id: str, *, by_category: bool = False, models: Sequence[str] | None = None,
              scorers: Sequence[str] = ()) -> pd.DataFrame:
    """The SQL aggregate: one row per model (and per model x category)."""
    params: list[Any] = [run_id, *(models or []), *(score_path(s) for s in scorers), run_id, *(models or [])]
    return query(store, _aggregate_sql(by_category, len(models or []), scorers), params)


_FETCH = ("model", "category", "item_id", "seq", "status", "latency_ms", "ttft_ms", "decode_tps",
          "input_tokens", "output_tokens", "peak_rss_mb", "mem_added_mb", "quality")


def fetch(store: Source, run_id: str, *, models: Sequence[str] | None = None, scorers: Sequence[str] = (),
          columns: Sequence[str] = _FETCH) -> pd.DataFrame:
    """Per-sample arrays with only the needed columns (passed as 0/1/NULL, scorer values as columns;
    human_rating: the mean over raters of each rater's latest absolute rating of the answer, NULL unrated).
    Text columns (model, item_id, status, category) are Categoricals: group with observed=True."""
    rated = HUMAN_RATING in columns
    cols = [SAMPLE_COLUMN if c == HUMAN_RATING else f'"{c}"' for c in columns]
    cols += ["CAST(passed AS DOUBLE) AS passed"]
    cols += [f'CASE WHEN json_valid(scores) THEN TRY_CAST(json_extract_string(scores, ?) AS DOUBLE) END AS "score_{s}"' for s in scorers]
    params: list[Any] = [score_path(s) for s in scorers] + [run_id] * (1 + rated)
    sql = f"SELECT {', '.join(cols)} FROM samples{SAMPLE_JOIN if rated else ''} WHERE run_id = ?"
    if models:
        sql += f" AND model IN ({', '.join('?' * len(models))})"
        params += list(models)
    return query_categorical(store, sql + " ORDER BY model, seq", params)


def aggregate_rates(row: Mapping[str, Any]) -> dict[str, float | None]:
    """error_rate and pass_rate of an aggregate row (or of the KPI values built from one): the
    one definition the KPI table, the CLI, the reports and the MLflow mirror share.
    error_rate: share of attempted requests (ok, error, timeout) that did not succeed; skipped
    and cancelled rows were never attempted. pass_rate: share of scored requests that passed."""
    att, ok = _count(row.get("attempted")), _count(row.get("ok"))
    scored, passed = _count(row.get("scored")), _count(row.get("passed"))
    return {"error_rate": (att - ok) / att if att else None, "pass_rate": passed / scored if scored else None}


def _count(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def prompt_cost_sums(source: Source, run_id: str, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (model, prompt) sums of successful requests with latency and both token counts,
    prompts in order of first appearance (seq), as bootstrap_means would number them.
    Columns: model, n_rows, cost_s, cost_in, cost_out, n_keep."""
    return query(source, _cost_sums_sql(len(models or [])), [run_id, *(models or [])])


def _cost_sums_sql(n_models: int) -> str:
    ok = "status = 'ok'"
    keep = f"{ok} AND isfinite(latency_ms) AND isfinite(input_tokens::DOUBLE) AND isfinite(output_tokens::DOUBLE)"
    where = f" AND model IN ({', '.join('?' * n_models)})" if n_models else ""
    return f"""
    SELECT model, count(*) FILTER (WHERE {ok}) AS n_rows,
        coalesce(sum(latency_ms / 1000) FILTER (WHERE {keep}), 0) AS cost_s,
        coalesce(sum(input_tokens::DOUBLE) FILTER (WHERE {keep}), 0) AS cost_in,
        coalesce(sum(output_tokens::DOUBLE) FILTER (WHERE {keep}), 0) AS cost_out,
        count(*) FILTER (WHERE {keep}) AS n_keep
    FROM samples WHERE run_id = ?{where}
    GROUP BY model, item_id
    ORDER BY model, min(seq) FILTER (WHERE {ok}) NULLS LAST, item_id
    """


def pass_rates(source: Source, run_id: str) -> pd.DataFrame:
    """Share of scored successful requests that passed, per model (columns: model, rate, n)."""
    return query(source, "SELECT model, avg(passed::DOUBLE) AS rate, count(passed) AS n FROM samples "
                         "WHERE run_id = ? AND status = 'ok' AND passed IS NOT NULL GROUP BY model", [run_id])
