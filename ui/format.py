"""Units, number formats and model colours shared by every page (no streamlit import).

How a number is written is decided in one place, core.textfmt (issue 12: one formatter for the
dashboard, the CLI and the reports); this module re-exports its unit functions so pages keep
writing fmt.ms(...), and adds the page-side helpers: run labels, markdown escaping, slugs and
the model colours (core.palette), so the same model looks the same on every page.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from core.palette import model_colors  # noqa: F401 - the model colours, shared with core.charts (reports)
from core.textfmt import (  # noqa: F401 - re-exported: the one formatter
    DASH,
    count,
    count_of,
    duration,
    fmt_interval,
    fmt_value,
    gb,
    mb,
    ms,
    params,
    pct,
    percent,
    quality,
    seconds,
    signed,
    tps,
    usd,
)


def run_label(row: Mapping[str, Any]) -> str:
    """How a run is named in every picker: name (id when the name differs), prompt set, start
    date, samples stored (answered: ok, error or timeout), status."""
    def given(v: object) -> bool:
        return v is not None and not (pd.api.types.is_scalar(v) and pd.isna(v))

    run_id, name = str(row.get("run_id", "")), row.get("name")
    title = f"{name} ({run_id})" if given(name) and str(name) and str(name) != run_id else run_id
    started = row.get("created_at")
    when = pd.Timestamp(started).strftime("%Y-%m-%d %H:%M") if given(started) else ""
    done = row.get("done")
    size = count_of(int(done), "sample") if given(done) else ""
    parts = [title, f"set {row.get('prompt_set')}" if row.get("prompt_set") else "", when, size, str(row.get("status") or "")]
    return " · ".join(p for p in parts if p)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Backslash-escape markdown syntax, for the few places (progress labels) that take markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def slug(text: str, limit: int | None = 64, fallback: str = "prompt-set") -> str:
    """A valid prompt-set / model name (or a file-name stem) from any text: letters, digits,
    '.', '_', '-'; `fallback` when nothing is left, cut to `limit` characters (None: no cut)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (s or fallback)[:limit]
