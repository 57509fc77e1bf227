"""Throughput sweep: per model, throughput and latency at several load levels.

Local models (transformers, in this process) are swept over batch sizes: the first `limit`
prompts are generated in batches (left padding, attention masks, do_sample=False) and timed as
a whole batch. HTTP (OpenAI-compatible) models are swept over requests in flight
(core.throughput_http): the same prompts sent with N requests in flight, greedy. Per level:

    tokens_per_s     generated tokens (each output up to and including its end token) / wall time
    requests_per_s   prompts / wall time
    latency_ms_mean  per request: local, the wall time of its batch (every request waits for its
                     batch); HTTP, the request's own latency
    ttft_ms          per request: local, its batch's first generated token, timed by a streamer
                     (core.measure.TokenClock); HTTP, the first streamed token of the request
    mem_added_mb     local: the largest peak one batch added (TokenClock); HTTP: NULL (remote)
    identical_to_b1  share of outputs identical to level 1's output for the same prompt (batching
                     and server-side batching may change numerics); level 1 always runs
    level_kind       'batch' (batch_size is a batch size) or 'concurrency' (requests in flight)

The sweep stores its rows with a run: by default a new run row (status 'completed', planned 0,
manifest kind 'throughput_sweep' with the plan under 'sweep'), 'running' in this process while it
measures so that other measurements on the database wait (core.jobs.measuring_elsewhere); or an
existing run's id. queue_sweep() stores the run 'queued' for the evaluation worker, which runs it
with run_queued() (the dashboard never measures).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from core import catalog, prompts, queries
from core.schemas import ModelSpec
from core.store import Store
from core.throughput_rows import SweepCancelled, level_row

MAX_BATCH = 1024
MAX_CONCURRENCY = 256
DEFAULT_LEVELS = (1, 2, 4, 8)
SWEEP_KIND = "throughput_sweep"  # the manifest kind of a sweep run


@dataclass(frozen=True)
class ThroughputResult:
    run_id: str
    rows: pd.DataFrame  # the stored rows (core.store.Store.THROUGHPUT_COLUMNS)
    notes: tuple[str, ...] = field(default=())

    def curve(self, model: str) -> pd.DataFrame:
        return self.rows[self.rows["model"] == model].sort_values(["level_kind", "batch_size"])


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep measures: local models at `batch_sizes`, HTTP models at `concurrency` levels."""

    models: tuple[str, ...]
    prompt_set: str
    batch_sizes: tuple[int, ...] = ()
    concurrency: tuple[int, ...] = ()
    limit: int = 16
    max_new_tokens: int = 16
    device: str = "cpu"
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepPlan:
        return cls(**{**d, **{k: tuple(d.get(k) or ()) for k in ("models", "batch_sizes", "concurrency")}})


