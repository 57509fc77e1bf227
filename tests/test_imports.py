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


# ---------------------------------------------------------------------------- the dashboard and the CLI

DASHBOARD = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The project file of a dotted module name (a package's __init__.py or a module), None outside the project."""
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path, name: str) -> set[str]:
    """direct_imports (below), each name with the packages above it, since importing a.b runs
    a/__init__.py."""
    found = direct_imports(path, name)
    return {".".join(m.split(".")[:i]) for m in found if m for i in range(1, len(m.split(".")) + 1)}


def import_chains(paths: list[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """Every project module the files import, directly or through other project modules (imports inside
    functions counted), each with one chain of imports that reaches it."""
    def name_of(path: Path) -> str:
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        return name.removesuffix(".__init__")

    chains = {name_of(p): [name_of(p)] for p in paths}
    todo = list(chains)
    while todo:
        name = todo.pop()
        path = module_file(name, root)
        for dep in sorted(imported_modules(path, name)):
            if dep not in chains and module_file(dep, root):
                chains[dep] = [*chains[name], dep]
                todo.append(dep)
    return chains


def test_the_dashboard_imports_no_cli_module():
    """The CLI depends on the engine, never the other way: no page, ui helper or core module they reach
    (imports inside functions counted) imports core.cli or anything under it."""
    assert len(DASHBOARD) > len(VIEWS)
    reached = import_chains(DASHBOARD)
    assert "core.store" in reached  # the walk does go through core
    cli = {m: " -> ".join(chain) for m, chain in reached.items() if m == "core.cli" or m.startswith("core.cli.")}
    assert not cli, cli


def test_the_import_walk_follows_functions_relative_imports_and_packages(tmp_path):
    (tmp_path / "pkg" / "cli").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "cli" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "cli" / "common.py").write_text("")
    (tmp_path / "pkg" / "domain.py").write_text("def f():\n    from .cli.common import x\n")
    (tmp_path / "page.py").write_text("import pkg.domain\n")
    reached = import_chains([tmp_path / "page.py"], tmp_path)
    assert reached["pkg.cli.common"] == ["page", "pkg.domain", "pkg.cli.common"]
    assert "pkg.cli" in reached  # importing pkg.cli.common runs pkg/cli/__init__.py


# ---------------------------------------------------------------------------- no import cycle

PROJECT = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py"), *(ROOT / "core").rglob("*.py")])


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (imports there never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def direct_imports(path: Path, name: str) -> set[str]:
    """The dotted names a file imports at run time (inside functions too, importlib.import_module
    and __import__ with a literal name too; relative ones resolved; `from X import Y` gives X and
    X.Y, Y may be a submodule), without the packages above them."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
    return found


def import_cycles(paths: list[Path], root: Path = ROOT) -> list[list[str]]:
    """Groups of project modules that import each other, directly or round a loop (Tarjan's
    strongly connected components of the import graph, imports inside functions counted)."""
    names = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p for p in paths}
    graph = {n: sorted(d for d in direct_imports(p, n) if d in names and d != n) for n, p in names.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycle_among_project_modules():
    """Data flows one way; a cycle closed by an import inside a function is still a cycle."""
    assert len(PROJECT) > 60
    assert import_cycles(PROJECT) == []


def test_the_cycle_check_sees_deferred_imports_and_skips_type_checking(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from . import a\n")
    (tmp_path / "pkg" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\n")
    (tmp_path / "pkg" / "d.py").write_text("import pkg.c\n")
    files = sorted(tmp_path.rglob("*.py"))
    assert import_cycles(files, tmp_path) == [["pkg.a", "pkg.b"]]
