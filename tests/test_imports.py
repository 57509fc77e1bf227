"""Layering rules, checked on the source: core/ never imports streamlit; pages stay thin."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "core").rglob("*.py"))
VIEWS = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py")])
PAGE_BANNED = {"torch", "transformers", "duckdb"}


def imported_roots(path: Path) -> set[str]:
    """Top-level package of every import in a file (at any depth: functions included)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_the_checks_see_files():
    assert len(CORE) >= 10 and (ROOT / "app.py") in VIEWS and len(VIEWS) >= 5


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit(path):
    assert "streamlit" not in imported_roots(path)


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_import_no_torch_transformers_or_duckdb(path):
    assert not imported_roots(path) & PAGE_BANNED


def test_the_checker_catches_violations(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import torch.nn\n    from duckdb import connect\n    importlib.import_module('streamlit')\n")
    assert {"torch", "duckdb", "streamlit"} <= imported_roots(bad)
