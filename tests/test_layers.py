"""Data flows one way: store -> queries -> analysis -> views. SQL is written in two places only,
core/store.py (writes, the store's own reads) with its schema core/migrations.py and its table groups
core/store_queue.py, core/store_catalog.py, and core/queries/ (every other read)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQL_HOMES = (ROOT / "core" / "store.py", ROOT / "core" / "migrations.py", ROOT / "core" / "store_queue.py",
             ROOT / "core" / "store_catalog.py", ROOT / "core" / "queries")
SCANNED = sorted(p for d in ("core", "ui", "pages") for p in (ROOT / d).rglob("*.py")) + [ROOT / "app.py"]
# Statements as this code base writes them (upper-case keywords): a read, a write, an update, a delete.
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b")


def _allowed(path: Path) -> bool:
    return any(path == home or home in path.parents for home in SQL_HOMES)


def sql_strings(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """(line, text) of each string literal that holds a SQL statement; an f-string is read with
    `{}` where its fields are, so a statement split by placeholders still counts."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append((node.lineno, " ".join(text.split())[:80]))
    return found


def test_the_scan_sees_files_and_finds_sql():
    assert len(SCANNED) >= 40 and not any(_allowed(p) for p in SCANNED if p.parent.name in ("ui", "pages"))
    assert sql_strings("q = 'SELECT a FROM t WHERE x = ?'")
    assert sql_strings("q = f'SELECT {cols} FROM samples WHERE run_id = ?'")
    assert sql_strings('q = ("SELECT a"\n     " FROM t")')
    assert sql_strings("q = f'DELETE FROM {table}'") and sql_strings("q = 'INSERT OR REPLACE INTO t VALUES (?)'")
    assert sql_strings("q = 'UPDATE runs SET status = ?'")
    assert not sql_strings('"""Select the models from the catalog, then update the settings."""')
    assert sql_strings((ROOT / "core" / "store.py").read_text())  # the check would see the store's SQL


@pytest.mark.parametrize("path", [p for p in SCANNED if not _allowed(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_outside_the_store_and_queries(path):
    found = sql_strings(path.read_text(), str(path))
    assert not found, (f"SQL in {path.relative_to(ROOT)} (lines {', '.join(str(n) for n, _ in found)}): "
                       f"move the read into core/queries/ (or a write into core/store.py); first: {found[0][1]!r}")


# ---------------------------------------------------------------------------- charts: one home

CHART_HOME = ROOT / "core" / "charts"
# What builds a plotly figure: importing plotly's figure modules (graph_objects, express, subplots)
# or calling a go.Figure / trace constructor, make_subplots or plotly express. plotly.io (the HTML
# report serialising a figure core.charts built) is not building one.
PLOTLY_BUILDS = re.compile(r"\bplotly\.(?:graph_objects|graph_objs|express|subplots)\b|\bgo\.[A-Z]\w*\(|\bmake_subplots\(|\bpx\.\w+\(")


def _in_chart_home(path: Path) -> bool:
    return CHART_HOME in path.parents


def test_the_chart_scan_sees_figures():
    assert PLOTLY_BUILDS.search("import plotly.graph_objects as go") and PLOTLY_BUILDS.search("fig = go.Figure()")
    assert PLOTLY_BUILDS.search("go.Bar(x=[1])") and PLOTLY_BUILDS.search("import plotly.express as px")
    assert PLOTLY_BUILDS.search("from plotly.subplots import make_subplots")
    assert not PLOTLY_BUILDS.search("import plotly.io as pio") and not PLOTLY_BUILDS.search('"""Charts are plotly figures."""')
    homes = [p for p in SCANNED if _in_chart_home(p)]
    assert len(homes) >= 5 and any(PLOTLY_BUILDS.search(p.read_text()) for p in homes)


@pytest.mark.parametrize("path", [p for p in SCANNED if not _in_chart_home(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_plotly_figure_outside_core_charts(path):
    found = sorted({m.group(0) for m in PLOTLY_BUILDS.finditer(path.read_text())})
    assert not found, (f"{path.relative_to(ROOT)} builds a plotly figure ({', '.join(found)}): build it in core/charts/ "
                       "(one layout, registry labels) and hand it to st.plotly_chart or the report")
