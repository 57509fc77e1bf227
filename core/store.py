"""The results store: one DuckDB file, named append-only migrations, batched writes.

DuckDB allows one process to hold a database file at a time, so every operation
opens a short-lived connection and retries (bounded) while another process holds
the lock. A CLI run writing and a dashboard reading the same file therefore both
make progress: each waits at most a few milliseconds per batch for the other.
All user-supplied values are bound parameters.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.schemas import SAMPLE_COLUMNS, ModelSpec, PromptItem, PromptSet, RunSpec

DONE_STATUSES = ("ok", "error", "timeout")  # resume skips these; skipped/cancelled run again

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            name VARCHAR,
            created_at TIMESTAMP,
            updated_at TIMESTAMP,
            finished_at TIMESTAMP,
            status VARCHAR,
            prompt_set VARCHAR,
            prompt_set_hash VARCHAR,
            planned INTEGER,
            spec VARCHAR,
            manifest VARCHAR,
            message VARCHAR,
            pid INTEGER
        );
        CREATE TABLE run_models (
            run_id VARCHAR,
            model VARCHAR,
            model_version VARCHAR,
            backend VARCHAR,
            params BIGINT,
            weights_mb DOUBLE,
            load_time_s DOUBLE,
            load_rss_mb DOUBLE,
            cold_latency_ms DOUBLE,
            device VARCHAR,
            dtype VARCHAR,
            fallback VARCHAR,
            status VARCHAR,
            message VARCHAR,
            PRIMARY KEY (run_id, model)
        );
        CREATE TABLE samples (
            result_key VARCHAR NOT NULL,  -- unique: enforced by delete-then-insert per batch
            run_id VARCHAR,
            model VARCHAR,
            model_version VARCHAR,
            backend VARCHAR,
            prompt_set VARCHAR,
            prompt_set_hash VARCHAR,
            item_id VARCHAR,
            category VARCHAR,
            "repeat" INTEGER,
            seq INTEGER,
            status VARCHAR,
            error_kind VARCHAR,
            error_message VARCHAR,
            attempts INTEGER,
            latency_ms DOUBLE,
            ttft_ms DOUBLE,
            decode_tps DOUBLE,
            input_tokens INTEGER,
            output_tokens INTEGER,
            token_source VARCHAR,
            peak_rss_mb DOUBLE,
            peak_accel_mb DOUBLE,
            output_text VARCHAR,
            quality DOUBLE,
            passed BOOLEAN,
            scores VARCHAR,
            device VARCHAR,
            dtype VARCHAR,
            fallback VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP
        );
        CREATE TABLE models (
            name VARCHAR PRIMARY KEY,
            spec VARCHAR,
            added_at TIMESTAMP
        );
        CREATE TABLE prompt_sets (
            name VARCHAR PRIMARY KEY,
            description VARCHAR,
            content_hash VARCHAR,
            items VARCHAR,
            n_items INTEGER,
            created_at TIMESTAMP
        );
        CREATE TABLE settings (
            key VARCHAR PRIMARY KEY,
            value VARCHAR
        );
        """,
    ),
    (
        "0002_mlflow_mirror",
        """
        ALTER TABLE runs ADD COLUMN mlflow_run_id VARCHAR;
        ALTER TABLE runs ADD COLUMN mlflow_status VARCHAR;
        ALTER TABLE runs ADD COLUMN mlflow_message VARCHAR;
        """,
    ),
    (
        "0003_http_serving",
        """
        ALTER TABLE run_models ADD COLUMN endpoint VARCHAR;
        ALTER TABLE run_models ADD COLUMN memory_note VARCHAR;
        ALTER TABLE run_models ADD COLUMN concurrency INTEGER;
        ALTER TABLE run_models ADD COLUMN requests_per_s DOUBLE;
        ALTER TABLE run_models ADD COLUMN output_tps DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput_ttft_ms DOUBLE;
        ALTER TABLE run_models ADD COLUMN goodput_latency_ms DOUBLE;
        ALTER TABLE run_models ADD COLUMN serving_wall_s DOUBLE;
        """,
    ),
    (
        "0004_measured_power",
        """
        ALTER TABLE run_models ADD COLUMN energy_j DOUBLE;
        ALTER TABLE run_models ADD COLUMN power_w DOUBLE;
        ALTER TABLE run_models ADD COLUMN power_source VARCHAR;
        """,
    ),
)



