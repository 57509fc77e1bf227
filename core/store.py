"""The results store: one DuckDB file, named append-only migrations (core.migrations), batched writes.

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

from core.migrations import MIGRATIONS  # the store's schema; Store._migrate reads this module's name (tests patch it)
from core.schemas import SAMPLE_COLUMNS, PromptSet, RunSpec
from core.store_catalog import CatalogTables
from core.store_queue import QueueTables

DONE_STATUSES = ("ok", "error", "timeout")  # resume skips these; skipped/cancelled run again


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


class Store(CatalogTables, QueueTables):
    """Short-lived connections over one DuckDB file, with bounded lock retries."""

    _init_lock = threading.Lock()
    now = staticmethod(now)  # the clock every stored timestamp reads (UTC, naive)

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

    # ------------------------------------------------------------------ throughput sweeps (core.throughput)
    THROUGHPUT_COLUMNS = ("run_id", "model", "batch_size", "n_requests", "tokens_per_s", "requests_per_s",
                          "latency_ms_mean", "ttft_ms", "mem_added_mb", "identical_to_b1", "level_kind")

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

    # ------------------------------------------------------------------ human ratings (core.ratings)
    RATING_COLUMNS = ("rater", "run_id", "mode", "item_id", "repeat", "model", "model_a", "model_b", "score",
                      "preference", "comment", "scale_min", "scale_max", "seed", "origin")

    def append_rating(self, row: dict[str, Any]) -> int:
        """Append one ratings row (validated by core.ratings) as the next seq, created_at now; returns its seq.
        Two submissions for one unit (two tabs) are two rows: the later seq wins in the statistics."""
        cols = self.RATING_COLUMNS
        names = ", ".join(f'"{c}"' for c in cols)
        with self.connect() as con:
            got = con.execute(
                f"INSERT INTO ratings (seq, created_at, {names}) SELECT coalesce(max(seq), 0) + 1, ?"
                f"{', ?' * len(cols)} FROM ratings RETURNING seq",
                [now(), *(row.get(c) for c in cols)],
            ).fetchone()
        return int(got[0])

    def rater_seed(self, rater: str, run_id: str, mode: str, seed: int) -> int:
        """The stored seed of a rater's session on a run and mode; stores `seed` when there is none yet."""
        with self.connect() as con:
            con.execute("INSERT OR IGNORE INTO rater_sessions VALUES (?, ?, ?, ?, ?)", [rater, run_id, mode, seed, now()])
            row = con.execute("SELECT seed FROM rater_sessions WHERE rater = ? AND run_id = ? AND mode = ?",
                              [rater, run_id, mode]).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ judgements (core.judge)
    JUDGEMENT_COLUMNS = ("run_id", "result_key", "model", "item_id", "repeat", "scorer_key", "mode", "judge_model",
                         "judge_version", "rubric_hash", "cache_key", "status", "score", "value", "scale_min", "scale_max",
                         "model_a", "model_b", "answer_order", "preference", "winner", "raw_text", "error_kind",
                         "error_message", "cached", "input_tokens", "output_tokens", "latency_ms", "cost_usd")

    def append_judgements(self, rows: Sequence[dict[str, Any]], samples: Sequence[dict[str, Any]] = ()) -> int:
        """Append judgement rows and set the judged samples' scores, quality and passed (dicts with run_id,
        result_key, scores, quality, passed), in one transaction: a crash keeps both or neither."""
        if not rows and not samples:
            return 0
        cols = self.JUDGEMENT_COLUMNS
        names = ", ".join(f'"{c}"' for c in cols)
        stamp = now()
        with self.connect() as con:
            con.execute("BEGIN")
            if rows:
                con.executemany(f"INSERT INTO judgements ({names}, created_at) VALUES ({', '.join('?' * len(cols))}, ?)",
                                [[r.get(c) for c in cols] + [stamp] for r in rows])
            if samples:
                con.executemany("UPDATE samples SET scores = ?, quality = ?, passed = ? WHERE run_id = ? AND result_key = ?",
                                [[s["scores"], s["quality"], s["passed"], s["run_id"], s["result_key"]] for s in samples])
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
