"""The evaluation worker: `python -m core worker` measures queued runs, one at a time, in a process
where nothing else competes with the timed generation.

    python -m core worker [--db PATH] [--cores 1-3] [--metrics-port 9464] [--idle-exit SECONDS]

- It claims the database's worker slot (a heartbeat row: pid, host, start time, last beat and a
  deadline for the next one). A live holder makes it exit with status 3; a stale one (its process is
  gone, or its deadline passed) is taken over. Never two workers on one database.
- It pins itself to the measurement cores (default: all but the lowest when there are at least two,
  so the dashboard keeps a core of its own) and fixes torch's thread count to their number; both go
  into every run's manifest.
- It owns the cached, memory-budgeted loader: a model stays loaded between runs.
- It takes the oldest queued run (waiting while another process measures on the same database),
  executes it with core.runner.Runner and writes a progress record at least every second while
  samples complete (outside the timed region); cancel requests are read with it, and SIGUSR2 (sent by
  the client that wrote the request) makes the check immediate, so a cancel lands between tokens.
  SIGUSR1 wakes an idle worker to read the queue.
- SIGTERM or SIGINT: stop after the current sample; the run is left 'interrupted' and resumable.
- Prometheus metrics on 127.0.0.1 (core.worker_metrics).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core import jobs
from core.affinity import available_cores, measurement_cores, parse_cores, pin_process
from core.jobs import HOST, ModelProgress, TracePoint
from core.measure import CancelToken, rss_bytes
from core.worker_metrics import DEFAULT_PORT, WorkerMetrics
from core.runner import ProgressEvent
from core.store import Store, StoreBusyError, now

PROGRESS_EVERY_S = 1.0  # progress record + heartbeat + cancel check, between samples
POLL_S = 1.0  # idle: how often the queue is read (a client's SIGUSR1 wakes the worker at once)
IDLE_GRACE_S = 20.0  # heartbeat deadline while idle
SAMPLE_GRACE_S = 30.0  # ... while running: the per-sample limit plus this
LOAD_GRACE_S = 900.0  # ... while a model loads
PROGRESS_LOCK_S = 2.0  # a progress write waits this long for the file, then is skipped (the next one follows)

EXIT_BUSY = 3


class WorkerBusyError(RuntimeError):
    """A live worker already serves this database."""


# --------------------------------------------------------------------------- progress


@dataclass
class ProgressState:
    """The mutable progress of one run inside the worker; snapshot() freezes it for the store."""

    run_id: str
    prompt_set: str
    models: dict[str, ModelProgress]
    started: float = field(default_factory=time.monotonic)
    state: str = "running"
    done: int = 0
    planned: int = 0
    eta_s: float | None = None
    eta_rough: bool = True
    trace: deque = field(default_factory=lambda: deque(maxlen=jobs.TRACE_LEN))  # TracePoint, newest last
    messages: deque = field(default_factory=lambda: deque(maxlen=jobs.ERRORS_LEN))
    error: str | None = None

    def snapshot(self, rss_mb: float | None) -> jobs.JobSnapshot:
        return jobs.JobSnapshot(
            state=self.state, run_id=self.run_id, prompt_set=self.prompt_set, done=self.done, planned=self.planned,
            eta_s=self.eta_s if self.state in jobs.ACTIVE else None, eta_rough=self.eta_rough,
            elapsed_s=time.monotonic() - self.started,
            models=tuple(self.models.values()), trace=tuple(self.trace),
            messages=tuple(self.messages), rss_mb=rss_mb, worker_pid=os.getpid(),
            updated_at=now().isoformat(), error=self.error,
        )


class Pace:
    """Seconds per sample, smoothed (exponential moving average of the wall time between samples of a
    model, storage and scoring included), for a time-left estimate that does not jump. The estimate
    is rough while fewer than ROUGH_BELOW samples are timed, or when models that have not started yet
    are left (they may be much faster or slower)."""

    ALPHA = 0.05
    ROUGH_BELOW = 20

    def __init__(self) -> None:
        self.rate: float | None = None
        self.n = 0
        self._last: tuple[str, float] | None = None

    def tick(self, model: str | None) -> None:
        t = time.monotonic()
        if self._last is not None and self._last[0] == model:
            dt = t - self._last[1]
            self.rate = dt if self.rate is None else self.rate + self.ALPHA * (dt - self.rate)
            self.n += 1
        self._last = (model or "", t)

    def eta(self, remaining: int, models_pending: bool) -> tuple[float | None, bool]:
        if self.rate is None:
            return None, True
        return max(0, remaining) * self.rate, self.n < self.ROUGH_BELOW or models_pending


class ProgressRecorder:
    """Turns the runner's events into the run's progress record, metrics and heartbeats."""

    def __init__(self, worker: Worker, run_id: str, prompt_set: str, models: Sequence[str], timeout_s: float) -> None:
        self.worker = worker
        self.p = ProgressState(run_id, prompt_set, {m: ModelProgress(m, "waiting", 0, 0, 0, None) for m in models})
        self.timeout_s = timeout_s
        self.last_write = 0.0
        self.known_loaded = {m["name"] for m in worker.loaded_models()}
        self.pace = Pace()

    def on_event(self, e: ProgressEvent) -> None:
        p = self.p
        p.done, p.planned = e.done, e.planned
        if e.phase == "sample":
            self.pace.tick(e.model)
        pending = any(m.phase == "waiting" and m.done < m.planned for m in p.models.values())
        p.eta_s, p.eta_rough = self.pace.eta(e.planned - e.done, pending)
        force = e.phase not in ("sample", "planned")
        if e.model is not None:
            self._model_event(e)
        self.worker.metrics.set_progress(p.run_id, e.done, e.planned)
        if self.worker.cancel is not None and self.worker.cancel.cancelled and p.state == "running":
            p.state = "cancelling"
        if force or time.monotonic() - self.last_write >= PROGRESS_EVERY_S:
            grace = LOAD_GRACE_S if e.phase == "loading" else self.timeout_s + SAMPLE_GRACE_S
            self.write(state="loading" if e.phase == "loading" else "running", grace_s=grace, must=force)

    def _model_event(self, e: ProgressEvent) -> None:
        p, prev = self.p, self.p.models.get(e.model) or ModelProgress(e.model, "waiting", 0, 0, 0, None)
        if e.phase == "planned":  # a resumed run's finished models are done, the others wait with their totals
            phase = "done" if e.model_done >= e.model_planned else "waiting"
            p.models[e.model] = ModelProgress(e.model, phase, e.model_done, e.model_planned, 0, None)
        elif e.phase == "loading":
            p.models[e.model] = ModelProgress(e.model, "loading", e.model_done, e.model_planned, prev.errors, None)
        elif e.phase == "sample":
            status = e.status or "ok"
            failed = status not in ("ok", "cancelled")  # a cancelled sample is not a failure: resume runs it again
            if status != "cancelled":
                self.worker.metrics.observe_sample(e.model, status, e.latency_ms if status == "ok" else None)
                p.trace.append(TracePoint(time.monotonic() - p.started, e.model, None if failed else e.latency_ms, not failed))
            eta, _ = self.pace.eta(e.model_planned - e.model_done, False)
            p.models[e.model] = ModelProgress(e.model, "running", e.model_done, e.model_planned, prev.errors + int(failed),
                                              e.latency_ms if status == "ok" else prev.last_latency_ms, eta)
            if prev.phase != "running":
                self._loaded_now(e.model)
        elif e.phase == "model_done":  # "stopped": cancelled or interrupted before its last sample
            phase = "done" if e.status != "stopped" else "stopped"
            p.models[e.model] = ModelProgress(e.model, phase, e.model_done, e.model_planned, prev.errors,
                                              prev.last_latency_ms, 0.0 if phase == "done" else None)
        elif e.phase == "model_failed":
            p.models[e.model] = ModelProgress(e.model, "failed", prev.done, prev.planned, prev.errors,
                                              prev.last_latency_ms, None, e.message)
            p.messages.append(f"{e.model}: {e.message}")

    def _loaded_now(self, model: str) -> None:
        """A model's first sample: report its load (when it was not already held) and what is held."""
        held = self.worker.loaded_models()
        for m in held:
            if m["name"] == model and model not in self.known_loaded:
                self.worker.metrics.observe_load(model, m["load_time_s"])
        self.known_loaded = {m["name"] for m in held}
        self.worker.metrics.set_loaded({m["name"]: m["bytes"] for m in held})

    def write(self, state: str, grace_s: float, must: bool = False) -> None:
        """Progress record + heartbeat + cancel requests, in one open of the file. The periodic
        writes are best effort (skipped when another process holds the file for PROGRESS_LOCK_S);
        phase changes and the run's last record (`must`) wait as long as any store write."""
        self.last_write = time.monotonic()
        snap = self.p.snapshot(rss_bytes() / 2**20)
        try:
            with self.worker.store.pinned():
                self.worker.store.write_progress(self.p.run_id, snap.to_json(), timeout_s=None if must else PROGRESS_LOCK_S)
                self.worker.beat(state, run_id=self.p.run_id, grace_s=grace_s)
                self.worker.check_cancel(self.p.run_id)
        except StoreBusyError:  # a long read elsewhere holds the file: the next write follows within a second
            pass


