"""The store's queue tables: the worker slot, queued runs, progress records and requests.

The evaluation worker (core.worker) and its clients (core.jobs: dashboard, CLI) meet here. Each
method is one short transaction; DuckDB's file lock makes each atomic across processes. A part of
core.store.Store (its base class), split out by concern: the connection and the clock are the store's.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


from core.store_access import StoreAccess


class QueueTables(StoreAccess):
    """Store methods over the workers, runs (queue columns), run_progress and run_requests tables."""

    WORKER_COLUMNS = ("token", "pid", "host", "started_at", "proc_started", "beat_at", "beat_deadline", "state",
                      "run_id", "cores", "torch_threads", "metrics_port", "loaded", "log_path", "message")

    def worker_row(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        with self.connect(timeout_s) as con:
            cur = con.execute(f"SELECT {', '.join(self.WORKER_COLUMNS)} FROM workers WHERE slot = 'main'")
            row = cur.fetchone()
        return dict(zip(self.WORKER_COLUMNS, row, strict=True)) if row else None

    def claim_worker_slot(self, row: dict[str, Any], is_live: Any) -> dict[str, Any] | None:
        """Take the worker slot for row['token'] unless a live worker holds it (is_live(existing) -> bool).
        Returns None when taken, or the live holder's row."""
        with self.connect() as con:
            con.execute("BEGIN")
            cur = con.execute(f"SELECT {', '.join(self.WORKER_COLUMNS)} FROM workers WHERE slot = 'main'")
            old = cur.fetchone()
            holder = dict(zip(self.WORKER_COLUMNS, old, strict=True)) if old else None
            if holder is not None and holder["token"] != row["token"] and is_live(holder):
                con.execute("ROLLBACK")
                return holder
            cols = ["slot", *row]
            con.execute(f"INSERT OR REPLACE INTO workers ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        ["main", *row.values()])
            con.execute("COMMIT")
        return None

    def beat_worker(self, token: str, fields: dict[str, Any], timeout_s: float | None = None) -> bool:
        """Update the slot's fields if token still holds it; False when another worker took it over."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.connect(timeout_s) as con:
            got = con.execute(f"UPDATE workers SET {sets} WHERE slot = 'main' AND token = ? RETURNING token",
                              [*fields.values(), token]).fetchall()
        return bool(got)

    def claim_next_run(self, pid: int) -> str | None:
        """The oldest queued run, marked running in process pid (atomically), or None."""
        with self.connect() as con:
            got = con.execute(
                "UPDATE runs SET status = 'running', pid = ?, updated_at = ?, message = NULL WHERE run_id = ("
                " SELECT run_id FROM runs WHERE status = 'queued' ORDER BY queued_at NULLS LAST, created_at LIMIT 1)"
                " AND status = 'queued' RETURNING run_id",
                [pid, self.now()],
            ).fetchall()
        return got[0][0] if got else None

    def queue_run(self, run_id: str, message: str | None = None) -> None:
        with self.connect() as con:
            con.execute("UPDATE runs SET status = 'queued', queued_at = ?, updated_at = ?, finished_at = NULL,"
                        " message = ?, pid = NULL WHERE run_id = ?", [self.now(), self.now(), message, run_id])

    def dequeue_run(self, run_id: str, message: str) -> bool:
        """Cancel a run that has not started yet; False when it is no longer queued."""
        with self.connect() as con:
            got = con.execute("UPDATE runs SET status = 'cancelled', message = ?, updated_at = ?, finished_at = ?"
                              " WHERE run_id = ? AND status = 'queued' RETURNING run_id",
                              [message, self.now(), self.now(), run_id]).fetchall()
        return bool(got)

    def queued_runs(self) -> pd.DataFrame:
        return self.query_df("SELECT run_id, name, prompt_set, planned, queued_at FROM runs WHERE status = 'queued'"
                             " ORDER BY queued_at NULLS LAST, created_at")

    def running_runs(self) -> pd.DataFrame:
        """Runs marked running, with their process ids (a dead pid means interrupted: see runs_df)."""
        return self.query_df("SELECT run_id, pid FROM runs WHERE status = 'running' ORDER BY created_at")

    def write_progress(self, run_id: str, doc: str, timeout_s: float | None = None) -> None:
        with self.connect(timeout_s) as con:
            con.execute("INSERT OR REPLACE INTO run_progress VALUES (?, ?, ?)", [run_id, self.now(), doc])

    def progress_doc(self, run_id: str) -> str | None:
        with self.connect() as con:
            row = con.execute("SELECT doc FROM run_progress WHERE run_id = ?", [run_id]).fetchone()
        return row[0] if row else None

    def latest_progress(self) -> tuple[str, str] | None:
        """(run_id, doc) of the most recently updated progress record."""
        with self.connect() as con:
            row = con.execute("SELECT run_id, doc FROM run_progress ORDER BY updated_at DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else None

    def add_request(self, kind: str, run_id: str | None = None, arg: str | None = None, origin: str | None = None) -> str:
        import uuid

        rid = uuid.uuid4().hex
        with self.connect() as con:
            con.execute("INSERT INTO run_requests VALUES (?, ?, ?, ?, ?, NULL, ?)", [rid, run_id, kind, arg, self.now(), origin])
        return rid

    def pending_requests(self, kind: str, run_id: str | None = None, timeout_s: float | None = None) -> pd.DataFrame:
        sql = "SELECT id, run_id, arg, created_at FROM run_requests WHERE kind = ? AND handled_at IS NULL"
        params: list[Any] = [kind]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        with self.connect(timeout_s) as con:
            return con.execute(sql + " ORDER BY created_at", params).df()

    def mark_handled(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self.connect() as con:
            con.execute(f"UPDATE run_requests SET handled_at = ? WHERE id IN ({', '.join('?' * len(ids))})", [self.now(), *ids])