def parse_levels(text: str | Sequence[int], what: str = "batch sizes", top: int = MAX_BATCH) -> tuple[int, ...]:
    """Levels from '1,2,4' (or a sequence), sorted and unique; ValueError on anything else."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        sizes = sorted({int(p) for p in parts if str(p) != ""})
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be whole numbers like 1,2,4, got {text!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > top:
        raise ValueError(f"{what} must be between 1 and {top}, got {text!r}")
    return tuple(sizes)


def parse_batch_sizes(text: str | Sequence[int]) -> tuple[int, ...]:
    """Batch sizes from '1,2,4' (or a sequence), sorted and unique; ValueError on anything else."""
    return parse_levels(text, "batch sizes", MAX_BATCH)


def parse_concurrency(text: str | Sequence[int]) -> tuple[int, ...]:
    """Requests in flight from '1,2,4' (or a sequence), sorted and unique; ValueError on anything else."""
    return parse_levels(text, "concurrency levels", MAX_CONCURRENCY)


def is_http(spec: ModelSpec) -> bool:
    return spec.kind == "http"


def plan_sweep(store: Store, models: Sequence[str], prompt_set: str, batch_sizes: Sequence[int] | str | None = None,
               concurrency: Sequence[int] | str | None = None, *, limit: int = 16, max_new_tokens: int = 16,
               device: str = "cpu", name: str = "") -> tuple[SweepPlan, tuple[str, ...]]:
    """The checked plan and its notes; ValueError / CatalogError / PromptSetError naming the problem."""
    models = tuple(dict.fromkeys(m.strip() for m in models if m.strip()))
    if not models:
        raise ValueError("no models given: pass --models A,B")
    if limit < 1 or max_new_tokens < 1:
        raise ValueError("--limit and --max-new-tokens must be at least 1")
    specs = {m: catalog.get_spec(m, store) for m in models}
    http = [m for m in models if is_http(specs[m])]
    local = [m for m in models if not is_http(specs[m])]
    given_b = batch_sizes not in (None, "", ())
    given_c = concurrency not in (None, "", ())
    if given_b and not local:
        raise ValueError(f"--batch-sizes applies to local models, and {', '.join(http)} "
                         f"{'is an HTTP model' if len(http) == 1 else 'are HTTP models'}: sweep served models with "
                         "--concurrency 1,2,4,8 (requests in flight)")
    if given_c and not http:
        raise ValueError(f"--concurrency applies to HTTP (served) models, and {', '.join(local)} "
                         f"{'is a local model' if len(local) == 1 else 'are local models'}: sweep local models with "
                         "--batch-sizes 1,2,4,8")
    notes = []
    sizes = _with_one(parse_batch_sizes(batch_sizes if given_b else DEFAULT_LEVELS), "batch size", notes) if local else ()
    flight = _with_one(parse_concurrency(concurrency if given_c else DEFAULT_LEVELS), "concurrency", notes) if http else ()
    for m in http:
        if flight[-1] > max(1, specs[m].max_concurrency):
            raise ValueError(f"model {m!r} allows at most {specs[m].max_concurrency} request(s) in flight (its catalog "
                             f"entry's max concurrency), but --concurrency asks for {flight[-1]}: lower --concurrency or "
                             "raise the entry's max concurrency (Models page)")
    full = prompts.get_set(prompt_set, store)
    if not full.limited(limit).items:
        raise ValueError(f"prompt set {prompt_set!r} has no items")
    return SweepPlan(models, full.name, sizes, flight, limit, max_new_tokens, device, name), tuple(notes)


def _with_one(levels: tuple[int, ...], what: str, notes: list[str]) -> tuple[int, ...]:
    if levels[0] == 1:
        return levels
    notes.append(f"{what} 1 added: it is the reference of identical_to_b1")
    return (1, *levels)


def sweep(store: Store, models: Sequence[str], prompt_set: str, batch_sizes: Sequence[int] | str | None = None, *,
          concurrency: Sequence[int] | str | None = None, limit: int = 16, max_new_tokens: int = 16,
          device: str = "cpu", loader: Any = None, run_id: str | None = None, name: str = "") -> ThroughputResult:
    """Sweep `batch_sizes` for each local model and `concurrency` for each HTTP model on the first
    `limit` prompts, in this process; store and return the rows.
    run_id: attach the rows to this existing run instead of creating a sweep run."""
    plan, notes = plan_sweep(store, models, prompt_set, batch_sizes, concurrency, limit=limit,
                             max_new_tokens=max_new_tokens, device=device, name=name)
    if run_id is not None:
        store.get_run(run_id)  # KeyError for an unknown run
        return replace(_measure(store, plan, run_id, loader, None, own_run=False), notes=notes)
    run_id = _create_run(store, plan, queued=False)
    return replace(_measure(store, plan, run_id, loader, None, own_run=True), notes=notes)


def queue_sweep(store: Store, models: Sequence[str], prompt_set: str, batch_sizes: Sequence[int] | str | None = None, *,
                concurrency: Sequence[int] | str | None = None, limit: int = 16, max_new_tokens: int = 16,
                device: str = "cpu", name: str = "") -> str:
    """Check the plan and store the sweep run 'queued' for the evaluation worker (imports no torch)."""
    plan, _ = plan_sweep(store, models, prompt_set, batch_sizes, concurrency, limit=limit,
                         max_new_tokens=max_new_tokens, device=device, name=name)
    return _create_run(store, plan, queued=True)


def is_sweep_run(manifest: dict[str, Any]) -> bool:
    """Whether a run row is a sweep job (the worker runs it with run_queued, not the runner)."""
    return manifest.get("kind") == SWEEP_KIND and isinstance(manifest.get("sweep"), dict)


def run_queued(store: Store, run_id: str, loader: Any = None, cancel: Any = None) -> ThroughputResult:
    """Execute a sweep run claimed by this process (status 'running'): models that already have rows
    (a resumed sweep) are skipped. Sets the run's final status; re-raises a failure."""
    plan = SweepPlan.from_dict(store.get_run(run_id).manifest["sweep"])
    if plan.batch_sizes:  # the worker names the device it measures on (the client did not import torch)
        from core import devices

        store.update_manifest(run_id, {"device": devices.resolve_device(plan.device),
                                       "accelerator": devices.accelerator_name()})
    return _measure(store, plan, run_id, loader, cancel, own_run=True)