# --------------------------------------------------------------------------- the worker


class Worker:
    def __init__(self, store: Store, cores: Sequence[int] | None = None, metrics_port: int | None = DEFAULT_PORT,
                 idle_exit_s: float | None = None, log_path: str | None = None, poll_s: float = POLL_S) -> None:
        from core.loader import ModelLoader

        self.store = store
        self.cores = list(cores) if cores is not None else measurement_cores()
        self.metrics_port = metrics_port
        self.idle_exit_s = idle_exit_s
        self.log_path = log_path
        self.poll_s = poll_s
        self.token = uuid.uuid4().hex
        self.loader = ModelLoader()
        self.metrics = WorkerMetrics()
        self.stop = CancelToken()  # SIGTERM / SIGINT: stop after the current sample
        self.cancel: CancelToken | None = None  # the current run's cancel token
        self.run_id: str | None = None
        self.torch_threads: int | None = None
        self._wake = threading.Event()  # SIGUSR1: read the queue now
        self._check = threading.Event()  # SIGUSR2: read cancel requests now (watcher thread)
        self._lost = False

    # ------------------------------------------------------------------ slot and heartbeat
    def claim(self) -> None:
        import psutil

        me = psutil.Process()
        t = now()
        row = {"token": self.token, "pid": os.getpid(), "host": HOST, "started_at": t, "proc_started": me.create_time(),
               "beat_at": t, "beat_deadline": t + timedelta(seconds=LOAD_GRACE_S), "state": "starting", "run_id": None,
               "cores": json.dumps(self.cores), "torch_threads": None, "metrics_port": None, "loaded": "[]",
               "log_path": self.log_path, "message": None}
        holder = self.store.claim_worker_slot(row, jobs.holder_alive)
        if holder is not None:
            what = f"busy with run {holder['run_id']}" if holder["run_id"] else holder["state"]
            raise WorkerBusyError(f"a worker already serves {self.store.path}: pid {holder['pid']} on {holder['host']}, "
                                  f"started {holder['started_at']:%Y-%m-%d %H:%M:%S} UTC, {what}")

    def beat(self, state: str, run_id: str | None = None, grace_s: float = IDLE_GRACE_S, message: str | None = None,
             timeout_s: float | None = PROGRESS_LOCK_S) -> None:
        t = now()
        fields = {"beat_at": t, "beat_deadline": t + timedelta(seconds=grace_s), "state": state, "run_id": run_id,
                  "loaded": json.dumps(self.loaded_models()), "message": message}
        if not self.store.beat_worker(self.token, fields, timeout_s=timeout_s):
            self._lost = True  # taken over as stale (we hung): finish the sample and go
            self.stop.cancel()

    def loaded_models(self) -> list[dict[str, Any]]:
        return [{"name": m.name, "device": m.device, "dtype": m.dtype, "params": m.params,
                 "bytes": int(m.estimated_mb * 2**20), "load_time_s": m.load_time_s} for m in self.loader.loaded()]

    # ------------------------------------------------------------------ set-up
    def setup(self) -> None:
        if self.cores is not None:
            pin_process(self.cores)
        if self.metrics_port is not None:
            try:
                port = self.metrics.start(self.metrics_port)
            except OSError as exc:
                print(f"worker: {exc}; serving metrics on a free port instead", flush=True)
                port = self.metrics.start(0)
            self.metrics_port = port
            print(f"worker: Prometheus metrics on http://127.0.0.1:{port}/metrics", flush=True)
        import torch  # once, before the first run: its thread pool then sees the pinned cores

        if self.cores:
            torch.set_num_threads(len(self.cores))
        self.torch_threads = torch.get_num_threads()
        self.store.beat_worker(self.token, {"torch_threads": self.torch_threads, "metrics_port": self.metrics_port})
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        if jobs.WAKE_SIGNAL is not None:
            signal.signal(jobs.WAKE_SIGNAL, self._on_wake)
            signal.signal(jobs.CANCEL_SIGNAL, self._on_cancel_request)
        threading.Thread(target=self._watch_cancel, name="llm-eval-cancel-watch", daemon=True).start()
        print(f"worker: pid {os.getpid()} serves {self.store.path} on cores {self.cores} with "
              f"{self.torch_threads} torch threads", flush=True)

    def _on_stop(self, signum: int, frame: Any) -> None:  # noqa: ANN401
        self.stop.cancel()
        self._wake.set()

    def _on_wake(self, signum: int, frame: Any) -> None:  # noqa: ANN401
        self._wake.set()

    def _on_cancel_request(self, signum: int, frame: Any) -> None:  # noqa: ANN401
        self._check.set()

    def _watch_cancel(self) -> None:
        """Woken only by SIGUSR2 (no polling while a generation runs): reads the cancel requests."""
        while True:
            self._check.wait()
            self._check.clear()
            run_id = self.run_id
            if run_id is not None:
                try:
                    self.check_cancel(run_id)
                except Exception as exc:  # noqa: BLE001 - the between-samples check still runs
                    print(f"worker: cancel check failed: {exc}", flush=True)

    def check_cancel(self, run_id: str) -> None:
        reqs = self.store.pending_requests("cancel", run_id, timeout_s=PROGRESS_LOCK_S)
        if not reqs.empty and self.cancel is not None and self.run_id == run_id:
            self.cancel.cancel()
            self.store.mark_handled(list(reqs["id"]))

    # ------------------------------------------------------------------ the loop
    def serve(self) -> int:
        self.claim()
        try:
            self.setup()
            idle_since = time.monotonic()
            while not self.stop.cancelled:
                if self._step():
                    idle_since = time.monotonic()
                elif self.idle_exit_s is not None and time.monotonic() - idle_since > self.idle_exit_s:
                    print(f"worker: idle for {self.idle_exit_s:g} s, exiting", flush=True)
                    break
            return 0
        finally:
            self.metrics.stop()
            if not self._lost:
                self.store.beat_worker(self.token, {"state": "stopped", "run_id": None, "beat_at": now()}, timeout_s=None)
            print("worker: stopped", flush=True)

    def _step(self) -> bool:
        """One turn of the loop: True when a run was executed."""
        run_id = None
        try:
            with self.store.pinned():
                self._unload_requested()
                busy = jobs.measuring_elsewhere(self.store)
                run_id = None if busy else self.store.claim_next_run(os.getpid())
                if run_id is None:
                    msg = f"waits for run {busy[0]} measured by process {busy[1]}" if busy else None
                    self.beat("waiting" if busy else "idle", message=msg)
        except StoreBusyError as exc:  # another program holds the file: try again at the next turn
            print(f"worker: {exc}", flush=True)
        if run_id is None:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            return False
        self.execute(run_id)
        return True

    def _unload_requested(self) -> None:
        reqs = self.store.pending_requests("unload")
        for r in reqs.itertuples():
            if self.loader.unload(str(r.arg)):
                print(f"worker: unloaded {r.arg}", flush=True)
        self.store.mark_handled(list(reqs["id"]))
        if not reqs.empty:
            self.metrics.set_loaded({m["name"]: m["bytes"] for m in self.loaded_models()})

    def execute(self, run_id: str) -> None:
        from core.runner import Runner

        try:
            row = self.store.get_run(run_id)
            spec = row.spec
        except Exception as exc:  # noqa: BLE001 - an unreadable row must not stay 'running' under a live pid
            self.store.set_run_status(run_id, "failed", f"the worker could not read the run: {exc}"[:500])
            return
        self.cancel, self.run_id = CancelToken(), run_id
        rec = ProgressRecorder(self, run_id, row.prompt_set, spec.models, spec.timeout_s)
        rec.write("running", grace_s=LOAD_GRACE_S, must=True)
        print(f"worker: run {run_id} ({row.planned} samples, {row.done} stored)", flush=True)
        try:
            from core.throughput import is_sweep_run, run_queued

            if is_sweep_run(row.manifest):  # a throughput sweep job (core.throughput): rows, no samples
                run_queued(self.store, run_id, self.loader, self.cancel)
                rec.p.state = self.store.get_run(run_id).status
            else:
                if spec.memory_budget_gb is not None:
                    self.loader.set_budget(spec.memory_budget_gb)
                runner = Runner(self.store, loader=self.loader, on_event=rec.on_event, cancel=self.cancel,
                                interrupt=self.stop, after_run=_after_run_hooks(), role="worker")
                rec.p.state = runner.execute(run_id).status
        except Exception as exc:  # noqa: BLE001 - the runner marked the run failed; the worker goes on
            rec.p.state, rec.p.error = "failed", f"{type(exc).__name__}: {exc}"
            rec.p.messages.append(rec.p.error)
            print(f"worker: run {run_id} failed: {rec.p.error}", flush=True)
        finally:
            rec.p.eta_s = None
            rec.write(rec.p.state, grace_s=IDLE_GRACE_S, must=True)
            self.metrics.set_progress(None, 0, 0)
            self.cancel, self.run_id = None, None
        print(f"worker: run {run_id} {rec.p.state}", flush=True)


def _after_run_hooks() -> list:
    from core import analysis_cache
    from core.tracking import after_run_hooks

    return [*after_run_hooks(), analysis_cache.after_run]  # the MLflow mirror, then a large run's statistics


def main(db: str, cores: str | None, metrics_port: int | None, idle_exit_s: float | None, log_path: str | None) -> int:
    try:
        store = Store(db)
    except StoreBusyError as exc:  # another program holds the file: the run stays queued, say why
        print(f"worker: cannot open the store: {exc}", file=sys.stderr, flush=True)
        return 2
    allowed = None
    if cores:
        have = available_cores()
        allowed = [c for c in parse_cores(cores) if have is None or c in have]
        if not allowed:
            print(f"error: --cores {cores}: none of these cores is available (available: {have})", file=sys.stderr)
            return 2
    worker = Worker(store, cores=allowed, metrics_port=metrics_port, idle_exit_s=idle_exit_s, log_path=log_path)
    try:
        return worker.serve()
    except WorkerBusyError as exc:
        print(f"worker: {exc}", file=sys.stderr, flush=True)
        return EXIT_BUSY
