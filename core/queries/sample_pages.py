"""Every sample of a run, a page at a time: server-side filtering, text search, sorting and
paging in DuckDB, and the whole filtered set written to a file (CSV or Parquet) by DuckDB
itself, so that neither the dashboard process nor the browser holds a million rows.

Filters: models, categories, statuses, pass/fail, a quality range (0-10) and a text searched
in the model output (in SQL) and in the prompt and reference (prompt texts live in the run's
prompt-set version, not in the samples table: the caller passes the ids of the prompts whose
text matches, see prompt_matches). Every user value is a bound parameter; sort columns come
from a fixed list. Paging: ORDER BY the chosen column, then seq and the row id (a total
order, so pages never overlap), LIMIT / OFFSET; the total is one count over the same filter.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from core.queries.common import check_quality_range
from core.store import Store

PAGE_COLUMNS = ("model", "item_id", "category", "repeat", "status", "passed", "quality", "latency_ms", "ttft_ms",
                "output_tokens", "output_text", "error_kind", "error_message", "seq")
EXPORT_COLUMNS = ("run_id", "result_key", *PAGE_COLUMNS, "input_tokens", "decode_tps", "peak_rss_mb", "scores")
SORTS = {  # sortable column -> its label
    "seq": "Order run (sample number)", "latency_ms": "Latency", "ttft_ms": "Time to first token",
    "quality": "Quality", "output_tokens": "Output tokens", "model": "Model", "item_id": "Prompt id",
}
STATUSES = ("ok", "error", "timeout", "skipped", "cancelled")
FORMATS = {"parquet": "Parquet", "csv": "CSV"}
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class SampleFilter:
    """What to list; empty tuples and None mean 'any'."""

    models: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    passed: bool | None = None
    quality_min: float | None = None
    quality_max: float | None = None
    text: str = ""  # searched in the output; and in prompt / reference via text_items
    text_items: tuple[str, ...] = ()  # ids of the prompts whose prompt or reference text contains `text`

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}: use {', '.join(STATUSES)}")
        check_quality_range(self.quality_min, self.quality_max)


@dataclass(frozen=True)
class SamplePage:
    rows: pd.DataFrame  # PAGE_COLUMNS
    total: int  # samples matching the filter
    page: int  # 1-based, clamped to the last page
    pages: int
    page_size: int


def prompt_matches(items: Mapping[str, tuple[str, str | None]], text: str) -> tuple[str, ...]:
    """Ids of the prompts whose prompt or reference contains `text` (case-insensitive)."""
    needle = text.strip().lower()
    if not needle:
        return ()
    return tuple(i for i, (p, r) in items.items() if needle in (p or "").lower() or needle in (r or "").lower())


def _where(run_id: str, f: SampleFilter) -> tuple[str, list[Any]]:
    sql, params = ["run_id = ?"], [run_id]
    for col, values in (("model", f.models), ("category", f.categories), ("status", f.statuses)):
        if values:
            sql.append(f"list_contains(?, {col})")
            params.append(list(values))
    if f.passed is not None:
        sql.append("passed = ?")
        params.append(f.passed)
    if f.quality_min is not None:
        sql.append("quality >= ?")
        params.append(float(f.quality_min))
    if f.quality_max is not None:
        sql.append("quality <= ?")
        params.append(float(f.quality_max))
    if f.text.strip():
        sql.append("(contains(lower(output_text), ?) OR list_contains(?, item_id))")
        params += [f.text.strip().lower(), list(f.text_items)]
    return " AND ".join(sql), params


def _order(sort: str, descending: bool) -> str:
    if sort not in SORTS:
        raise ValueError(f"unknown sort column {sort!r}: use {', '.join(SORTS)}")
    direction = "DESC" if descending else "ASC"
    return f'"{sort}" {direction} NULLS LAST, seq, rowid'


def page(store: Store, run_id: str, f: SampleFilter, *, sort: str = "seq", descending: bool = False,
         page_size: int = 50, page_no: int = 1) -> SamplePage:
    """One page of the filtered, sorted samples and the number that match."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be 1 to {MAX_PAGE_SIZE} (got {page_size})")
    where, params = _where(run_id, f)
    order = _order(sort, descending)
    with store.connect() as con:
        total = int(con.execute(f"SELECT count(*) FROM samples WHERE {where}", params).fetchone()[0])
        pages = max(1, math.ceil(total / page_size))
        page_no = min(max(1, int(page_no)), pages)
        cols = ", ".join(f'"{c}"' for c in PAGE_COLUMNS)
        rows = con.execute(f"SELECT {cols} FROM samples WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                           [*params, page_size, (page_no - 1) * page_size]).df()
    return SamplePage(rows, total, page_no, pages, page_size)


def export(store: Store, run_id: str, f: SampleFilter, path: str | Path, fmt: str = "parquet", *,
           sort: str = "seq", descending: bool = False) -> int:
    """Write every sample matching f (EXPORT_COLUMNS, in the page order) to path; returns the count.
    DuckDB streams the rows to the file: nothing is loaded into this process."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
    where, params = _where(run_id, f)
    cols = ", ".join(f'"{c}"' for c in EXPORT_COLUMNS)
    options = "(FORMAT parquet)" if fmt == "parquet" else "(FORMAT csv, HEADER)"
    target = str(Path(path)).replace("'", "''")  # a path we chose (a temp file), quoted as a SQL literal
    with store.connect() as con:
        con.execute(f"COPY (SELECT {cols} FROM samples WHERE {where} ORDER BY {_order(sort, descending)}) "
                    f"TO '{target}' {options}", params)
        return int(con.execute(f"SELECT count(*) FROM samples WHERE {where}", params).fetchone()[0])
