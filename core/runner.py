"""The measured run: plan result keys, skip what is stored, generate, score, store, report.

    run_id = Runner(store).create(spec)   # plan + manifest + run row
    result = Runner(store).execute(run_id)  # also used by resume

Inside the timed region there is only backend.generate(); scoring, storage and progress
events happen between samples, in batches.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core import catalog, devices, prompts
from core.backends import BackendBase, ModelRun, backend_class, runs_locally
from core.loader import ModelLoader, OverBudgetError
from core.manifest import environment_manifest
from core.manifest import measurement_settings
from core.measure import CancelToken, GenerationStopped, MachineLoad, UnsupportedOpError
from core.schemas import Measurement, ModelSpec, PromptItem, PromptSet, RunSpec
from core.store import DONE_STATUSES, Store, now, result_key

# Finished samples are scored and written together every FLUSH_INTERVAL_S (or every
# RunSpec.batch_size samples). A write costs 40-70 ms (open the file, commit, checkpoint on
# close), so writing every 16 samples of a fast model cost 20-40% of the run's wall time
# (bench/harness_overhead.py); every 5 s it is about 1%. A crash loses at most the last 5 s of
# measurements, which resume re-runs; another process (the dashboard) sees progress at that pace,
# the dashboard's own runs report every sample through progress events.
FLUSH_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PlannedSample:
    key: str
    model: str
    model_version: str
    item: PromptItem
    repeat: int
    seq: int


@dataclass(frozen=True)
class ProgressEvent:
    run_id: str
    phase: str  # planned | loading | sample | model_done | model_failed | run_done
    model: str | None
    done: int
    planned: int
    model_done: int = 0
    model_planned: int = 0
    eta_s: float | None = None
    latency_ms: float | None = None
    rss_mb: float | None = None
    errors: int = 0
    status: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str
    planned: int
    stored: int
    executed: int
    counts: dict[str, int] = field(default_factory=dict)


def sample_seed(seed: int, item_id: str, repeat: int) -> int:
    return int(hashlib.sha256(f"{seed}:{item_id}:{repeat}".encode()).hexdigest()[:8], 16)


def plan(run_id: str, spec: RunSpec, ps: PromptSet, versions: dict[str, str]) -> list[PlannedSample]:
    """Every (model, item, repeat) of the run with its deterministic key; repeat-major order."""
    out = []
    ps_hash = ps.content_hash
    for model in spec.models:
        seq = 0
        for repeat in range(spec.repeats):
            for item in ps.items:
                key = result_key(run_id, model, versions[model], ps_hash, item.id, repeat)
                out.append(PlannedSample(key, model, versions[model], item, repeat, seq))
                seq += 1
    return out


class Runner:
    def __init__(
        self,
        store: Store,
        loader: ModelLoader | None = None,
        on_event: Callable[[ProgressEvent], None] | None = None,
        cancel: CancelToken | None = None,
        after_run: list[Callable[[str, Store], None]] | None = None,
        interrupt: CancelToken | None = None,
        role: str = "cli",
    ) -> None:
        self.store = store
        self.loader = loader
        self.on_event = on_event or (lambda e: None)
        self.cancel = cancel or CancelToken()  # stop within the current generation: the run ends 'cancelled'
        self.interrupt = interrupt or CancelToken()  # stop after the current sample: the run stays resumable
        self.after_run = after_run or []
        self.role = role  # what executes the run ('cli' | 'worker'), recorded in the manifest

    # ------------------------------------------------------------------ create
    def create(self, spec: RunSpec, queued: bool = False) -> str:
        """Validate the spec, plan the run and store its row and manifest; returns the run id.
        queued: the row waits for the evaluation worker (core.worker) instead of running here."""
        if not spec.models:
            raise ValueError("no models given: pass --models A,B")
        if spec.repeats < 1:
            raise ValueError("--repeats must be at least 1")
        if spec.limit is not None and spec.limit < 1:
            raise ValueError("--limit must be at least 1")
        with self.store.pinned():  # a burst of lookups and writes: one open of the file
            return self._create(spec, queued)

    def _create(self, spec: RunSpec, queued: bool) -> str:
        specs = {m: catalog.get_spec(m, self.store) for m in spec.models}
        full = prompts.get_set(spec.prompt_set, self.store)
        self.store.keep_prompt_set_version(full)  # the run refers to this version, whatever the name holds later
        ps = full.limited(spec.limit)
        # a queued run is created by a client that never imports torch (the dashboard): the worker
        # resolves the device and names the accelerator when it executes the run (execute())
        device = spec.device if queued else devices.resolve_device(spec.device)
        versions = {}
        for name, mspec in specs.items():
            try:
                versions[name] = catalog.model_version(mspec)
            except catalog.ModelUnavailableError:
                versions[name] = f"unavailable:{name}"
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        manifest = environment_manifest(None if queued else devices.accelerator_name())
        manifest.update(
            device=device,
            generation=spec.to_dict()["generation"],
            seed=spec.seed,
            prompt_set=ps.name,
            prompt_set_hash=ps.content_hash,
            prompt_set_version=full.content_hash,
            n_items=len(ps.items),
            model_versions=versions,
            models={n: json.loads(s.to_json()) for n, s in specs.items()},
        )
        planned = len(spec.models) * len(ps.items) * spec.repeats
        self.store.create_run(run_id, spec, ps, planned, manifest, None if queued else os.getpid(),
                              status="queued" if queued else "running")
        return run_id

    # ------------------------------------------------------------------ execute
    def execute(self, run_id: str) -> RunResult:
        with self.store.pinned():  # the preamble's reads and writes: one open of the file
            row = self.store.get_run(run_id)
            spec = row.spec
            ps = prompts.run_set(self.store, row)  # the run's own version, even if the name now holds another
            if ps is None:
                msg = (f"prompt set {row.prompt_set!r} no longer holds the version this run was made with"
                       f" ({row.prompt_set_hash}) and no copy of it is stored")
                self.store.set_run_status(run_id, "failed", msg)
                raise ValueError(msg)
            versions = row.manifest.get("model_versions", {})
            planned = plan(run_id, spec, ps, versions)
            done = self.store.done_keys(run_id) - self.store.rerun_keys(run_id)
            self.store.set_run_status(run_id, "running", pid=os.getpid())
            local = any(runs_locally(m.get("kind")) for m in row.manifest.get("models", {}).values())
            patch = {"measurement": measurement_settings(self.role, local)}
            if local and (row.manifest.get("device") == "auto" or "accelerator" not in row.manifest
                          or row.manifest.get("accelerator") is None):
                patch.update(device=devices.resolve_device(spec.device), accelerator=devices.accelerator_name())
            self.store.update_manifest(run_id, patch)
        state = _RunState(run_id=run_id, planned=len(planned), done=len(done & {p.key for p in planned}), ps_hash=ps.content_hash)
        for model in spec.models:  # where each model starts: a resumed run's finished models are done already
            mine = [p.key for p in planned if p.model == model]
            self.on_event(ProgressEvent(run_id, "planned", model, state.done, state.planned,
                                        sum(k in done for k in mine), len(mine)))
        try:
            for model in spec.models:
                if self.cancel.cancelled or self.interrupt.cancelled:
                    break
                todo = [p for p in planned if p.model == model and p.key not in done]
                if todo:
                    self._run_model(spec, model, todo, state, len([p for p in planned if p.model == model]))
            status = "cancelled" if self.cancel.cancelled else "interrupted" if self.interrupt.cancelled else "completed"
            if status == "interrupted":
                state.message = f"stopped after sample {state.done} of {state.planned} ({self.role} asked to stop); resume to carry on"
            with self.store.pinned():
                self.store.set_run_status(run_id, status, state.message)
                stored = self.store.count_samples(run_id)
        except BaseException as exc:  # a crash of the runner itself: keep what is stored
            self.store.set_run_status(run_id, "failed" if not isinstance(exc, KeyboardInterrupt) else "cancelled", repr(exc)[:500])
            raise
        self.on_event(ProgressEvent(run_id, "run_done", None, state.done, state.planned, status=status, errors=state.errors))
        for hook in self.after_run:
            hook(run_id, self.store)
        return RunResult(run_id, status, len(planned), stored, state.executed, dict(state.counts))

    # ------------------------------------------------------------------ one model
    def _models(self, spec: RunSpec) -> ModelLoader:
        """The run's model loader (cached across runs when the caller passed one)."""
        if self.loader is None:
            self.loader = ModelLoader(spec.memory_budget_gb, spec.device)
        return self.loader

    def _backend(self, mspec: ModelSpec, spec: RunSpec, device: str | None = None) -> BackendBase:
        return backend_class(mspec.kind).open(mspec, spec, lambda: self._models(spec), device)

    def _run_model(self, spec: RunSpec, model: str, todo: list[PlannedSample], state: _RunState, model_total: int) -> None:
        """One model's samples: open and warm its backend, run the sample loop, store what the backend measured."""
        mspec = catalog.get_spec(model, self.store)
        batch = _Batch(self, state, spec, flush_every=spec.batch_size)
        model_done = model_total - len(todo)
        self.on_event(ProgressEvent(state.run_id, "loading", model, state.done, state.planned, model_done, model_total))
        opened = self._open_model(mspec, spec, todo, batch, state)
        if opened is None:
            return
        backend, cold_ms = opened
        self._record_model(state.run_id, mspec, backend, cold_ms=cold_ms)
        seeds = [sample_seed(spec.seed, p.item.id, p.repeat) for p in todo]
        # HTTP: N requests in flight; local: tokenise up front, not between samples
        backend = backend.prepare(ModelRun([p.item for p in todo], seeds, spec, self.cancel))
        loop = _ModelLoop(self, mspec, spec, state, batch, backend, cold_ms, model_done, model_total)
        meter = backend.start_meters()  # energy of the whole generation loop (not per sample)
        t_model = time.perf_counter()
        loop.run(todo, seeds, t_model)
        measured = meter.stop(time.perf_counter() - t_model)
        batch.flush()
        if measured:
            self._record_model(state.run_id, mspec, loop.backend, cold_ms=cold_ms, extra=measured)
        served = loop.backend.finish()  # HTTP: close the pool, store throughput and goodput
        if served:
            self._record_model(state.run_id, mspec, loop.backend, cold_ms=cold_ms, extra=served)
        finished = model_done + batch.model_done_rows
        self.on_event(ProgressEvent(state.run_id, "model_done", model, state.done, state.planned, finished, model_total,
                                    errors=state.errors, status="completed" if finished >= model_total else "stopped"))

    def _open_model(self, mspec: ModelSpec, spec: RunSpec, todo: list[PlannedSample], batch: _Batch,
                    state: _RunState) -> tuple[BackendBase, float] | None:
        """The model's backend after its untimed warm-up, and the warm-up's latency (ms); None when the
        model cannot run (unavailable, over the memory budget, endpoint down): its samples are stored skipped."""
        model = mspec.name
        try:
            if todo[0].model_version.startswith("unavailable:"):
                catalog.resolve_path(mspec)  # raises with what was tried
                raise catalog.ModelUnavailableError(f"model {model!r} was unavailable when the run was created")
            backend = self._backend(mspec, spec)
            return backend, backend.warmup(todo[0].item, spec.generation)
        except (catalog.ModelUnavailableError, OverBudgetError, catalog.CatalogError, ValueError) as exc:
            kind = "over_budget" if isinstance(exc, OverBudgetError) else "model_unavailable"
            batch.skip_all(todo, kind, str(exc), backend=mspec.kind)
            batch.flush()
            state.message = f"{model}: {exc}"
            self._record_model(state.run_id, mspec, None, status=kind, message=str(exc))
            self.on_event(ProgressEvent(state.run_id, "model_failed", model, state.done, state.planned, message=str(exc)))
            return None

    def _fallback_to_cpu(self, mspec: ModelSpec, spec: RunSpec, exc: Exception) -> BackendBase:
        backend = self._backend(mspec, spec, device="cpu")
        backend.fallback = f"mps->cpu: {str(exc)[:200]}"
        return backend

    def _record_model(self, run_id: str, mspec: ModelSpec, backend: BackendBase | None, cold_ms: float | None = None,
                      status: str = "ok", message: str | None = None, extra: dict | None = None) -> None:
        """The model's run_models row: what the backend knows of the model (of the catalog entry alone
        when it never opened), the warm-up latency, the status, and `extra` columns."""
        known = backend.model_columns() if backend is not None else backend_class(mspec.kind).entry_columns(mspec)
        self.store.upsert_run_model(
            {
                "run_id": run_id,
                "model": mspec.name,
                "model_version": None,
                "backend": mspec.kind,
                "params": None,
                "weights_mb": None,
                "load_time_s": None,
                "load_rss_mb": None,
                "model_footprint_mb": None,
                "cold_latency_ms": cold_ms,
                "device": None,
                "dtype": None,
                "fallback": None,
                "status": status,
                "message": message,
                **known,
                **(extra or {}),
            }
        )


