"""Runs through the store: clients queue, the evaluation worker process runs (core.worker).

    queue = jobs.RunQueue(store)        # the dashboard's and `python -m core run --queue`'s handle
    run_ids = queue.submit([spec])      # queued in the store; starts a worker when none is alive
    run_id = queue.submit_sweep(models, prompt_set, batch_sizes, concurrency)  # a throughput sweep job
    snap = queue.snapshot()             # live progress, read from the worker's progress record
    queue.cancel(run_id)                # a queued run is dropped; a running one stops within a generation
    queue.resume(run_id)                # interrupted / cancelled / failed runs are queued again

Nothing here loads a model or imports torch: a page render never shares a process with a timed
generation. Everything the worker and its clients exchange goes through the store (runs, the
worker slot with its heartbeat, one progress record per run, cancel and unload requests), so
closing a tab, opening a second one or restarting the dashboard neither stops nor duplicates a run.
Pure Python; no streamlit.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core import queries
from core.schemas import RunSpec
from core.store import Store, now, pid_alive

TRACE_LEN = 600  # latency points kept for the live chart
ERRORS_LEN = 50  # run-level messages kept
RESUMABLE = ("interrupted", "cancelled", "failed")
ACTIVE = ("running", "cancelling", "loading")
HOST = socket.gethostname()
START_TIMEOUT_S = 60.0  # how long a client waits for a worker it started to beat
# Signals a client sends the local worker after writing to the store: read the queue (between runs
# only), or read the cancel requests now (a thread that otherwise sleeps, so no store read happens
# during a generation unless a cancel asked for it).
WAKE_SIGNAL = getattr(signal, "SIGUSR1", None)
CANCEL_SIGNAL = getattr(signal, "SIGUSR2", None)


class RunBusyError(RuntimeError):
    """The request conflicts with a run in progress; the message says which and what to do."""


class WorkerStartError(RuntimeError):
    """The worker could not start; carries the tail of its log. Queued runs stay queued."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


# --------------------------------------------------------------------------- the progress record


@dataclass(frozen=True)
class TracePoint:
    t_s: float  # seconds since the run started in the worker
    model: str
    latency_ms: float | None  # None for a failed sample
    ok: bool


@dataclass(frozen=True)
class ModelProgress:
    model: str
    phase: str  # waiting | loading | running | done | stopped (cancelled or interrupted) | failed
    done: int
    planned: int
    errors: int
    last_latency_ms: float | None
    eta_s: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.planned if self.planned else 0.0


@dataclass(frozen=True)
class JobSnapshot:
    """One run's progress as the worker last wrote it (at least every second while it runs),
    with the state corrected by the run's row when the worker is gone (interrupted)."""

    state: str  # idle | queued | running | cancelling | completed | cancelled | interrupted | failed
    run_id: str | None = None
    prompt_set: str | None = None
    done: int = 0
    planned: int = 0
    eta_s: float | None = None
    eta_rough: bool = True  # few samples timed yet, or models that have not started are left
    elapsed_s: float = 0.0
    models: tuple[ModelProgress, ...] = ()
    trace: tuple[TracePoint, ...] = ()
    messages: tuple[str, ...] = ()
    rss_mb: float | None = None  # the worker's resident memory
    worker_pid: int | None = None
    updated_at: str | None = None  # when the worker wrote this record (UTC, ISO)
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        return self.done / self.planned if self.planned else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobSnapshot:
        d = json.loads(text)
        d["models"] = tuple(ModelProgress(**m) for m in d.get("models", ()))
        d["trace"] = tuple(TracePoint(**t) for t in d.get("trace", ()))
        d["messages"] = tuple(d.get("messages", ()))
        return cls(**d)


# --------------------------------------------------------------------------- the worker slot


@dataclass(frozen=True)
class WorkerInfo:
    """The store's worker slot: who holds it, its heartbeat, and whether it is alive."""

    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    beat_deadline: datetime
    state: str
    run_id: str | None
    cores: tuple[int, ...] | None
    torch_threads: int | None
    metrics_port: int | None
    loaded: tuple[dict, ...]
    log_path: str | None
    message: str | None
    alive: bool

    @property
    def local(self) -> bool:
        return self.host == HOST


def holder_alive(row: dict[str, Any]) -> bool:
    """A worker row is live until it says stopped, its process is gone (same host: pid and start
    time checked, so SIGKILL is seen at once) or its heartbeat deadline has passed (hung, or on
    another host)."""
    if row.get("state") == "stopped":
        return False
    if row.get("host") == HOST and not pid_alive(row.get("pid"), row.get("proc_started")):
        return False
    deadline = row.get("beat_deadline")
    return deadline is None or now() <= deadline


