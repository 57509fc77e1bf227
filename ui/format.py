"""Units, number formats and model colours shared by every page (no streamlit import).

One place decides how a latency, a memory size or a price is written, and which colour
a model gets, so the same model looks the same on every page.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from core.palette import model_colors  # noqa: F401 - the model colours, shared with core.charts (reports)

DASH = "–"


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def ms(v: float | None) -> str:
    """Latency in milliseconds: '0.42 ms', '8.3 ms', '123 ms', '12,345 ms'."""
    if _missing(v):
        return DASH
    if abs(v) < 1:
        return f"{v:.2f} ms"
    if abs(v) < 10:
        return f"{v:.1f} ms"
    return f"{v:,.0f} ms"


def tps(v: float | None) -> str:
    """Throughput in tokens per second."""
    if _missing(v):
        return DASH
    return f"{v:,.1f} tokens/s" if v < 1000 else f"{v:,.0f} tokens/s"


def mb(v: float | None) -> str:
    """A size given in MB (2**20 bytes): '512 MB', '1.50 GB'."""
    if _missing(v):
        return DASH
    if abs(v) >= 1024:
        return f"{v / 1024:,.2f} GB"
    if abs(v) >= 10:
        return f"{v:,.0f} MB"
    return f"{v:.1f} MB"


def gb(v: float | None) -> str:
    return DASH if _missing(v) else f"{v:,.2f} GB"


def usd(v: float | None) -> str:
    """Money: cents for amounts from $1, three significant digits below."""
    if _missing(v):
        return DASH
    a = abs(v)
    if a >= 1000:
        return f"${v:,.0f}"
    if a >= 1:
        return f"${v:,.2f}"
    if a == 0:
        return "$0"
    digits = max(2, 2 - int(math.floor(math.log10(a))))
    return f"${v:.{digits}f}"


def pct(v: float | None, digits: int = 1) -> str:
    """A fraction (0.123) as a percentage ('12.3%')."""
    return DASH if _missing(v) else f"{v * 100:.{digits}f}%"


def count(v: float | None) -> str:
    return DASH if _missing(v) else f"{int(v):,}"


def count_of(n: int, noun: str) -> str:
    """'1 model', '3 models', '1,200 samples' (plural by adding s)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


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


def params(n: float | None) -> str:
    """Parameter count: '418K', '7.9M', '1.2B'."""
    if _missing(n):
        return DASH
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{int(n)}"


def quality(v: float | None) -> str:
    """Composite quality on the 0..10 scale."""
    return DASH if _missing(v) else f"{v:.2f} / 10"


def duration(s: float | None) -> str:
    """Seconds as '45 s', '3 min 05 s', '2 h 07 min'."""
    if _missing(s):
        return DASH
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: str) -> str:
    """Backslash-escape markdown syntax, for the few places (progress labels) that take markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def slug(text: str, limit: int | None = 64, fallback: str = "prompt-set") -> str:
    """A valid prompt-set / model name (or a file-name stem) from any text: letters, digits,
    '.', '_', '-'; `fallback` when nothing is left, cut to `limit` characters (None: no cut)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    return (s or fallback)[:limit]
