"""One model's sample loop: the timed region (backend.generate() and nothing else), each outcome
turned into a row of the batch, progress events, the CPU fallback and the circuit breaker."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from core import devices
from core.backends import BackendBase
from core.measure import CancelToken, GenerationStopped, MachineLoad, UnsupportedOpError
from core.run_state import PlannedSample, ProgressEvent, RunState
from core.sample_batch import SampleBatch
from core.schemas import ModelSpec, RunSpec
from core.store import now


class LoopHost(Protocol):
    """What the loop needs from the runner (core.runner.Runner)."""

    cancel: CancelToken
    interrupt: CancelToken
    on_event: Callable[[ProgressEvent], None]

    def fallback_to_cpu(self, mspec: ModelSpec, spec: RunSpec, exc: Exception) -> BackendBase: ...

    def record_model(self, run_id: str, mspec: ModelSpec, backend: BackendBase | None, **kw: Any) -> None: ...


class ModelLoop:
    """One model's sample loop: generate each planned sample (the timed region holds backend.generate()
    only), turn its outcome into a row, report progress, and open the circuit breaker after too many
    consecutive failures."""

    def __init__(self, runner: LoopHost, mspec: ModelSpec, spec: RunSpec, state: RunState, batch: SampleBatch,
                 backend: BackendBase, cold_ms: float, model_done: int, model_total: int) -> None:
        self.runner, self.mspec, self.spec, self.state, self.batch = runner, mspec, spec, state, batch
        self.backend = backend  # replaced when an op the device lacks sends the model to the CPU
        self.cold_ms = cold_ms
        self.model_done, self.model_total = model_done, model_total
        self.consecutive = 0  # failed samples in a row (timeouts and errors)

    def run(self, todo: list[PlannedSample], seeds: list[int], t_model: float) -> None:
        cancel, interrupt = self.runner.cancel, self.runner.interrupt
        load = MachineLoad()  # how busy the rest of the machine is, per sample (read outside the timed region)
        for i, (p, seed) in enumerate(zip(todo, seeds, strict=True)):
            if cancel.cancelled or interrupt.cancelled:
                break
            self._sample(p, seed, load)
            self._progress(i + 1, t_model)
            self.batch.maybe_flush()
            if self.consecutive >= self.spec.max_consecutive_failures:
                self._open_circuit(todo[i + 1 :])
                break

    def _sample(self, p: PlannedSample, seed: int, load: MachineLoad) -> None:
        """Generate one sample and add its row (ok, timeout, cancelled or error) to the batch."""
        spec, batch, cancel = self.spec, self.batch, self.runner.cancel
        deadline = time.perf_counter() + spec.timeout_s
        started = now()
        load.begin()
        try:
            m = self.backend.generate(p.item, spec.generation, deadline=deadline, cancel=cancel, seed=seed)
            batch.other_cpu = load.end()
            batch.add(p, self.backend, started, measurement=m)
            self.consecutive = 0
        except GenerationStopped as stop:
            batch.other_cpu = load.end()
            self._stopped(p, started, stop)
        except UnsupportedOpError as exc:
            self.backend = self.runner.fallback_to_cpu(self.mspec, spec, exc)
            m = self.backend.generate(p.item, spec.generation, deadline=time.perf_counter() + spec.timeout_s, cancel=cancel, seed=seed)
            batch.add(p, self.backend, started, measurement=m)
            self.runner.record_model(self.state.run_id, self.mspec, self.backend, cold_ms=self.cold_ms)
        except Exception as exc:  # noqa: BLE001 - a failed sample is a row, not a crash
            batch.other_cpu = load.end()
            kind = self.backend.classify_error(exc)
            if kind == "oom":
                devices.free_memory(self.backend.device)  # never retried blindly
            batch.add(p, self.backend, started, status="error", error_kind=kind, message=f"{type(exc).__name__}: {exc}"[:1000],
                      attempts=getattr(exc, "attempts", 1))
            self.consecutive += 1

    def _stopped(self, p: PlannedSample, started: datetime, stop: GenerationStopped) -> None:
        status = "timeout" if stop.kind == "timeout" else "cancelled"
        msg = f"exceeded the per-sample limit of {self.spec.timeout_s:g} s" if status == "timeout" else "run cancelled"
        self.batch.add(p, self.backend, started, status=status, error_kind=stop.kind, message=stop.message or msg,
                       latency_ms=stop.latency_ms, attempts=stop.attempts)
        self.consecutive += status == "timeout"

    def _progress(self, done_here: int, t_model: float) -> None:
        state, batch = self.state, self.batch
        eta = (time.perf_counter() - t_model) / done_here * (state.planned - state.done - batch.done_rows)
        self.runner.on_event(  # counts are of stored outcomes (ok, error, timeout): a cancelled sample runs again on resume
            ProgressEvent(
                state.run_id, "sample", self.mspec.name, state.done + batch.done_rows, state.planned,
                self.model_done + batch.model_done_rows, self.model_total, eta, batch.last_latency, batch.last_rss,
                state.errors + batch.errors, status=batch.rows[-1]["status"],
            )
        )

    def _open_circuit(self, rest: list[PlannedSample]) -> None:
        """Skip the model's remaining samples after too many consecutive failures."""
        backend = self.backend
        where = f" at {backend.endpoint}" if backend.endpoint else ""
        reason = f"circuit breaker{where}: {self.consecutive} consecutive failures (last: {self.batch.last_message})"
        self.batch.skip_all(rest, "circuit_open", reason, backend=self.mspec.kind, device=backend.device, dtype=backend.dtype)
        self.state.message = f"{self.mspec.name}: {reason}"