def worker_info(store: Store, timeout_s: float | None = None) -> WorkerInfo | None:
    row = store.worker_row(timeout_s)
    if row is None:
        return None
    return WorkerInfo(
        pid=int(row["pid"]), host=row["host"], started_at=row["started_at"], beat_at=row["beat_at"],
        beat_deadline=row["beat_deadline"], state=row["state"], run_id=row["run_id"],
        cores=tuple(json.loads(row["cores"])) if row["cores"] else None, torch_threads=row["torch_threads"],
        metrics_port=row["metrics_port"], loaded=tuple(json.loads(row["loaded"] or "[]")), log_path=row["log_path"],
        message=row["message"], alive=holder_alive(row),
    )


def log_path_for(store: Store) -> Path:
    """Where a worker started for this database writes its log (beside the database file)."""
    return store.path.with_name(store.path.stem + ".worker.log")


def log_tail(path: str | Path | None, lines: int = 30) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16_384))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- the client


_CHILDREN: list[subprocess.Popen] = []  # workers this process started: polled so none stays a zombie


def _reap() -> None:
    for p in list(_CHILDREN):
        if p.poll() is not None:
            _CHILDREN.remove(p)


class RunQueue:
    """The clients' side: queue, cancel and resume runs, start the worker, read progress."""

    def __init__(self, store: Store, python: str = sys.executable, worker_args: Sequence[str] = (),
                 after_spawn: Callable[[WorkerInfo], None] | None = None) -> None:
        self.store = store
        self.python = python
        self.worker_args = list(worker_args)  # extra `python -m core worker` flags (tests: --metrics-port 0)
        self.after_spawn = after_spawn

    # ------------------------------------------------------------------ control
    def submit(self, specs: RunSpec | Sequence[RunSpec], start_worker: bool = True) -> list[str]:
        """Queue one run per spec (validated now, so mistakes raise here), then make sure a worker
        runs them. WorkerStartError when it cannot start: the runs stay queued."""
        from core.runner import Runner

        specs = [specs] if isinstance(specs, RunSpec) else list(specs)
        if not specs:
            raise ValueError("nothing to run: choose at least one model and one prompt set")
        run_ids = [Runner(self.store).create(s, queued=True) for s in specs]
        if start_worker:
            self.ensure_worker()
        return run_ids

    def submit_sweep(self, models: Sequence[str], prompt_set: str, batch_sizes: Sequence[int] | str | None = None,
                     concurrency: Sequence[int] | str | None = None, start_worker: bool = True, **kw: Any) -> str:
        """Queue a throughput sweep (core.throughput.queue_sweep: checked now, so mistakes raise here) for
        the worker, which measures it like a run; WorkerStartError when it cannot start."""
        from core.throughput import queue_sweep

        run_id = queue_sweep(self.store, models, prompt_set, batch_sizes, concurrency=concurrency, **kw)
        if start_worker:
            self.ensure_worker()
        return run_id

    def resume(self, run_id: str, start_worker: bool = True) -> str:
        """Queue an interrupted, cancelled or failed run again; its stored samples are skipped."""
        row = self.store.runs_df(run_id=run_id)
        if row.empty:
            raise KeyError(f"no run {run_id!r} in {self.store.path}")
        status = str(row.iloc[0]["status"])
        if status == "running":
            raise RunBusyError(f"run {run_id} is still running in process {row.iloc[0]['pid']}; wait for it or cancel it")
        if status == "queued":
            raise RunBusyError(f"run {run_id} is already queued")
        if status not in RESUMABLE:
            raise ValueError(f"run {run_id} is {status}; only interrupted, cancelled or failed runs can be resumed")
        self.store.queue_run(run_id, "queued again to resume")
        if start_worker:
            self.ensure_worker()
        return run_id

    def cancel(self, run_id: str) -> str:
        """'dequeued' (it never started), 'requested' (stops within the current generation) or 'idle'."""
        if self.store.dequeue_run(run_id, "cancelled before it started"):
            return "dequeued"
        row = self.store.runs_df(run_id=run_id)
        if row.empty or row.iloc[0]["status"] != "running":
            return "idle"
        self.store.add_request("cancel", run_id, origin=f"{HOST}:{os.getpid()}")
        pid = int(row.iloc[0]["pid"])
        self._poke(pid, CANCEL_SIGNAL if self._worker_pid() == pid else signal.SIGINT)  # a CLI run: Ctrl-C
        return "requested"

    def request_unload(self, model: str) -> None:
        """Ask the worker to drop a model from its loader (done between runs)."""
        self.store.add_request("unload", None, model, origin=f"{HOST}:{os.getpid()}")
        info = worker_info(self.store)
        if info and info.alive and info.local:
            self._poke(info.pid, WAKE_SIGNAL)

    def ensure_worker(self, timeout_s: float = START_TIMEOUT_S) -> WorkerInfo:
        """The live worker, started now (same interpreter and environment, LLM_EVAL_DB set to this
        store) when none is alive; WorkerStartError with its log's tail when it does not come up."""
        _reap()
        info = worker_info(self.store)
        if info is not None and info.alive:
            if info.local:
                self._poke(info.pid, WAKE_SIGNAL)  # read the queue now rather than at its next poll
            return info
        log = log_path_for(self.store)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LLM_EVAL_DB": str(self.store.path.resolve()), "PYTHONUNBUFFERED": "1"}
        cmd = [self.python, "-m", "core", "worker", "--db", str(self.store.path.resolve()), "--log-path", str(log),
               *self.worker_args]
        from core import config

        with open(log, "ab") as out:
            out.write(f"\n--- {now().isoformat(timespec='seconds')} started by pid {os.getpid()}: {' '.join(cmd)}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        cwd=str(config.ROOT), start_new_session=True)
            except OSError as exc:
                raise WorkerStartError(f"the evaluation worker could not be started ({exc}); the run stays queued",
                                       log_tail(log)) from exc
        _CHILDREN.append(proc)
        info = self._wait_for_worker(proc, log, timeout_s)
        if self.after_spawn is not None:
            self.after_spawn(info)
        return info

    def _wait_for_worker(self, proc: subprocess.Popen, log: Path, timeout_s: float) -> WorkerInfo:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = worker_info(self.store)
            if info is not None and info.alive and info.state != "starting":  # ours, or one another client started
                return info
            if proc.poll() is not None:
                info = worker_info(self.store)
                if info is not None and info.alive:
                    return info
                raise WorkerStartError(f"the evaluation worker exited with status {proc.returncode} before it "
                                       "started; the run stays queued. Its log says:", log_tail(log))
            time.sleep(0.1)
        raise WorkerStartError(f"the evaluation worker did not report within {timeout_s:.0f} s; the run stays "
                               f"queued (log: {log})", log_tail(log))

    def _worker_pid(self) -> int | None:
        info = worker_info(self.store)
        return info.pid if info is not None and info.alive and info.local else None

    @staticmethod
    def _poke(pid: int, sig: int | None) -> None:
        """Tell a local process that the store has news for it (best effort: it also polls)."""
        if sig is None or pid <= 0 or pid == os.getpid():
            return
        with contextlib.suppress(OSError):
            os.kill(pid, sig)

    # ------------------------------------------------------------------ reading
    def worker(self) -> WorkerInfo | None:
        _reap()
        return worker_info(self.store)

    def snapshot(self, run_id: str | None = None) -> JobSnapshot:
        """Progress of run_id, or of the worker's current run, or of the last run with a record."""
        _reap()
        if run_id is None:
            info = worker_info(self.store)
            run_id = info.run_id if info is not None and info.alive and info.run_id else None
        if run_id is None:
            latest = self.store.latest_progress()
            if latest is None:
                return JobSnapshot(state="idle")
            run_id, doc = latest
        else:
            doc = self.store.progress_doc(run_id)
        rows = self.store.runs_df(run_id=run_id)
        status = str(rows.iloc[0]["status"]) if not rows.empty else "idle"
        if doc is None:
            return JobSnapshot(state=status, run_id=run_id)
        snap = JobSnapshot.from_json(doc)
        if status != "running" and snap.state in ACTIVE:  # the worker is gone (killed) or the run ended
            # the record is older than the run's end (the worker writes its last one after the run's hooks):
            # the samples done are the stored ones, as the run's row counts them
            message = rows.iloc[0]["message"] if not rows.empty else None
            extra = (f"the worker stopped before the run finished{': ' + message if isinstance(message, str) else ''}",)
            done = int(rows.iloc[0]["done"]) if not rows.empty else snap.done
            return replace(snap, state=status, eta_s=None, done=done,
                           messages=snap.messages + (extra if status == "interrupted" else ()))
        return snap

    def queued(self) -> pd.DataFrame:
        return self.store.queued_runs()

    def recent_errors(self, run_id: str, limit: int = 20) -> pd.DataFrame:
        """The latest failed samples of a run (model, item, kind, message) for the live panel."""
        return queries.recent_errors(self.store, run_id, limit)

    def resumable_runs(self) -> pd.DataFrame:
        """Runs that can be resumed (interrupted, cancelled or failed), newest first."""
        df = self.store.runs_df()
        if df.empty:
            return df
        keep = df["status"].isin(RESUMABLE)
        return df.loc[keep, ["run_id", "name", "status", "prompt_set", "done", "planned", "created_at"]].reset_index(drop=True)


def measuring_elsewhere(store: Store, pid: int | None = None) -> tuple[str, int] | None:
    """(run_id, pid) of a run some live process other than `pid` is measuring on this database."""
    pid = os.getpid() if pid is None else pid
    for r in store.running_runs().itertuples():
        if r.pid is not None and not pd.isna(r.pid) and int(r.pid) != pid and pid_alive(r.pid):
            return str(r.run_id), int(r.pid)
    return None