def _create_run(store: Store, plan: SweepPlan, queued: bool) -> str:
    from core.manifest import environment_manifest
    from core.schemas import GenerationParams, RunSpec

    specs = {m: catalog.get_spec(m, store) for m in plan.models}
    full = prompts.get_set(plan.prompt_set, store)
    ps = full.limited(plan.limit)
    device = plan.device
    if not queued and plan.batch_sizes:  # local models: resolve now (this process measures)
        from core import devices

        device = devices.resolve_device(plan.device)
        plan = replace(plan, device=device)
    spec = RunSpec(models=plan.models, prompt_set=full.name, limit=plan.limit,
                   generation=GenerationParams(plan.max_new_tokens), device=device, name=plan.name or "throughput sweep")
    store.keep_prompt_set_version(full)
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    versions = {}
    for m, s in specs.items():
        try:
            versions[m] = catalog.model_version(s)
        except catalog.ModelUnavailableError:
            versions[m] = f"unavailable:{m}"
    accelerator = None
    if not queued and plan.batch_sizes:
        from core import devices

        accelerator = devices.accelerator_name()
    manifest = environment_manifest(accelerator)
    manifest.update(kind=SWEEP_KIND, sweep=plan.to_dict(), device=device, batch_sizes=list(plan.batch_sizes),
                    concurrency=list(plan.concurrency), generation=spec.to_dict()["generation"], prompt_set=ps.name,
                    prompt_set_hash=ps.content_hash, prompt_set_version=full.content_hash, n_items=len(ps.items),
                    model_versions=versions, models={n: json.loads(s.to_json()) for n, s in specs.items()})
    # 'running' in this process while it measures: other measurements on this database wait for it
    store.create_run(run_id, spec, ps, 0, manifest, None if queued else os.getpid(), status="queued" if queued else "running")
    return run_id


def _measure(store: Store, plan: SweepPlan, run_id: str, loader: Any, cancel: Any, own_run: bool) -> ThroughputResult:
    """Sweep each model in turn, storing its rows as it finishes; the run's status at the end when it is ours."""
    items = prompts.get_set(plan.prompt_set, store).limited(plan.limit).items
    done = set(queries.throughput(store, run_id)["model"]) if own_run else set()  # a resumed sweep: stored models
    rows: list[dict] = []
    try:
        for m in plan.models:
            if m in done:
                continue
            if cancel is not None and cancel.cancelled:
                raise SweepCancelled("cancelled")
            got = _sweep_one(store, plan, m, items, run_id, loader, cancel)
            store.append_throughput(got)
            rows.extend(got)
    except SweepCancelled:
        if own_run:
            store.set_run_status(run_id, "cancelled", f"throughput sweep cancelled; {len(done) + len({r['model'] for r in rows})}"
                                 f" of {len(plan.models)} model(s) stored")
        return ThroughputResult(run_id, _frame(rows))
    except BaseException as exc:
        if own_run:
            store.set_run_status(run_id, "failed", f"{type(exc).__name__}: {exc}"[:1000])
        raise
    if own_run:
        store.set_run_status(run_id, "completed", _summary(plan))
    return ThroughputResult(run_id, _frame(rows))


