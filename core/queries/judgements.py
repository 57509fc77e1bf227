"""Reads of the LLM-judge verdicts (core.judge): the latest judgement per sample and scorer, the cache,
the samples to judge, pairwise verdicts, and the counts and costs a KPI table or a report shows.

The judgements table is append-only: the row with the highest seq per (run_id, result_key, scorer_key)
(pairwise: per run_id, item_id, repeat, model_a, model_b, answer_order) is the current one."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.queries.common import Source, query


def judgeable_samples(source: Source, run_id: str, models: Sequence[str] | None = None) -> pd.DataFrame:
    """The run's successful samples (the ones a judge grades): result_key, model, model_version, item_id,
    repeat, output_text, scores; in plan order."""
    sql = ('SELECT result_key, model, model_version, item_id, "repeat", output_text, scores FROM samples'
           " WHERE run_id = ? AND status = 'ok'")
    params: list[Any] = [run_id]
    if models:
        sql += f" AND model IN ({', '.join('?' * len(models))})"
        params += list(models)
    return query(source, sql + " ORDER BY model, seq", params)


def latest_judgements(source: Source, run_id: str) -> pd.DataFrame:
    """The current absolute judgement of each (sample, judge scorer) of the run, with everything stored."""
    return query(source, """
        SELECT * FROM judgements WHERE run_id = ? AND mode = 'absolute'
        QUALIFY row_number() OVER (PARTITION BY result_key, scorer_key ORDER BY seq DESC) = 1
        ORDER BY model, item_id, "repeat", scorer_key
        """, [run_id])


def cached_judgements(source: Source, cache_keys: Sequence[str]) -> pd.DataFrame:
    """The latest finished (ok or error) judgement of each cache key, from any run: the cache."""
    if not cache_keys:
        return pd.DataFrame(columns=["cache_key", "status", "score", "value", "preference", "raw_text", "error_kind",
                                     "error_message"])
    keys = list(dict.fromkeys(cache_keys))
    return query(source, f"""
        SELECT cache_key, status, score, value, preference, raw_text, error_kind, error_message FROM judgements
        WHERE status IN ('ok', 'error') AND cache_key IN ({', '.join('?' * len(keys))})
        QUALIFY row_number() OVER (PARTITION BY cache_key ORDER BY seq DESC) = 1
        """, keys)


def pairwise_judgements(source: Source, run_id: str, model_a: str | None = None, model_b: str | None = None) -> pd.DataFrame:
    """The current pairwise verdict per (item, repeat, model pair, order)."""
    sql = "SELECT * FROM judgements WHERE run_id = ? AND mode = 'pairwise'"
    params: list[Any] = [run_id]
    if model_a is not None and model_b is not None:
        sql += " AND model_a = ? AND model_b = ?"
        params += [model_a, model_b]
    return query(source, sql + """
        QUALIFY row_number() OVER (PARTITION BY item_id, "repeat", model_a, model_b, answer_order ORDER BY seq DESC) = 1
        ORDER BY model_a, model_b, item_id, "repeat", answer_order
        """, params)


def judgement_status_counts(source: Source, run_id: str) -> pd.DataFrame:
    """Per (model, scorer_key): ok, error and pending counts of the current absolute judgements (samples with
    no judgement row yet are not here: core.judge.judgement_counts adds them)."""
    return query(source, """
        SELECT model, scorer_key,
               count(*) FILTER (WHERE status = 'ok') AS ok,
               count(*) FILTER (WHERE status = 'error') AS error,
               count(*) FILTER (WHERE status = 'pending') AS pending
        FROM (SELECT * FROM judgements WHERE run_id = ? AND mode = 'absolute'
              QUALIFY row_number() OVER (PARTITION BY result_key, scorer_key ORDER BY seq DESC) = 1)
        GROUP BY model, scorer_key ORDER BY model, scorer_key
        """, [run_id])


def judge_costs(source: Source, run_id: str) -> pd.DataFrame:
    """What judging the run cost, per judge model and mode, over every call made (cached rows cost nothing):
    calls, cached, input/output tokens, judge seconds, cost_usd (NULL when no price is known)."""
    return query(source, """
        SELECT judge_model, mode,
               count(*) FILTER (WHERE NOT coalesce(cached, false) AND status <> 'pending') AS calls,
               count(*) FILTER (WHERE coalesce(cached, false)) AS cached,
               coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
               coalesce(sum(latency_ms), 0) / 1000.0 AS judge_s, sum(cost_usd) AS cost_usd
        FROM judgements WHERE run_id = ? GROUP BY judge_model, mode ORDER BY judge_model, mode
        """, [run_id])