class _ModelLoop:
    """One model's sample loop: generate each planned sample (the timed region holds backend.generate()
    only), turn its outcome into a row, report progress, and open the circuit breaker after too many
    consecutive failures."""

    def __init__(self, runner: Runner, mspec: ModelSpec, spec: RunSpec, state: _RunState, batch: _Batch,
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
            self.backend = self.runner._fallback_to_cpu(self.mspec, spec, exc)
            m = self.backend.generate(p.item, spec.generation, deadline=time.perf_counter() + spec.timeout_s, cancel=cancel, seed=seed)
            batch.add(p, self.backend, started, measurement=m)
            self.runner._record_model(self.state.run_id, self.mspec, self.backend, cold_ms=self.cold_ms)
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


@dataclass
class _RunState:
    run_id: str
    planned: int
    done: int
    ps_hash: str = ""
    executed: int = 0
    errors: int = 0
    message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


class _Batch:
    """Buffers finished samples; scores and writes them together, outside the timed region."""

    def __init__(self, runner: Runner, state: _RunState, spec: RunSpec, flush_every: int) -> None:
        self.runner = runner
        self.state = state
        self.spec = spec
        self.flush_every = max(1, flush_every)
        self.rows: list[dict] = []
        self.pending: list[tuple[dict, PromptItem, Measurement | None]] = []
        self.last_flush = time.monotonic()
        self.last_latency: float | None = None
        self.last_rss: float | None = None
        self.last_message: str | None = None
        self.other_cpu: float | None = None  # the machine load of the sample being added (core.measure.MachineLoad)
        self.errors = 0  # rows since the last flush that are not ok (cancelled included)
        self.done_rows = 0  # rows since the last flush with a stored outcome (ok, error, timeout)
        self.model_done_rows = 0  # ... since this model's loop began

    def _row(self, p: PlannedSample, backend: str, device: str | None, dtype: str | None, fallback: str | None) -> dict:
        return {
            "result_key": p.key,
            "run_id": self.state.run_id,
            "model": p.model,
            "model_version": p.model_version,
            "backend": backend,
            "prompt_set": self.spec.prompt_set,
            "prompt_set_hash": None,  # filled at flush
            "item_id": p.item.id,
            "category": p.item.category,
            "repeat": p.repeat,
            "seq": p.seq,
            "attempts": 1,
            "device": device,
            "dtype": dtype,
            "fallback": fallback,
        }

    def add(self, p: PlannedSample, backend, started, *, measurement: Measurement | None = None, status: str = "ok",  # noqa: ANN001
            error_kind: str | None = None, message: str | None = None, latency_ms: float | None = None, attempts: int = 1) -> None:
        row = self._row(p, backend.name, backend.device, backend.dtype, backend.fallback)
        row.update(status=status, error_kind=error_kind, error_message=message, attempts=attempts, started_at=started,
                   finished_at=now(), other_cpu=self.other_cpu)
        self.other_cpu = None
        if measurement is not None:
            row.update(
                latency_ms=measurement.latency_ms,
                ttft_ms=measurement.ttft_ms,
                decode_tps=measurement.decode_tps,
                input_tokens=measurement.input_tokens,
                output_tokens=measurement.output_tokens,
                token_source=measurement.token_source,
                peak_rss_mb=measurement.peak_rss_mb,
                peak_accel_mb=measurement.peak_accel_mb,
                mem_added_mb=measurement.mem_added_mb,
                output_text=measurement.text,
                attempts=measurement.attempts,
            )
            self.last_latency = measurement.latency_ms
            self.last_rss = measurement.peak_rss_mb
        else:
            row["latency_ms"] = latency_ms
            self.errors += 1
            self.last_message = message
        self.rows.append(row)
        self.pending.append((row, p.item, measurement))
        if status in DONE_STATUSES:
            self.done_rows += 1
            self.model_done_rows += 1

    def skip_all(self, todo: list[PlannedSample], kind: str, message: str, backend: str, device: str | None = None, dtype: str | None = None) -> None:
        for p in todo:
            row = self._row(p, backend, device, dtype, None)
            row.update(status="skipped", error_kind=kind, error_message=message, attempts=0, started_at=now(), finished_at=now())
            self.rows.append(row)
            self.pending.append((row, p.item, None))

    def maybe_flush(self) -> None:
        if len(self.rows) >= self.flush_every or time.monotonic() - self.last_flush > FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        from core.scoring import score_batch

        ok = [(row, item, m) for row, item, m in self.pending if m is not None]
        if ok:
            try:
                results = score_batch([m.text for _, _, m in ok], [item for _, item, _ in ok])
            except Exception as exc:  # noqa: BLE001 - a scorer failure must not lose measurements
                note = json.dumps({"_error": f"scoring failed: {type(exc).__name__}: {exc}"[:500]})
                for row, _, _ in ok:
                    row.update(quality=None, passed=None, scores=note)
            else:
                for (row, _, _), res in zip(ok, results, strict=True):
                    row.update(quality=res.quality, passed=res.passed, scores=json.dumps(res.scores))
        for row in self.rows:
            row["prompt_set_hash"] = self.state.ps_hash
        self.runner.store.append_samples(self.rows)
        for row in self.rows:
            self.state.counts[row["status"]] = self.state.counts.get(row["status"], 0) + 1
            if row["status"] in ("ok", "error", "timeout"):
                self.state.done += 1
                self.state.executed += 1
            if row["status"] != "ok":
                self.state.errors += 1
        self.rows, self.pending = [], []
        self.errors = self.done_rows = 0
        self.last_flush = time.monotonic()
