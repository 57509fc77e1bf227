"""Cached resources and cached queries shared by the pages, plus session-state keys.

Resources (st.cache_resource, shared by every session, hence thread-safe objects only):
the Store for the database the CLI uses (LLM_EVAL_DB or the default runtime path), one
ModelLoader for the process and the process-wide RunManager.

Queries (st.cache_data) take the database path and a data version (the file's size and
modification time, WAL included) as arguments, so they are recomputed as soon as a run
writes new samples, whoever wrote them (this server or a CLI run).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import psutil
import streamlit as st

from core import catalog, config, jobs, prompts
from core.devices import Budget
from core.loader import ModelLoader
from core.schemas import PromptSet
from core.store import Store
from ui import format as fmt

CACHE_TTL_S = 30  # catalog files and process liveness can change without a database write


class Keys:
    """Session-state keys used by more than one page."""

    run_seen_busy = "run.seen_busy"
    notice = "notice"  # a message to show once on the next page render


# --------------------------------------------------------------------------- resources


def db_path() -> Path:
    return config.db_path()


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    return _store(str(db_path()))


@st.cache_resource(show_spinner=False)
def loader() -> ModelLoader:
    """One loader for the whole server: a model is loaded once, whichever session asks."""
    return ModelLoader()


def manager() -> jobs.RunManager:
    return jobs.shared(store(), loader())


def data_version(path: str | Path | None = None) -> tuple[int, ...]:
    """Changes whenever the database file (or its write-ahead log) changes."""
    p = Path(path or db_path())
    out: list[int] = []
    for f in (p, p.with_name(p.name + ".wal")):
        try:
            st_ = f.stat()
            out += [st_.st_mtime_ns, st_.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return tuple(out)


def budget() -> Budget:
    """The loader's memory budget, without importing torch just to draw a page."""
    ld = loader()
    explicit = getattr(ld, "_budget_gb", None)
    if explicit is not None or "torch" in sys.modules:
        return ld.budget()
    total = psutil.virtual_memory().total
    return Budget(int(total * 0.6), "60% of system memory")


# --------------------------------------------------------------------------- cached queries


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _runs(path: str, version: tuple[int, ...]) -> pd.DataFrame:
    return _store(path).runs_df(limit=500)


def runs() -> pd.DataFrame:
    """Runs, newest first, with done / planned / errors and live status."""
    path = str(db_path())
    return _runs(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def _summary(path: str, run_id: str, version: tuple[int, ...]) -> pd.DataFrame:
    return _store(path).latency_summary(run_id)


def run_summary(run_id: str) -> pd.DataFrame:
    path = str(db_path())
    return _summary(path, run_id, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _catalog(path: str, version: tuple[int, ...]) -> list[catalog.ModelInfo]:
    return [catalog.describe(s) for s in catalog.all_specs(_store(path)).values()]


def catalog_infos() -> list[catalog.ModelInfo]:
    path = str(db_path())
    return _catalog(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _prompt_sets(path: str, version: tuple[int, ...]) -> dict[str, PromptSet]:
    return prompts.all_sets(_store(path))


def prompt_sets() -> dict[str, PromptSet]:
    path = str(db_path())
    return _prompt_sets(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _champion(path: str, version: tuple[int, ...]) -> str | None:
    return _store(path).get_setting("champion")


def champion() -> str | None:
    """The default baseline for comparisons (set on the Models page)."""
    path = str(db_path())
    return _champion(path, data_version(path))


def set_champion(name: str | None) -> None:
    store().set_setting("champion", name)


def model_colors() -> dict[str, str]:
    """Colour per model over every model known (catalog + runs), the same on every page."""
    names = {i.spec.name for i in catalog_infos()}
    df = runs()
    if not df.empty:
        for spec in df["spec"]:
            try:
                names.update(json.loads(spec).get("models", []))
            except (TypeError, ValueError):
                continue
    return fmt.model_colors(names)
