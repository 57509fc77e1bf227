"""Two arms' outputs prompt by prompt: filtered and paged in DuckDB.

An arm is (run, model); the two may come from one run or from two. Each prompt's first repeat
(repeat 0) of arm A is joined to arm B's on the item id. Prompt text and reference are not in
the samples table (they live in each run's prompt-set version), so the caller passes them as
parallel lists, bound as parameters and unnested in the query; with `only_listed` the pairs are
restricted to those items (arms from two prompt-set versions: changed items are left out).

Filters (all bound parameters; a prompt must match every one given):
    show        all | disagree | a_pass_b_fail | b_pass_a_fail (see SHOW)
    category    the prompt's category
    quality     a prompt matches when either arm's quality (0-10) lies in [min, max]
    text        case-insensitive substring of the prompt, the reference or either output
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.queries.common import Source, check_quality_range, query

SHOW = {
    "all": "All paired prompts",
    "disagree": "Disagreements only",
    "a_pass_b_fail": "A passes, B fails",
    "b_pass_a_fail": "B passes, A fails",
}
SHOW_HELP = ("Disagreement: pass/fail differ, one arm's generation failed (error or timeout) while the other "
             "answered, or the quality scores differ by 2 points or more. 'Fails' means did not pass: an answer "
             "below the pass mark, an error or a timeout.")
COLUMNS = ("item_id", "category", "prompt", "reference",
           "a_status", "a_error", "a_output", "a_quality", "a_passed", "a_scores", "a_latency_ms",
           "b_status", "b_error", "b_output", "b_quality", "b_passed", "b_scores", "b_latency_ms")


@dataclass(frozen=True)
class Filter:
    show: str = "all"
    category: str | None = None
    quality_min: float | None = None
    quality_max: float | None = None
    text: str | None = None

    def check(self) -> None:
        if self.show not in SHOW:
            raise ValueError(f"show must be one of {', '.join(SHOW)} (got {self.show!r})")
        check_quality_range(self.quality_min, self.quality_max)


@dataclass(frozen=True)
class Items:
    """The prompts the caller knows: item ids with their prompt and reference (parallel lists)."""
    ids: tuple[str, ...] = ()
    prompts: tuple[str | None, ...] = ()
    references: tuple[str | None, ...] = ()
    only_listed: bool = False  # pair only these items (others are left out)


_ARM = """
    SELECT item_id, category, status, coalesce(error_kind || ': ', '') || coalesce(error_message, '') AS error,
           output_text, quality, passed, scores, latency_ms
    FROM samples WHERE run_id = ? AND model = ? AND "repeat" = 0"""

_SQL = f"""
WITH a AS ({_ARM}), b AS ({_ARM}),
known AS (SELECT unnest(?::VARCHAR[]) AS item_id, unnest(?::VARCHAR[]) AS prompt, unnest(?::VARCHAR[]) AS reference),
pairs AS (
    SELECT a.item_id, coalesce(a.category, b.category) AS category, k.prompt, k.reference,
           a.status AS a_status, a.error AS a_error, a.output_text AS a_output, a.quality AS a_quality,
           a.passed AS a_passed, a.scores AS a_scores, a.latency_ms AS a_latency_ms,
           b.status AS b_status, b.error AS b_error, b.output_text AS b_output, b.quality AS b_quality,
           b.passed AS b_passed, b.scores AS b_scores, b.latency_ms AS b_latency_ms,
           coalesce(a.status = 'ok' AND a.passed, FALSE) AS a_pass,
           coalesce(b.status = 'ok' AND b.passed, FALSE) AS b_pass,
           a.status <> 'ok' OR coalesce(NOT a.passed, FALSE) AS a_fail,
           b.status <> 'ok' OR coalesce(NOT b.passed, FALSE) AS b_fail
    FROM a JOIN b USING (item_id) LEFT JOIN known k USING (item_id)
    WHERE NOT ? OR k.item_id IS NOT NULL),
f AS (SELECT ?::VARCHAR AS show, ?::VARCHAR AS category, ?::DOUBLE AS qmin, ?::DOUBLE AS qmax,
             lower(?::VARCHAR) AS q),
chosen AS (
    SELECT pairs.* FROM pairs, f
    WHERE CASE f.show
            WHEN 'disagree' THEN (a_status = 'ok') <> (b_status = 'ok') OR coalesce(a_passed <> b_passed, FALSE)
                                 OR coalesce(abs(a_quality - b_quality), 0) >= 2
            WHEN 'a_pass_b_fail' THEN a_pass AND b_fail
            WHEN 'b_pass_a_fail' THEN b_pass AND a_fail
            ELSE TRUE END
      AND (f.category IS NULL OR pairs.category = f.category)
      AND (f.qmin IS NULL AND f.qmax IS NULL
           OR a_quality BETWEEN coalesce(f.qmin, -1e308) AND coalesce(f.qmax, 1e308)
           OR b_quality BETWEEN coalesce(f.qmin, -1e308) AND coalesce(f.qmax, 1e308))
      AND (f.q IS NULL OR contains(lower(coalesce(prompt, '')), f.q) OR contains(lower(coalesce(reference, '')), f.q)
           OR contains(lower(coalesce(a_output, '')), f.q) OR contains(lower(coalesce(b_output, '')), f.q))),
total AS (SELECT count(*) AS total FROM chosen),
page AS (SELECT * FROM chosen ORDER BY item_id LIMIT ? OFFSET ?)
SELECT t.total, {", ".join(f"p.{c}" for c in COLUMNS)}
FROM total t LEFT JOIN page p ON TRUE
ORDER BY p.item_id
"""


def paired_outputs(source: Source, arm_a: tuple[str, str], arm_b: tuple[str, str], items: Items = Items(),
                 filt: Filter = Filter(), *, limit: int | None = 20, offset: int = 0) -> tuple[pd.DataFrame, int]:
    """The page of paired prompts (columns COLUMNS, by item id) and how many prompts match.
    arm_a / arm_b are (run_id, model); limit None returns every matching prompt (an export)."""
    filt.check()
    text = (filt.text or "").strip() or None
    lo, hi = filt.quality_min, filt.quality_max
    params = [
        *arm_a, *arm_b, list(items.ids), list(items.prompts), list(items.references), bool(items.only_listed),
        filt.show, filt.category, lo, hi, text,
        int(limit) if limit is not None else 2**62, int(offset),
    ]
    df = query(source, _SQL, params)
    total = int(df["total"].iloc[0]) if not df.empty else 0
    rows = df.drop(columns=["total"]).dropna(subset=["item_id"]).reset_index(drop=True)
    return rows, total


def arm_categories(source: Source, arms: Sequence[tuple[str, str]]) -> list[str]:
    """The categories any of the arms' samples carry, sorted."""
    if not arms:
        return []
    where = " OR ".join("(run_id = ? AND model = ?)" for _ in arms)
    df = query(source, f"SELECT DISTINCT category FROM samples WHERE {where} ORDER BY 1",
               [v for arm in arms for v in arm])
    return [c for c in df["category"] if isinstance(c, str)]
