"""Local throughput sweep: batched greedy generation at several batch sizes, per local model.

For each model and batch size the first `limit` prompts of a set are generated in batches
(left padding, attention masks, do_sample=False) and timed as a whole batch:

    tokens_per_s     generated tokens (each output up to and including its end token) / wall time
    requests_per_s   prompts / wall time
    latency_ms_mean  per request: the wall time of its batch (every request waits for its batch)
    ttft_ms          per request: its batch's first generated token, timed by a streamer
                     (core.measure.TokenClock, the same clock a run uses)
    mem_added_mb     the largest peak one batch added above the level at its start (TokenClock)
    identical_to_b1  share of outputs token-identical to batch size 1's output for the same prompt
                     (batching may change numerics: padding, kernels); batch size 1 always runs

The sweep stores its rows with a run: by default a new run row (status 'completed', planned 0,
manifest kind 'throughput_sweep'), 'running' in this process while it measures so that other
measurements on the database wait (core.jobs.measuring_elsewhere); or an existing run's id.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from core import catalog, devices, prompts
from core.loader import ModelLoader
from core.store import Store

MAX_BATCH = 1024


@dataclass(frozen=True)
class ThroughputResult:
    run_id: str
    rows: pd.DataFrame  # the stored rows (core.store.Store.THROUGHPUT_COLUMNS)
    notes: tuple[str, ...] = field(default=())

    def curve(self, model: str) -> pd.DataFrame:
        return self.rows[self.rows["model"] == model].sort_values("batch_size")


def parse_batch_sizes(text: str | Sequence[int]) -> tuple[int, ...]:
    """Batch sizes from '1,2,4' (or a sequence), sorted and unique; ValueError on anything else."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        sizes = sorted({int(p) for p in parts if str(p) != ""})
    except (TypeError, ValueError):
        raise ValueError(f"batch sizes must be whole numbers like 1,2,4, got {text!r}") from None
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_BATCH:
        raise ValueError(f"batch sizes must be between 1 and {MAX_BATCH}, got {text!r}")
    return tuple(sizes)


