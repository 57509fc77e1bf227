"""What a run planned and recorded: its models in spec order, run_models rows, manifest model
specs, settings, timestamps and its latest failures."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from core.queries.common import Source, query
from core.store import Store


def planned_models(spec: str | Mapping[str, Any] | None) -> list[str]:
    """The models a run planned, in the order of its spec: the runs.spec JSON text (or the
    decoded dict). [] for a missing or unreadable spec. The one decoder of that list."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            return []
    if not isinstance(spec, Mapping):
        return []
    return [str(m) for m in spec.get("models") or []]


def run_models_order(source: Source, run_id: str) -> list[str]:
    """The models of a run in the order of its spec; KeyError when there is no such run."""
    df = query(source, "SELECT spec FROM runs WHERE run_id = ?", [run_id])
    if df.empty:
        where = f" in {source.path}" if isinstance(source, Store) else ""
        raise KeyError(f"no run {run_id!r}{where}; list runs with `python -m core runs`")
    return planned_models(df["spec"].iloc[0])


def run_models(source: Source, run_id: str) -> pd.DataFrame:
    """The run_models rows (load time, weights, warm-up latency, ...), indexed by model."""
    return query(source, "SELECT * FROM run_models WHERE run_id = ? ORDER BY model", [run_id]).set_index("model")


def manifest_model_specs(source: Source, run_id: str) -> dict[str, Any]:
    """The model specs of the run's manifest (as they were when the run was created), by name;
    {} for an unknown run or an unreadable manifest."""
    df = query(source, "SELECT manifest FROM runs WHERE run_id = ?", [run_id])
    try:
        specs = json.loads(df["manifest"].iloc[0] or "{}").get("models") or {} if not df.empty else {}
    except (TypeError, ValueError, AttributeError):
        specs = {}
    return specs if isinstance(specs, dict) else {}


def setting(source: Source, key: str) -> str | None:
    """A stored setting (the champion, ...) read on `source`; None when unset."""
    df = query(source, "SELECT value FROM settings WHERE key = ?", [key])
    return str(df["value"].iloc[0]) if not df.empty else None


def run_data_version(source: Source, run_id: str) -> tuple:
    """What a run's statistics depend on in the store, as one comparable value: its status and last
    write (samples appended or re-run), its sample count, and the latest human rating and LLM judgement
    of it (those change scores without touching the run row). ("missing",) for an unknown run."""
    df = query(source, """
        SELECT r.status, CAST(r.updated_at AS VARCHAR) AS updated_at,
            (SELECT count(*) FROM samples s WHERE s.run_id = r.run_id) AS samples,
            (SELECT coalesce(max(seq), 0) FROM ratings g WHERE g.run_id = r.run_id) AS rating,
            (SELECT coalesce(max(seq), 0) FROM judgements j WHERE j.run_id = r.run_id) AS judgement
        FROM runs r WHERE r.run_id = ?""", [run_id])
    if df.empty:
        return ("missing",)
    r = df.iloc[0]
    return (str(r["status"]), str(r["updated_at"]), int(r["samples"]), int(r["rating"]), int(r["judgement"]))


def run_times(store: Store, run_id: str) -> pd.Series:
    """created_at and finished_at of a run (naive UTC timestamps; finished_at may be missing)."""
    return store.query_df("SELECT created_at, finished_at FROM runs WHERE run_id = ?", [run_id]).iloc[0]


def recent_errors(store: Store, run_id: str, limit: int = 20) -> pd.DataFrame:
    """The latest failed samples of a run (model, item, kind, message) for the live panel."""
    return store.query_df(
        "SELECT model, item_id, status, error_kind, error_message FROM samples"
        " WHERE run_id = ? AND status NOT IN ('ok') ORDER BY finished_at DESC LIMIT ?",
        [run_id, int(limit)],
    )