def _summary(plan: SweepPlan) -> str:
    parts = [f"throughput sweep: {len(plan.models)} model(s)"]
    if plan.batch_sizes:
        parts.append("batch sizes " + ",".join(map(str, plan.batch_sizes)))
    if plan.concurrency:
        parts.append("requests in flight " + ",".join(map(str, plan.concurrency)))
    return ", ".join(parts)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(Store.THROUGHPUT_COLUMNS))


def _sweep_one(store: Store, plan: SweepPlan, model: str, items: Sequence[Any], run_id: str, loader: Any,
               cancel: Any) -> list[dict]:
    spec = catalog.get_spec(model, store)
    if is_http(spec):
        from core.throughput_http import sweep_http

        return sweep_http(spec, items, plan.concurrency, plan.max_new_tokens, run_id, cancel=cancel)
    from core import devices
    from core.loader import ModelLoader

    dev = devices.resolve_device(plan.device)
    loader = loader or ModelLoader(device=dev)
    return _sweep_model(loader.get(spec, device=dev), items, plan.batch_sizes, plan.max_new_tokens, run_id, model, cancel)


def _sweep_model(loaded, items, sizes, max_new_tokens, run_id, model, cancel=None) -> list[dict]:  # noqa: ANN001
    import torch

    from core.backends.local import prompt_text

    tok, mdl = loaded.tokenizer, loaded.model
    texts = [prompt_text(tok, it) for it in items]
    special = texts[0][1]
    eos = mdl.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])

    rows, reference = [], None
    with loaded.lock, torch.inference_mode():
        _run_batch(loaded, [texts[0][0]], special, max_new_tokens, eos_ids)  # warm-up, not timed
        for b in sizes:
            if cancel is not None and cancel.cancelled:
                raise SweepCancelled("cancelled")
            outputs, wall, tokens, lat_sum, ttft_sum, mem = [], 0.0, 0, 0.0, 0.0, 0.0
            for i in range(0, len(texts), b):
                chunk = [t for t, _ in texts[i:i + b]]
                ids, w, ttft, added = _run_batch(loaded, chunk, special, max_new_tokens, eos_ids)
                outputs.extend(ids)
                wall += w
                tokens += sum(len(r) for r in ids)
                lat_sum += w * 1000.0 * len(chunk)
                ttft_sum += ttft * len(chunk)
                mem = max(mem, added)
            if reference is None:
                reference = outputs
            rows.append(level_row(run_id, model, "batch", b, len(outputs), tokens, wall, lat_sum / len(outputs),
                                  ttft_sum / len(outputs), mem, outputs, reference))
    return rows


def _run_batch(loaded, batch: list[str], special: bool, max_new_tokens: int, eos_ids: set[int]
               ) -> tuple[list[list[int]], float, float, float]:  # noqa: ANN001
    """One batch, left-padded, timed around generate only: (outputs, wall s, TTFT ms, memory added MB)."""
    from core import devices
    from core.measure import TokenClock

    tok, mdl, dev = loaded.tokenizer, loaded.model, loaded.device
    side, pad = tok.padding_side, tok.pad_token
    tok.padding_side = "left"  # the loader shares the tokenizer: restored below
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    try:
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=special)
        pad_id = tok.pad_token_id
    finally:
        tok.padding_side, tok.pad_token = side, pad
    enc = {k: v.to(dev) for k, v in enc.items()}  # input_ids and attention_mask
    clock = TokenClock(dev)
    clock.start()
    try:
        # ---- timed region: generate only ----
        out = mdl.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id, streamer=clock)
        devices.synchronize(dev)
        t_end = time.perf_counter()
        # ---- end of timed region ----
    finally:
        clock.stop()
    new = out[:, enc["input_ids"].shape[1]:].tolist()
    return [_until_eos(r, eos_ids) for r in new], t_end - clock.t0, clock.ttft_ms() or 0.0, clock.mem_added_mb()


def _until_eos(ids: list[int], eos_ids: set[int]) -> list[int]:
    """A generated row up to and including its first end token (what follows is padding)."""
    for k, t in enumerate(ids):
        if t in eos_ids:
            return ids[:k + 1]
    return ids