def sweep(store: Store, models: Sequence[str], prompt_set: str, batch_sizes: Sequence[int] | str, *,
          limit: int = 16, max_new_tokens: int = 16, device: str = "cpu", loader: ModelLoader | None = None,
          run_id: str | None = None, name: str = "") -> ThroughputResult:
    """Sweep `batch_sizes` for each local model on the first `limit` prompts; store and return the rows.
    run_id: attach the rows to this existing run instead of creating a sweep run."""
    sizes = parse_batch_sizes(batch_sizes)
    notes = []
    if sizes[0] != 1:
        sizes = (1, *sizes)
        notes.append("batch size 1 added: it is the reference of identical_to_b1")
    models = tuple(m.strip() for m in models if m.strip())
    if not models:
        raise ValueError("no models given: pass --models A,B")
    if limit < 1 or max_new_tokens < 1:
        raise ValueError("--limit and --max-new-tokens must be at least 1")
    specs = {m: catalog.get_spec(m, store) for m in models}
    for m, s in specs.items():
        if s.kind != "local":
            raise ValueError(f"model {m!r} is {s.kind!r}: the throughput sweep runs local (transformers) models only")
    full = prompts.get_set(prompt_set, store)
    ps = full.limited(limit)
    if not ps.items:
        raise ValueError(f"prompt set {prompt_set!r} has no items")
    loader = loader or ModelLoader(device=device)
    dev = devices.resolve_device(device)
    own_run = run_id is None
    if own_run:
        run_id = _create_run(store, full, ps, models, sizes, limit, max_new_tokens, dev, specs, name)
    else:
        store.get_run(run_id)  # KeyError for an unknown run
    rows: list[dict] = []
    try:
        for m in models:
            rows.extend(_sweep_model(loader.get(specs[m], device=dev), ps.items, sizes, max_new_tokens, run_id, m))
        store.append_throughput(rows)
    except BaseException as exc:
        if own_run:
            store.set_run_status(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    if own_run:
        store.set_run_status(run_id, "completed", f"throughput sweep: {len(models)} model(s), batch sizes "
                             + ",".join(map(str, sizes)))
    return ThroughputResult(run_id, pd.DataFrame(rows, columns=list(Store.THROUGHPUT_COLUMNS)), tuple(notes))


def _create_run(store, full, ps, models, sizes, limit, max_new_tokens, dev, specs, name) -> str:  # noqa: ANN001
    import json

    from core.manifest import environment_manifest
    from core.schemas import GenerationParams, RunSpec

    spec = RunSpec(models=models, prompt_set=full.name, limit=limit, generation=GenerationParams(max_new_tokens),
                   device=dev, name=name or "throughput sweep")
    store.keep_prompt_set_version(full)
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    manifest = environment_manifest(devices.accelerator_name())
    manifest.update(kind="throughput_sweep", device=dev, batch_sizes=list(sizes), generation=spec.to_dict()["generation"],
                    prompt_set=ps.name, prompt_set_hash=ps.content_hash, prompt_set_version=full.content_hash,
                    n_items=len(ps.items), model_versions={m: catalog.model_version(s) for m, s in specs.items()},
                    models={n: json.loads(s.to_json()) for n, s in specs.items()})
    # 'running' in this process while it measures: other measurements on this database wait for it
    store.create_run(run_id, spec, ps, 0, manifest, os.getpid(), status="running")
    return run_id


def _sweep_model(loaded, items, sizes, max_new_tokens, run_id, model) -> list[dict]:  # noqa: ANN001
    import torch

    from core.backends.local import prompt_text
    from core.measure import TokenClock

    tok, mdl, dev = loaded.tokenizer, loaded.model, loaded.device
    texts = [prompt_text(tok, it) for it in items]
    special = texts[0][1]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos = mdl.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)

    def run_batch(batch: list[str]) -> tuple[list[list[int]], float, float, float]:
        side, pad = tok.padding_side, tok.pad_token
        tok.padding_side = "left"  # the loader shares the tokenizer: restored below
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        try:
            enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=special)
        finally:
            tok.padding_side, tok.pad_token = side, pad
        enc = {k: v.to(dev) for k, v in enc.items()}  # input_ids and attention_mask
        clock = TokenClock(dev)
        clock.start()
        try:
            # ---- timed region: generate only ----
            out = mdl.generate(**enc, **kwargs, streamer=clock)
            devices.synchronize(dev)
            t_end = time.perf_counter()
            # ---- end of timed region ----
        finally:
            clock.stop()
        new = out[:, enc["input_ids"].shape[1]:].tolist()
        return [_until_eos(r, eos_ids) for r in new], t_end - clock.t0, clock.ttft_ms() or 0.0, clock.mem_added_mb()

    rows, reference = [], None
    with loaded.lock, torch.inference_mode():
        run_batch([texts[0][0]])  # warm-up, not timed: first-call costs would land on batch size 1
        for b in sizes:
            outputs, wall, tokens, lat_sum, ttft_sum, mem = [], 0.0, 0, 0.0, 0.0, 0.0
            for i in range(0, len(texts), b):
                chunk = [t for t, _ in texts[i:i + b]]
                ids, w, ttft, added = run_batch(chunk)
                outputs.extend(ids)
                wall += w
                tokens += sum(len(r) for r in ids)
                lat_sum += w * 1000.0 * len(chunk)
                ttft_sum += ttft * len(chunk)
                mem = max(mem, added)
            if reference is None:
                reference = outputs
            n = len(outputs)
            rows.append({"run_id": run_id, "model": model, "batch_size": b, "n_requests": n,
                         "tokens_per_s": tokens / wall if wall > 0 else None,
                         "requests_per_s": n / wall if wall > 0 else None,
                         "latency_ms_mean": lat_sum / n, "ttft_ms": ttft_sum / n, "mem_added_mb": mem,
                         "identical_to_b1": sum(a == r for a, r in zip(outputs, reference, strict=True)) / n})
    return rows


def _until_eos(ids: list[int], eos_ids: set[int]) -> list[int]:
    """A generated row up to and including its first end token (what follows is padding)."""
    for k, t in enumerate(ids):
        if t in eos_ids:
            return ids[:k + 1]
    return ids
