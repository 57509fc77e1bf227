"""The store's catalog tables: the user's models, prompt sets (each version a run used is kept)
and settings. A part of core.store.Store (its base class), split out by concern: the connection
and the clock are the store's.
"""
from __future__ import annotations

import json

import duckdb
import pandas as pd

from core.schemas import ModelSpec, PromptItem, PromptSet
from core.store_access import StoreAccess


class CatalogTables(StoreAccess):
    """Store methods over the models, prompt_sets, prompt_set_versions and settings tables."""

    def add_model(self, spec: ModelSpec) -> None:
        with self.connect() as con:
            con.execute("INSERT OR REPLACE INTO models VALUES (?, ?, ?)", [spec.name, spec.to_json(), self.now()])

    def delete_model(self, name: str) -> bool:
        with self.connect() as con:
            n = con.execute("DELETE FROM models WHERE name = ? RETURNING name", [name]).fetchall()
        return bool(n)

    def user_models(self) -> list[ModelSpec]:
        with self.connect() as con:
            rows = con.execute("SELECT spec FROM models ORDER BY name").fetchall()
        return [ModelSpec.from_json(r[0]) for r in rows]

    def save_prompt_set(self, ps: PromptSet) -> None:
        """Make ps the current version of its imported name; earlier versions stay for their runs."""
        with self.connect() as con:
            con.execute("BEGIN")
            self._keep_version(con, ps, "imported")
            con.execute(
                "INSERT OR REPLACE INTO prompt_sets VALUES (?, ?, ?, NULL, ?, ?)",
                [ps.name, ps.description, ps.content_hash, len(ps.items), self.now()],
            )
            con.execute("COMMIT")

    def keep_prompt_set_version(self, ps: PromptSet) -> None:
        """Store ps's version (once) so that a run made with it can always show its prompts."""
        with self.connect() as con:
            self._keep_version(con, ps, ps.source)

    def _keep_version(self, con: duckdb.DuckDBPyConnection, ps: PromptSet, source: str) -> None:
        items = json.dumps([i.canonical() for i in ps.items])
        con.execute(
            "INSERT OR IGNORE INTO prompt_set_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [ps.name, ps.content_hash, ps.description, items, len(ps.items), source, self.now()],
        )

    def current_prompt_set_hash(self, name: str) -> str | None:
        """The version an imported name points at, or None when no imported set has the name."""
        with self.connect() as con:
            row = con.execute("SELECT content_hash FROM prompt_sets WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    # a run's version: the full set's hash in its manifest (runs since 0007), else the hash of what it ran
    _RUN_USES = ("r.prompt_set = v.name AND (v.content_hash = r.prompt_set_hash"
                 " OR v.content_hash = json_extract_string(r.manifest, '$.prompt_set_version'))")

    def delete_prompt_set(self, name: str) -> bool:
        """Remove an imported name; the versions that runs used stay, so those runs keep their prompts."""
        with self.connect() as con:
            con.execute("BEGIN")
            n = con.execute("DELETE FROM prompt_sets WHERE name = ? RETURNING name", [name]).fetchall()
            con.execute(
                f"DELETE FROM prompt_set_versions v WHERE v.name = ? AND v.source = 'imported'"
                f" AND NOT EXISTS (SELECT 1 FROM runs r WHERE {self._RUN_USES})",
                [name],
            )
            con.execute("COMMIT")
        return bool(n)

    @staticmethod
    def _to_set(name: str, description: str | None, items: str, source: str) -> PromptSet:
        return PromptSet(name=name, description=description or "",
                         items=tuple(PromptItem.model_validate(i) for i in json.loads(items)), source=source)

    def imported_prompt_sets(self) -> list[PromptSet]:
        """The current version of each imported set."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT p.name, p.description, v.items FROM prompt_sets p JOIN prompt_set_versions v"
                " ON v.name = p.name AND v.content_hash = p.content_hash ORDER BY p.name"
            ).fetchall()
        return [self._to_set(n, d, items, "imported") for n, d, items in rows]

    def stored_prompt_sets(self, name: str, content_hash: str | None = None) -> list[PromptSet]:
        """The stored versions of a set (one, with content_hash), oldest first."""
        sql = "SELECT name, description, items, source FROM prompt_set_versions WHERE name = ?"
        params = [name]
        if content_hash is not None:
            sql += " AND content_hash = ?"
            params.append(content_hash)
        with self.connect() as con:
            rows = con.execute(sql + " ORDER BY created_at", params).fetchall()
        return [self._to_set(*r) for r in rows]

    def prompt_set_versions(self, name: str, current: str | None = None) -> pd.DataFrame:
        """One row per stored version of a set, newest first: version, items, source, stored_at,
        current (the version equals `current`, default: the imported name's), runs (that used it)."""
        return self.query_df(
            f"""
            SELECT v.content_hash AS version, v.n_items AS items, v.source, v.created_at AS stored_at,
                   v.content_hash = coalesce(?, p.content_hash, '') AS current,
                   (SELECT count(*) FROM runs r WHERE {self._RUN_USES}) AS runs
            FROM prompt_set_versions v LEFT JOIN prompt_sets p ON p.name = v.name
            WHERE v.name = ? ORDER BY v.created_at DESC
            """,
            [current, name],
        )

    def get_setting(self, key: str) -> str | None:
        with self.connect() as con:
            row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        with self.connect() as con:
            if value is None:
                con.execute("DELETE FROM settings WHERE key = ?", [key])
            else:
                con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])
