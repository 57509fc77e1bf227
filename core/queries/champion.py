"""Reads of the champion's history (core.champion) and of its MLflow registry mirror."""
from __future__ import annotations

import pandas as pd

from core.queries.common import Source, query


def champion_history(source: Source) -> pd.DataFrame:
    """Every champion_history row, oldest first (seq order)."""
    return query(source, "SELECT seq, changed_at, action, run_id, model, actor, note, gate, evidence, restores"
                         " FROM champion_history ORDER BY seq")


def champion_mirror(source: Source) -> pd.DataFrame:
    """The latest MLflow registry mirror outcome of each history row (seq, status, registered_model,
    version, message, mirrored_at)."""
    return query(source, "SELECT seq, mirrored_at, status, registered_model, version, message FROM champion_mirror"
                         " QUALIFY row_number() OVER (PARTITION BY seq ORDER BY mirrored_at DESC) = 1 ORDER BY seq")


def promotable(source: Source, limit: int = 200) -> pd.DataFrame:
    """The arms a champion may be picked from: (run_id, name, created_at, model) of the newest
    `limit` finished runs, each model with at least one successful request; newest run first."""
    return query(source, """
        WITH r AS (SELECT run_id, name, created_at FROM runs WHERE status NOT IN ('running', 'queued')
                   ORDER BY created_at DESC LIMIT ?)
        SELECT r.run_id, r.name, r.created_at, s.model
        FROM r JOIN (SELECT DISTINCT run_id, model FROM samples WHERE status = 'ok') s USING (run_id)
        ORDER BY r.created_at DESC, s.model""", [int(limit)])
