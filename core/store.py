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
    (
        "0005_worker",
        """
        ALTER TABLE runs ADD COLUMN queued_at TIMESTAMP;
        ALTER TABLE samples ADD COLUMN other_cpu DOUBLE;
        CREATE TABLE workers (
            slot VARCHAR PRIMARY KEY,      -- one row: one worker per database
            token VARCHAR,                 -- random id of the worker holding the slot
            pid INTEGER,
            host VARCHAR,
            started_at TIMESTAMP,
            proc_started DOUBLE,           -- the process's start time (epoch s): guards against pid reuse
            beat_at TIMESTAMP,
            beat_deadline TIMESTAMP,       -- stale after this without a new beat
            state VARCHAR,                 -- starting | idle | loading | running | waiting | stopping | stopped
            run_id VARCHAR,
            cores VARCHAR,                 -- JSON list of the measurement cores
            torch_threads INTEGER,
            metrics_port INTEGER,
            loaded VARCHAR,                -- JSON list of the models the loader holds
            log_path VARCHAR,
            message VARCHAR
        );
        CREATE TABLE run_progress (
            run_id VARCHAR PRIMARY KEY,
            updated_at TIMESTAMP,
            doc VARCHAR                    -- JSON: core.jobs.JobSnapshot
        );
        CREATE TABLE run_requests (
            id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            kind VARCHAR,                  -- cancel | unload
            arg VARCHAR,
            created_at TIMESTAMP,
            handled_at TIMESTAMP,
            origin VARCHAR
        );
        """,
    ),
    (
        "0006_memory_footprint",
        """
        -- MB; accelerator memory on CUDA/MPS, RSS on CPU; NULL for runs stored before (shown as missing, never 0)
        ALTER TABLE samples ADD COLUMN mem_added_mb DOUBLE;          -- peak a generation added above the level before it
        ALTER TABLE run_models ADD COLUMN model_footprint_mb DOUBLE; -- memory the loaded model holds (core.loader)
        """,
    ),
    (
        "0007_prompt_set_versions",
        """
        -- every version of every prompt set a run used or a user imported, keyed by (name, content hash):
        -- a run refers to its version, so replacing a set never takes the prompt text from earlier runs
        CREATE TABLE prompt_set_versions (
            name VARCHAR,
            content_hash VARCHAR,
            description VARCHAR,
            items VARCHAR,                 -- JSON list of canonical items
            n_items INTEGER,
            source VARCHAR,                -- imported | bundled (a bundled file's version, kept for its runs)
            created_at TIMESTAMP,
            PRIMARY KEY (name, content_hash)
        );
        INSERT INTO prompt_set_versions
            SELECT name, content_hash, description, items, n_items, 'imported', created_at FROM prompt_sets;
        -- prompt_sets now names the current version of each imported set; its items live above
        UPDATE prompt_sets SET items = NULL;
        """,
    ),
    (
        "0008_champion_history",
        """
        -- the champion's history, append-only (core.champion): a promotion or a rollback adds a row and
        -- no row is ever updated or deleted; settings.champion holds the current champion's model name,
        -- written in the same transaction as each row (so every reader of the setting keeps working)
        CREATE TABLE champion_history (
            seq INTEGER PRIMARY KEY,       -- 1, 2, ...: the order of events
            changed_at TIMESTAMP,          -- UTC; NULL for an adopted setting (when it was set is not known)
            action VARCHAR,                -- promote | rollback | adopted (the setting found by this migration)
            run_id VARCHAR,                -- the champion's evaluation run (NULL when adopted: a model name only)
            model VARCHAR,
            actor VARCHAR,                 -- who: the user and the tool (CLI, dashboard)
            note VARCHAR,
            gate VARCHAR,                  -- JSON: the gate result given as evidence, or NULL
            evidence VARCHAR,              -- JSON: the run's prompt set, its version, the model version, ...
            restores INTEGER               -- rollback: the seq of the row whose champion it restores
        );
        -- the MLflow Model Registry mirror of each history row, append-only (the latest row of a seq wins)
        CREATE TABLE champion_mirror (
            seq INTEGER,
            mirrored_at TIMESTAMP,
            status VARCHAR,                -- synced | pending | disabled | skipped
            registered_model VARCHAR,
            version VARCHAR,
            message VARCHAR
        );
        INSERT INTO champion_history (seq, action, model, actor, note)
            SELECT 1, 'adopted', value, 'migration 0008_champion_history',
                   'the champion set before the history existed (a model name, no run)'
            FROM settings WHERE key = 'champion';
        """,
    ),
    (
        "0009_throughput",
        """
        -- a local throughput sweep (core.throughput): one row per (run, model, batch size)
        CREATE TABLE throughput (
            run_id VARCHAR,
            model VARCHAR,
            batch_size INTEGER,
            n_requests INTEGER,
            tokens_per_s DOUBLE,           -- generated tokens (up to each output's end) / wall time
            requests_per_s DOUBLE,
            latency_ms_mean DOUBLE,        -- per request: its batch's wall time (a request waits for its batch)
            ttft_ms DOUBLE,                -- per request: its batch's first generated token (streamer clock)
            mem_added_mb DOUBLE,           -- largest peak added by one batch (core.measure.TokenClock)
            identical_to_b1 DOUBLE,        -- share of outputs token-identical to batch size 1's
            created_at TIMESTAMP
        );
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


def pid_alive(pid: Any, started: float | None = None) -> bool:
    """Whether process pid runs on this machine (a zombie counts as gone; with `started`, the
    process must also have started then, so a reused pid is not mistaken for the old process)."""
    import psutil

    try:
        if pid is None or pd.isna(pid) or int(pid) <= 0:
            return False
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - float(started)) < 1.0
    except (psutil.Error, ValueError, TypeError):
        return False


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
    def connect(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits up to timeout_s (default lock_timeout_s) for another process."""
        with Store._connect_lock, self._open(timeout_s) as con:
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
    def _open(self, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        timeout_s = self.lock_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
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
                            f"{timeout_s:.0f} s; close the other writer or use --db with another file"
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
    def create_run(self, run_id: str, spec: RunSpec, prompt_set: PromptSet, planned: int, manifest: dict[str, Any],
                   pid: int | None, status: str = "running") -> None:
        """A new run row: 'running' in process pid, or 'queued' for the worker (pid None)."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO runs (run_id, name, created_at, updated_at, status, prompt_set, prompt_set_hash,"
                " planned, spec, manifest, pid, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    spec.name or run_id,
                    now(),
                    now(),
                    status,
                    prompt_set.name,
                    prompt_set.content_hash,
                    planned,
                    json.dumps(spec.to_dict()),
                    json.dumps(manifest, default=str),
                    pid,
                    now() if status == "queued" else None,
                ],
            )

    def update_manifest(self, run_id: str, patch: dict[str, Any]) -> None:
        """Merge top-level keys into a run's manifest (what the executing process records about itself)."""
        with self.connect() as con:
            row = con.execute("SELECT manifest FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if row is None:
                return
            manifest = {**json.loads(row[0] or "{}"), **patch}
            con.execute("UPDATE runs SET manifest = ? WHERE run_id = ?", [json.dumps(manifest, default=str), run_id])

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
        where, params = ("WHERE r.run_id = ?", [run_id]) if run_id else ("", [])
        lim = f"LIMIT {int(limit)}" if limit else ""
        df = self.query_df(
            f"""
            SELECT r.*, coalesce(s.done, 0) AS done, coalesce(s.errors, 0) AS errors
            FROM runs r LEFT JOIN (
                SELECT run_id, count(*) FILTER (WHERE status IN ('ok','error','timeout')) AS done,
                       count(*) FILTER (WHERE status IN ('error','timeout')) AS errors
                FROM samples GROUP BY run_id) s USING (run_id)
            {where} ORDER BY r.created_at DESC {lim}
            """,
            params,
        )
        if not df.empty:
            alive = df["pid"].map(lambda p: pid_alive(p))
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

    def rerun_keys(self, run_id: str) -> set[str]:
        """Failed rows that never reached a model (connection lost, breaker open): resume runs them again."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT result_key FROM samples WHERE run_id = ? AND status = 'error'"
                " AND error_kind IN ('connection', 'circuit_open')", [run_id]
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
        """Per-model summary in SQL (the CLI's closing table; fast on millions of rows). Memory:
        model_footprint_mb (what the loaded model holds), mem_added_mb_max (the most one generation
        added above the level before it), process_peak_rss_mb (the whole process: context)."""
        return self.query_df(
            """
            SELECT model,
                   count(*) FILTER (WHERE status IN ('ok', 'error', 'timeout')) AS n,
                   count(*) FILTER (WHERE status = 'ok') AS ok,
                   count(*) FILTER (WHERE status IN ('error', 'timeout')) AS errors,
                   median(latency_ms) FILTER (WHERE status = 'ok') AS median_latency_ms,
                   quantile_cont(latency_ms, 0.9) FILTER (WHERE status = 'ok') AS p90_latency_ms,
                   quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok') AS p99_latency_ms,
                   median(ttft_ms) FILTER (WHERE status = 'ok') AS median_ttft_ms,
                   sum(output_tokens) FILTER (WHERE status = 'ok')
                       / nullif(sum(latency_ms) FILTER (WHERE status = 'ok') / 1000.0, 0) AS tokens_per_s,
                   any_value(rm.model_footprint_mb) AS model_footprint_mb,
                   max(mem_added_mb) FILTER (WHERE status = 'ok') AS mem_added_mb_max,
                   max(peak_rss_mb) AS process_peak_rss_mb,
                   max(peak_accel_mb) AS peak_accel_mb,
                   avg(quality) AS mean_quality
            FROM samples LEFT JOIN (SELECT model, model_footprint_mb FROM run_models WHERE run_id = ?) rm USING (model)
            WHERE run_id = ? GROUP BY model ORDER BY model
            """,
            [run_id, run_id],
        )

    def machine_load(self, run_id: str, busy_at: float | None = None) -> pd.DataFrame:
        """Per model: n (samples with other_cpu), busy (other_cpu >= busy_at, default
        core.measure.BUSY_OTHER_CPU), busy_share (busy / n, NULL when n is 0), mean_other_cpu."""
        if busy_at is None:
            from core.measure import BUSY_OTHER_CPU

            busy_at = BUSY_OTHER_CPU
        return self.query_df(
            """
            SELECT model, n, busy, busy::DOUBLE / nullif(n, 0) AS busy_share, mean_other_cpu
            FROM (SELECT model, count(other_cpu) AS n, count(*) FILTER (WHERE other_cpu >= ?) AS busy,
                         avg(other_cpu) AS mean_other_cpu
                  FROM samples WHERE run_id = ? GROUP BY model)
            ORDER BY model
            """,
            [float(busy_at), run_id],
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
        """Make ps the current version of its imported name; earlier versions stay for their runs."""
        with self.connect() as con:
            con.execute("BEGIN")
            self._keep_version(con, ps, "imported")
            con.execute(
                "INSERT OR REPLACE INTO prompt_sets VALUES (?, ?, ?, NULL, ?, ?)",
                [ps.name, ps.description, ps.content_hash, len(ps.items), now()],
            )
            con.execute("COMMIT")

    def keep_prompt_set_version(self, ps: PromptSet) -> None:
        """Store ps's version (once) so that a run made with it can always show its prompts."""
        with self.connect() as con:
            self._keep_version(con, ps, ps.source)

    @staticmethod
    def _keep_version(con: duckdb.DuckDBPyConnection, ps: PromptSet, source: str) -> None:
        items = json.dumps([i.canonical() for i in ps.items])
        con.execute(
            "INSERT OR IGNORE INTO prompt_set_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [ps.name, ps.content_hash, ps.description, items, len(ps.items), source, now()],
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


    # ------------------------------------------------------------------ throughput sweeps (core.throughput)
    THROUGHPUT_COLUMNS = ("run_id", "model", "batch_size", "n_requests", "tokens_per_s", "requests_per_s",
                          "latency_ms_mean", "ttft_ms", "mem_added_mb", "identical_to_b1")

    def append_throughput(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append sweep rows (one per model and batch size) in one transaction; created_at is now."""
        if not rows:
            return 0
        cols = self.THROUGHPUT_COLUMNS
        stamp = now()
        with self.connect() as con:
            con.execute("BEGIN")
            con.executemany(f"INSERT INTO throughput ({', '.join(cols)}, created_at) VALUES ({', '.join('?' * len(cols))}, ?)",
                            [[r.get(c) for c in cols] + [stamp] for r in rows])
            con.execute("COMMIT")
        return len(rows)

    # ------------------------------------------------------------------ champion history (core.champion)
    CHAMPION_COLUMNS = ("changed_at", "action", "run_id", "model", "actor", "note", "gate", "evidence", "restores")

    def append_champion(self, row: dict[str, Any], champion: str | None, after: int) -> int:
        """Append one champion_history row as seq `after` + 1 and set settings.champion to `champion`
        (the model the row makes champion), in one transaction; returns the new seq. ValueError when
        another writer appended meanwhile (the caller decided on a history that is no longer the last)."""
        with self.connect() as con:
            con.execute("BEGIN")
            last = con.execute("SELECT coalesce(max(seq), 0) FROM champion_history").fetchone()[0]
            if last != after:
                con.execute("ROLLBACK")
                raise ValueError(f"the champion history changed meanwhile (it now ends at row {last}, not {after}); "
                                 "look at it again and retry")
            cols = self.CHAMPION_COLUMNS
            con.execute(f"INSERT INTO champion_history (seq, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})",
                        [after + 1, *(row.get(c) for c in cols)])
            if champion is None:
                con.execute("DELETE FROM settings WHERE key = 'champion'")
            else:
                con.execute("INSERT OR REPLACE INTO settings VALUES ('champion', ?)", [champion])
            con.execute("COMMIT")
        return after + 1

    def record_champion_mirror(self, seq: int, status: str, registered_model: str | None, version: str | None,
                               message: str | None) -> None:
        """Append how the MLflow registry mirror of history row `seq` went."""
        with self.connect() as con:
            con.execute("INSERT INTO champion_mirror VALUES (?, ?, ?, ?, ?, ?)",
                        [seq, now(), status, registered_model, version, message])

    # ------------------------------------------------------------------ queue, worker slot, progress, requests
    # The evaluation worker (core.worker) and its clients (core.jobs: dashboard, CLI) meet here.
    # Each method is one short transaction; DuckDB's file lock makes each atomic across processes.
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
                [pid, now()],
            ).fetchall()
        return got[0][0] if got else None

    def queue_run(self, run_id: str, message: str | None = None) -> None:
        with self.connect() as con:
            con.execute("UPDATE runs SET status = 'queued', queued_at = ?, updated_at = ?, finished_at = NULL,"
                        " message = ?, pid = NULL WHERE run_id = ?", [now(), now(), message, run_id])

    def dequeue_run(self, run_id: str, message: str) -> bool:
        """Cancel a run that has not started yet; False when it is no longer queued."""
        with self.connect() as con:
            got = con.execute("UPDATE runs SET status = 'cancelled', message = ?, updated_at = ?, finished_at = ?"
                              " WHERE run_id = ? AND status = 'queued' RETURNING run_id",
                              [message, now(), now(), run_id]).fetchall()
        return bool(got)

    def queued_runs(self) -> pd.DataFrame:
        return self.query_df("SELECT run_id, name, prompt_set, planned, queued_at FROM runs WHERE status = 'queued'"
                             " ORDER BY queued_at NULLS LAST, created_at")

    def running_runs(self) -> pd.DataFrame:
        """Runs marked running, with their process ids (a dead pid means interrupted: see runs_df)."""
        return self.query_df("SELECT run_id, pid FROM runs WHERE status = 'running' ORDER BY created_at")

    def write_progress(self, run_id: str, doc: str, timeout_s: float | None = None) -> None:
        with self.connect(timeout_s) as con:
            con.execute("INSERT OR REPLACE INTO run_progress VALUES (?, ?, ?)", [run_id, now(), doc])

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
            con.execute("INSERT INTO run_requests VALUES (?, ?, ?, ?, ?, NULL, ?)", [rid, run_id, kind, arg, now(), origin])
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
            con.execute(f"UPDATE run_requests SET handled_at = ? WHERE id IN ({', '.join('?' * len(ids))})", [now(), *ids])
