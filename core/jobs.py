"""Background runs for a long-lived server process (the dashboard): one run at a time.

    manager = jobs.shared(store, loader)       # one manager per database, process-wide
    run_ids = manager.start([spec])            # RunBusyError while another run is going
    snap = manager.snapshot()                  # live progress, cheap, thread-safe
    manager.cancel()                           # stops within one generation, keeps samples
    manager.resume(run_id)                     # interrupted / cancelled runs carry on

The worker thread belongs to the process, not to a browser session: closing a tab
neither stops nor corrupts a run. A plain core.store.Store is safe to share with the
worker thread: it serialises the connections of a process. Pure Python; no streamlit.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from core.loader import ModelLoader
from core.measure import CancelToken, rss_bytes
from core.runner import ProgressEvent, Runner, RunResult
from core.schemas import RunSpec
from core.store import Store

TRACE_LEN = 600  # latency points kept for the live chart
ERRORS_LEN = 50  # run-level messages kept
RESUMABLE = ("interrupted", "cancelled", "failed", "queued")

# One run at a time in this process, whichever database it writes to: the runs share
# the CPU/accelerator and the model loader, so two at once would distort both timings.
_RUN_SLOT = threading.Lock()


class RunBusyError(RuntimeError):
    """A run is already in progress; the message says which and what to do."""


@dataclass(frozen=True)
class TracePoint:
    t_s: float  # seconds since the job started
    model: str
    latency_ms: float | None  # None for a failed sample
    ok: bool


@dataclass(frozen=True)
class ModelProgress:
    model: str
    phase: str  # waiting | loading | running | done | failed
    done: int
    planned: int
    errors: int
    last_latency_ms: float | None
    message: str | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.planned if self.planned else 0.0


@dataclass(frozen=True)
class JobSnapshot:
    """What the live panel shows; a copy, safe to read while the run goes on."""

    state: str  # idle | running | cancelling | completed | cancelled | failed
    run_id: str | None = None
    run_ids: tuple[str, ...] = ()
    run_index: int = 0  # which of run_ids is running (0-based)
    spec: RunSpec | None = None
    done: int = 0
    planned: int = 0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    models: tuple[ModelProgress, ...] = ()
    trace: tuple[TracePoint, ...] = ()
    messages: tuple[str, ...] = ()
    rss_mb: float | None = None
    results: tuple[RunResult, ...] = ()
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("running", "cancelling")

    @property
    def fraction(self) -> float:
        return self.done / self.planned if self.planned else 0.0


@dataclass
class _Job:
    specs: list[RunSpec]
    run_ids: list[str]
    cancel: CancelToken
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    state: str = "running"
    index: int = 0
    done: int = 0
    planned: int = 0
    eta_s: float | None = None
    models: dict[str, ModelProgress] = field(default_factory=dict)
    trace: deque = field(default_factory=lambda: deque(maxlen=TRACE_LEN))
    messages: deque = field(default_factory=lambda: deque(maxlen=ERRORS_LEN))
    results: list[RunResult] = field(default_factory=list)
    error: str | None = None
    last_errors: int = 0


class RunManager:
    """Runs `core.runner.Runner` in a daemon thread of the current process, one run at a time."""

    def __init__(
        self,
        store: Store,
        loader: ModelLoader | None = None,
        after_run: Sequence[Callable[[str, Store], None]] | None = None,
    ) -> None:
        self.store = store
        self.loader = loader if loader is not None else ModelLoader()
        self.after_run = list(after_run) if after_run is not None else _default_hooks()
        self._lock = threading.Lock()
        self._job: _Job | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ control
    def start(self, specs: RunSpec | Sequence[RunSpec]) -> list[str]:
        """Create one run per spec (validated now, so mistakes raise here) and run them in order."""
        specs = [specs] if isinstance(specs, RunSpec) else list(specs)
        if not specs:
            raise ValueError("nothing to run: choose at least one model and one prompt set")
        self._claim()
        run_ids: list[str] = []
        try:
            for s in specs:
                run_ids.append(Runner(self.store).create(s))
            for rid in run_ids[1:]:
                self.store.set_run_status(rid, "queued", f"waits for {run_ids[0]}")
        except BaseException as exc:
            for rid in run_ids:  # created before a later spec failed validation: never started
                self.store.set_run_status(rid, "failed", f"not started: {exc}"[:500])
            _RUN_SLOT.release()
            raise
        self._launch(specs, run_ids)
        return run_ids

    def resume(self, run_id: str) -> str:
        """Carry on an interrupted, cancelled, failed or never-started run: stored samples are skipped."""
        row = self.store.runs_df(run_id=run_id)
        if row.empty:
            raise KeyError(f"no run {run_id!r} in {self.store.path}")
        status = str(row.iloc[0]["status"])
        if status == "running":
            raise RunBusyError(f"run {run_id} is still running in process {row.iloc[0]['pid']}; wait for it or cancel it there")
        self._claim()
        try:
            spec = self.store.get_run(run_id).spec
        except BaseException:
            _RUN_SLOT.release()
            raise
        self._launch([spec], [run_id])
        return run_id

    def cancel(self) -> bool:
        """Ask the running job to stop after the current token; False when nothing runs."""
        with self._lock:
            job = self._job
            if job is None or job.state != "running":
                return False
            job.state = "cancelling"
            job.cancel.cancel()
            return True

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the current job ends (tests, scripts); returns the final snapshot."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()

    @property
    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> JobSnapshot:
        rss = rss_bytes() / 2**20
        with self._lock:
            job = self._job
            if job is None:
                return JobSnapshot(state="idle", rss_mb=rss)
            end = job.finished if job.finished is not None else time.monotonic()
            return JobSnapshot(
                state=job.state,
                run_id=job.run_ids[min(job.index, len(job.run_ids) - 1)],
                run_ids=tuple(job.run_ids),
                run_index=job.index,
                spec=job.specs[min(job.index, len(job.specs) - 1)],
                done=job.done,
                planned=job.planned,
                eta_s=job.eta_s if job.state in ("running", "cancelling") else None,
                elapsed_s=end - job.started,
                models=tuple(job.models.values()),
                trace=tuple(job.trace),
                messages=tuple(job.messages),
                rss_mb=rss,
                results=tuple(job.results),
                error=job.error,
            )

    def recent_errors(self, run_id: str, limit: int = 20) -> pd.DataFrame:
        """The latest failed samples of a run (model, item, kind, message) for the live panel."""
        return self.store.query_df(
            "SELECT model, item_id, status, error_kind, error_message FROM samples"
            " WHERE run_id = ? AND status NOT IN ('ok') ORDER BY finished_at DESC LIMIT ?",
            [run_id, int(limit)],
        )

    def resumable_runs(self) -> pd.DataFrame:
        """Runs that can be resumed (interrupted, cancelled or failed), newest first."""
        df = self.store.runs_df()
        if df.empty:
            return df
        active = set(self.snapshot().run_ids) if self.busy else set()
        keep = df["status"].isin(RESUMABLE) & ~df["run_id"].isin(active)
        return df.loc[keep, ["run_id", "name", "status", "prompt_set", "done", "planned", "created_at"]].reset_index(drop=True)

    # ------------------------------------------------------------------ internals
    def _claim(self) -> None:
        if not _RUN_SLOT.acquire(blocking=False):
            snap = self.snapshot()
            what = f"run {snap.run_id} ({snap.done}/{snap.planned} samples)" if snap.active else "another run"
            raise RunBusyError(
                f"{what} is in progress in this server; one run at a time keeps timings clean. "
                "Wait for it to finish or cancel it, then start again."
            )

    def _launch(self, specs: list[RunSpec], run_ids: list[str]) -> None:
        job = _Job(specs=specs, run_ids=run_ids, cancel=CancelToken())
        with self._lock:
            self._job = job
        self._thread = threading.Thread(target=self._work, args=(job,), name=f"llm-eval-run-{run_ids[0]}", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            _RUN_SLOT.release()
            raise

    def _work(self, job: _Job) -> None:
        try:
            for i, (spec, run_id) in enumerate(zip(job.specs, job.run_ids, strict=True)):
                if job.cancel.cancelled:
                    break
                with self._lock:
                    job.index = i
                    job.models = {m: ModelProgress(m, "waiting", 0, 0, 0, None) for m in spec.models}
                    job.last_errors = 0
                if spec.memory_budget_gb is not None:
                    self.loader.set_budget(spec.memory_budget_gb)
                runner = Runner(self.store, loader=self.loader, on_event=lambda e, j=job: self._on_event(j, e),
                                cancel=job.cancel, after_run=self.after_run)
                result = runner.execute(run_id)
                with self._lock:
                    job.results.append(result)
            for rid in job.run_ids[len(job.results):]:
                if job.cancel.cancelled and self.store.get_run(rid).status == "queued":
                    self.store.set_run_status(rid, "cancelled", "cancelled before it started")
            with self._lock:
                job.state = "cancelled" if job.cancel.cancelled else "completed"
        except BaseException as exc:  # noqa: BLE001 - the thread must end cleanly; the run row says "failed"
            with self._lock:
                job.state = "failed"
                job.error = f"{type(exc).__name__}: {exc}"
                job.messages.append(job.error)
        finally:
            with self._lock:
                job.finished = time.monotonic()
                job.eta_s = None
            _RUN_SLOT.release()

    def _on_event(self, job: _Job, e: ProgressEvent) -> None:
        with self._lock:
            job.done, job.planned = e.done, e.planned
            if e.eta_s is not None or e.phase == "run_done":
                job.eta_s = e.eta_s
            if e.model is None:
                return
            prev = job.models.get(e.model) or ModelProgress(e.model, "waiting", 0, 0, 0, None)
            if e.phase == "loading":
                job.models[e.model] = replace(prev, phase="loading", done=e.model_done, planned=e.model_planned)
            elif e.phase == "sample":
                failed = e.errors > job.last_errors
                job.last_errors = e.errors
                job.trace.append(TracePoint(time.monotonic() - job.started, e.model, None if failed else e.latency_ms, not failed))
                job.models[e.model] = ModelProgress(
                    e.model, "running", e.model_done, e.model_planned, prev.errors + int(failed),
                    e.latency_ms if not failed else prev.last_latency_ms,
                )
            elif e.phase == "model_done":
                job.last_errors = e.errors  # run-level error count after the model's last write
                job.models[e.model] = replace(prev, phase="done", done=e.model_done, planned=e.model_planned)
            elif e.phase == "model_failed":
                job.last_errors += prev.planned - prev.done  # its samples were stored as skipped
                job.models[e.model] = replace(prev, phase="failed", message=e.message)
                job.messages.append(f"{e.model}: {e.message}")


def _default_hooks() -> list[Callable[[str, Store], None]]:
    from core.tracking import after_run_hooks

    return after_run_hooks()


_MANAGERS: dict[Path, RunManager] = {}
_MANAGERS_LOCK = threading.Lock()


def shared(store: Store, loader: ModelLoader | None = None) -> RunManager:
    """The process-wide manager for this database (created on first use)."""
    key = store.path.resolve()
    with _MANAGERS_LOCK:
        if key not in _MANAGERS:
            _MANAGERS[key] = RunManager(store, loader)
        return _MANAGERS[key]