def _as_arrow(df: pd.DataFrame):  # noqa: ANN202 - pyarrow.Table | pd.DataFrame
    """The batch as an Arrow table: DuckDB scans it about 1.4x faster than a pandas frame with
    object columns (bench/store.py). A column Arrow cannot type (mixed Python objects) keeps the
    pandas path, which DuckDB converts itself."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return df


# DuckDB's row-group size. A bulk writer that hands append_samples whole multiples of it gets
# each batch written straight to the file; a batch that ends in a partial row group leaves a tail
# that the next batch's checkpoint rewrites (bench/store.py).
ROW_GROUP_ROWS = 122_880


class StoreBusyError(RuntimeError):
    """The database file stayed locked by another process past the retry budget."""


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def result_key(run_id: str, model: str, model_version: str, prompt_set_hash: str, item_id: str, repeat: int) -> str:
    """Deterministic sample key: sha256 of canonical JSON (the idempotency key for resume)."""
    payload = json.dumps(
        {
            "item_id": item_id,
            "model": model,
            "model_version": model_version,
            "prompt_set_hash": prompt_set_hash,
            "repeat": repeat,
            "run_id": run_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class RunRow:
    run_id: str
    name: str
    created_at: datetime
    status: str
    prompt_set: str
    prompt_set_hash: str
    planned: int
    done: int
    spec: RunSpec
    manifest: dict[str, Any]
    message: str | None
    mlflow_run_id: str | None
    mlflow_status: str | None


class Store:
    """Short-lived connections over one DuckDB file, with bounded lock retries."""

    _init_lock = threading.Lock()

    def __init__(self, path: str | Path, lock_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with Store._init_lock:
            self._migrate()

    # ------------------------------------------------------------------ plumbing
    # DuckDB refuses to open a file in one thread while another thread of the same process
    # closes its last connection to it ("Unique file handle conflict"), so connections of
    # this process are serialised (they are short); other processes are handled by retries.
    _connect_lock = threading.RLock()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with Store._connect_lock, self._open() as con:
            yield con

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep one connection open for a burst of operations (a report, creating a run).

        Each operation still opens its own short-lived connection, but while one stays open
        DuckDB hands later ones the same database instance for free instead of reopening the
        file (tens of milliseconds each). Other processes wait for the file for the length of
        the burst at most (they retry for lock_timeout_s), so never pin across a generation or
        a model load. When another process holds the file right now, the burst runs unpinned."""
        try:
            with Store._connect_lock:
                con = duckdb.connect(str(self.path))
        except duckdb.Error:
            yield
            return
        try:
            yield
        finally:
            with Store._connect_lock:  # closing the last connection is serialised (see above)
                con.close()

    @contextlib.contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:  # another process holds the file lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    if "lock" in str(exc).lower():
                        raise StoreBusyError(
                            f"database {self.path} is locked by another process for more than "
                            f"{self.lock_timeout_s:.0f} s; close the other writer or use --db with another file"
                        ) from exc
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)
        try:
            yield con
        finally:
            con.close()

    def _migrate(self) -> None:
        with self.connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
            applied = {r[0] for r in con.execute("SELECT name FROM migrations").fetchall()}
            for name, sql in MIGRATIONS:
                if name in applied:
                    continue
                con.execute("BEGIN")
                con.execute(sql)
                con.execute("INSERT INTO migrations VALUES (?, ?)", [name, now()])
                con.execute("COMMIT")

    def applied_migrations(self) -> list[str]:
        with self.connect() as con:
            return [r[0] for r in con.execute("SELECT name FROM migrations ORDER BY name").fetchall()]

    def query_df(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, list(params)).df()

    # ------------------------------------------------------------------ runs
    def create_run(self, run_id: str, spec: RunSpec, prompt_set: PromptSet, planned: int, manifest: dict[str, Any], pid: int) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, name, created_at, updated_at, status, prompt_set, prompt_set_hash,"
                " planned, spec, manifest, pid) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    spec.name or run_id,
                    now(),
                    now(),
                    prompt_set.name,
                    prompt_set.content_hash,
                    planned,
                    json.dumps(spec.to_dict()),
                    json.dumps(manifest, default=str),
                    pid,
                ],
            )

    def set_run_status(self, run_id: str, status: str, message: str | None = None, pid: int | None = None) -> None:
        finished = now() if status in ("completed", "cancelled", "failed") else None
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET status = ?, message = ?, updated_at = ?, finished_at = ?, pid = coalesce(?, pid)"
                " WHERE run_id = ?",
                [status, message, now(), finished, pid, run_id],
            )

    def set_mlflow(self, run_id: str, status: str, mlflow_run_id: str | None = None, message: str | None = None) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET mlflow_status = ?, mlflow_run_id = coalesce(?, mlflow_run_id), mlflow_message = ?"
                " WHERE run_id = ?",
                [status, mlflow_run_id, message, run_id],
            )

    def get_run(self, run_id: str) -> RunRow:
        df = self.runs_df(run_id=run_id)
        if df.empty:
            raise KeyError(f"no run {run_id!r} in {self.path}; list runs with `python -m core runs --db {self.path}`")
        r = df.iloc[0]
        return RunRow(
            run_id=r.run_id,
            name=r["name"],
            created_at=r.created_at,
            status=r.status,
            prompt_set=r.prompt_set,
            prompt_set_hash=r.prompt_set_hash,
            planned=int(r.planned),
            done=int(r.done),
            spec=RunSpec.from_dict(json.loads(r.spec)),
            manifest=json.loads(r.manifest or "{}"),
            message=r.message if isinstance(r.message, str) else None,
            mlflow_run_id=r.mlflow_run_id if isinstance(r.mlflow_run_id, str) else None,
            mlflow_status=r.mlflow_status if isinstance(r.mlflow_status, str) else None,
        )

    def runs_df(self, run_id: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """Runs with samples done / planned. A 'running' run whose process is gone shows 'interrupted'."""
        import psutil

        where, params = ("WHERE r.run_id = ?", [run_id]) if run_id else ("", [])
        lim = f"LIMIT {int(limit)}" if limit else ""
        df = self.query_df(
            f"""
            SELECT r.*, coalesce(s.done, 0) AS done, coalesce(s.errors, 0) AS errors
            FROM runs r LEFT JOIN (
                SELECT run_id, count(*) FILTER (WHERE status IN ('ok','error','timeout')) AS done,
                       count(*) FILTER (WHERE status <> 'ok') AS errors
                FROM samples GROUP BY run_id) s USING (run_id)
            {where} ORDER BY r.created_at DESC {lim}
            """,
            params,
        )
        if not df.empty:
            alive = df["pid"].map(lambda p: bool(p) and psutil.pid_exists(int(p)))
            df.loc[(df["status"] == "running") & ~alive, "status"] = "interrupted"
        return df

    # ------------------------------------------------------------------ run models
    def upsert_run_model(self, row: dict[str, Any]) -> None:
        cols = list(row)
        with self.connect() as con:
            con.execute(
                f"INSERT OR REPLACE INTO run_models ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols],
            )

    def run_models_df(self, run_id: str) -> pd.DataFrame:
        return self.query_df("SELECT * FROM run_models WHERE run_id = ? ORDER BY model", [run_id])

    # ------------------------------------------------------------------ samples
    def append_samples(self, rows: Sequence[dict[str, Any]] | pd.DataFrame) -> int:
        """Write a batch in one transaction (a retried sample replaces its earlier row)."""
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=list(SAMPLE_COLUMNS))
        if df.empty:
            return 0
        df = df.reindex(columns=list(SAMPLE_COLUMNS))
        cols = ", ".join(f'"{c}"' for c in SAMPLE_COLUMNS)
        # No primary-key index: it made bulk inserts 2-3x slower. Keys stay unique because a
        # batch first deletes any stored rows with its keys, in the same transaction.
        batch = _as_arrow(df)
        with self.connect() as con:
            con.register("batch_df", batch)
            con.execute("BEGIN")
            runs = df["run_id"].unique()
            if len(runs) == 1:  # a key embeds its run id: only that run's row groups are scanned
                con.execute("DELETE FROM samples WHERE run_id = ? AND result_key IN (SELECT result_key FROM batch_df)",
                            [str(runs[0])])
            else:
                con.execute("DELETE FROM samples WHERE result_key IN (SELECT result_key FROM batch_df)")
            con.execute(f"INSERT INTO samples ({cols}) SELECT {cols} FROM batch_df")
            if len(df):
                con.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", [now(), str(df["run_id"].iloc[0])])
            con.execute("COMMIT")
            con.unregister("batch_df")
        return len(df)

    def done_keys(self, run_id: str) -> set[str]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT result_key FROM samples WHERE run_id = ? AND status IN ('ok','error','timeout')", [run_id]
            ).fetchall()
        return {r[0] for r in rows}

    def samples_df(self, run_id: str, models: Sequence[str] | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        cols = ", ".join(f'"{c}"' for c in (columns or SAMPLE_COLUMNS))
        sql = f"SELECT {cols} FROM samples WHERE run_id = ?"
        params: list[Any] = [run_id]
        if models:
            sql += f" AND model IN ({', '.join('?' * len(models))})"
            params += list(models)
        return self.query_df(sql + " ORDER BY model, seq", params)

    def count_samples(self, run_id: str) -> int:
        with self.connect() as con:
            return int(con.execute("SELECT count(*) FROM samples WHERE run_id = ?", [run_id]).fetchone()[0])

    def latency_summary(self, run_id: str) -> pd.DataFrame:
        """Per-model summary in SQL (the CLI's closing table; fast on millions of rows)."""
        return self.query_df(
            """
            SELECT model,
                   count(*) AS n,
                   count(*) FILTER (WHERE status = 'ok') AS ok,
                   count(*) FILTER (WHERE status <> 'ok') AS errors,
                   median(latency_ms) FILTER (WHERE status = 'ok') AS median_latency_ms,
                   quantile_cont(latency_ms, 0.9) FILTER (WHERE status = 'ok') AS p90_latency_ms,
                   quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok') AS p99_latency_ms,
                   median(ttft_ms) FILTER (WHERE status = 'ok') AS median_ttft_ms,
                   sum(output_tokens) FILTER (WHERE status = 'ok')
                       / nullif(sum(latency_ms) FILTER (WHERE status = 'ok') / 1000.0, 0) AS tokens_per_s,
                   max(peak_rss_mb) AS peak_rss_mb,
                   max(peak_accel_mb) AS peak_accel_mb,
                   avg(quality) AS mean_quality
            FROM samples WHERE run_id = ? GROUP BY model ORDER BY model
            """,
            [run_id],
        )

    # ------------------------------------------------------------------ catalog + prompt sets
    def add_model(self, spec: ModelSpec) -> None:
        with self.connect() as con:
            con.execute("INSERT OR REPLACE INTO models VALUES (?, ?, ?)", [spec.name, spec.to_json(), now()])

    def delete_model(self, name: str) -> bool:
        with self.connect() as con:
            n = con.execute("DELETE FROM models WHERE name = ? RETURNING name", [name]).fetchall()
        return bool(n)

    def user_models(self) -> list[ModelSpec]:
        with self.connect() as con:
            rows = con.execute("SELECT spec FROM models ORDER BY name").fetchall()
        return [ModelSpec.from_json(r[0]) for r in rows]

    def save_prompt_set(self, ps: PromptSet) -> None:
        items = json.dumps([i.canonical() for i in ps.items])
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO prompt_sets VALUES (?, ?, ?, ?, ?, ?)",
                [ps.name, ps.description, ps.content_hash, items, len(ps.items), now()],
            )

    def delete_prompt_set(self, name: str) -> bool:
        with self.connect() as con:
            n = con.execute("DELETE FROM prompt_sets WHERE name = ? RETURNING name", [name]).fetchall()
        return bool(n)

    def imported_prompt_sets(self) -> list[PromptSet]:
        with self.connect() as con:
            rows = con.execute("SELECT name, description, items FROM prompt_sets ORDER BY name").fetchall()
        return [
            PromptSet(name=n, description=d or "", items=tuple(PromptItem.model_validate(i) for i in json.loads(items)), source="imported")
            for n, d, items in rows
        ]

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
