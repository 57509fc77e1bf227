"""The measured run: plan result keys, skip what is stored, generate, score, store, report.

    run_id = Runner(store).create(spec)   # plan + manifest + run row
    result = Runner(store).execute(run_id)  # also used by resume

Inside the timed region there is only backend.generate(); scoring, storage and progress
events happen between samples, in batches. The pieces: core.run_state (the plan, progress
events, counts), core.model_loop (one model's timed sample loop), core.sample_batch (rows
scored and written together); ProgressEvent and plan are importable from here too.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from core import catalog, devices, prompts
from core.backends import BackendBase, ModelRun, backend_class, runs_locally
from core.loader import ModelLoader, OverBudgetError
from core.manifest import environment_manifest
from core.manifest import measurement_settings
from core.measure import CancelToken
from core.model_loop import ModelLoop
from core.run_state import PlannedSample, ProgressEvent, RunState, plan, sample_seed
from core.sample_batch import SampleBatch
from core.schemas import ModelSpec, PromptSet, RunSpec
from core.store import Store


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str
    planned: int
    stored: int
    executed: int
    counts: dict[str, int] = field(default_factory=dict)


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
        from core.judging import check_judges

        check_judges(full, specs, self.store)  # an unknown judge, or one grading itself: refused before anything runs
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
        state = RunState(run_id=run_id, planned=len(planned), done=len(done & {p.key for p in planned}), ps_hash=ps.content_hash)
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
                if not (self.cancel.cancelled or self.interrupt.cancelled):
                    self._judge(run_id, spec, model, ps, state)
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

    def _run_model(self, spec: RunSpec, model: str, todo: list[PlannedSample], state: RunState, model_total: int) -> None:
        """One model's samples: open and warm its backend, run the sample loop, store what the backend measured."""
        mspec = catalog.get_spec(model, self.store)
        batch = SampleBatch(self.store, state, spec, flush_every=spec.batch_size)
        model_done = model_total - len(todo)
        self.on_event(ProgressEvent(state.run_id, "loading", model, state.done, state.planned, model_done, model_total))
        opened = self._open_model(mspec, spec, todo, batch, state)
        if opened is None:
            return
        backend, cold_ms = opened
        self.record_model(state.run_id, mspec, backend, cold_ms=cold_ms)
        seeds = [sample_seed(spec.seed, p.item.id, p.repeat) for p in todo]
        # HTTP: N requests in flight; local: tokenise up front, not between samples
        backend = backend.prepare(ModelRun([p.item for p in todo], seeds, spec, self.cancel))
        loop = ModelLoop(self, mspec, spec, state, batch, backend, cold_ms, model_done, model_total)
        meter = backend.start_meters()  # energy of the whole generation loop (not per sample)
        t_model = time.perf_counter()
        loop.run(todo, seeds, t_model)
        measured = meter.stop(time.perf_counter() - t_model)
        batch.flush()
        if measured:
            self.record_model(state.run_id, mspec, loop.backend, cold_ms=cold_ms, extra=measured)
        served = loop.backend.finish()  # HTTP: close the pool, store throughput and goodput
        if served:
            self.record_model(state.run_id, mspec, loop.backend, cold_ms=cold_ms, extra=served)
        finished = model_done + batch.model_done_rows
        self.on_event(ProgressEvent(state.run_id, "model_done", model, state.done, state.planned, finished, model_total,
                                    errors=state.errors, status="completed" if finished >= model_total else "stopped"))

    def _judge(self, run_id: str, spec: RunSpec, model: str, ps: PromptSet, state: RunState) -> None:
        """The model's LLM-judge scores (core.judging), after its generation and outside every timed region;
        a judge that fails leaves its judgements pending (`python -m core judge RUN_ID` resumes them)."""
        from core.judging import judge_models, judge_run

        if not judge_models(ps):
            return
        try:
            device = self.store.get_run(run_id).manifest.get("device") or "cpu"
            judge_run(self.store, run_id, models=[model], loader=self._models(spec),
                      device=device if device != "auto" else "cpu")
        except Exception as exc:  # noqa: BLE001 - judging never loses the run's measurements
            state.message = (f"{model}: judging stopped ({type(exc).__name__}: {exc}); "
                             f"resume it with `python -m core judge {run_id}`")[:1000]

    def _open_model(self, mspec: ModelSpec, spec: RunSpec, todo: list[PlannedSample], batch: SampleBatch,
                    state: RunState) -> tuple[BackendBase, float] | None:
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
            self.record_model(state.run_id, mspec, None, status=kind, message=str(exc))
            self.on_event(ProgressEvent(state.run_id, "model_failed", model, state.done, state.planned, message=str(exc)))
            return None

    def fallback_to_cpu(self, mspec: ModelSpec, spec: RunSpec, exc: Exception) -> BackendBase:
        backend = self._backend(mspec, spec, device="cpu")
        backend.fallback = f"mps->cpu: {str(exc)[:200]}"
        return backend

    def record_model(self, run_id: str, mspec: ModelSpec, backend: BackendBase | None, cold_ms: float | None = None,
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


