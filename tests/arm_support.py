"""Runs with chosen per-prompt values on real stored prompt-set versions, for arms and gate tests."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from core.schemas import SAMPLE_COLUMNS, PromptItem, PromptSet, RunSpec
from core.store import Store


def prompt_set(store: Store, name: str, ids: Sequence[str], changed: Sequence[str] = ()) -> PromptSet:
    """A prompt set version saved in the store; items in `changed` get another prompt text."""
    items = tuple(PromptItem(id=i, prompt=f"Question {i}{' (reworded)' if i in changed else ''}?", reference="4")
                  for i in ids)
    ps = PromptSet(name, "test set", items, source="imported")
    store.save_prompt_set(ps)
    return ps


def make_run(store: Store, run_id: str, ps: PromptSet, models: Mapping[str, Mapping[str, Sequence[float]]],
             failed: Mapping[str, Sequence[bool]] | None = None) -> str:
    """A completed run of `ps`: per model, per-prompt values (one request per prompt) for
    latency_ms, quality (0-10) and passed (0/1); `failed` marks requests that errored."""
    names = tuple(models)
    store.create_run(run_id, RunSpec(models=names, prompt_set=ps.name, repeats=1, name=run_id), ps,
                     len(names) * len(ps.items), {"prompt_set_version": ps.content_hash}, os.getpid())
    frames = []
    for k, (m, vals) in enumerate(models.items()):
        n = len(ps.items)
        lat = np.asarray(vals.get("latency_ms", np.full(n, 200.0)), float)
        q = np.asarray(vals.get("quality", np.full(n, 6.0)), float)
        bad = np.asarray((failed or {}).get(m, np.zeros(n, bool)), bool)
        df = pd.DataFrame({
            "result_key": [f"{run_id}-{m}-{i}" for i in range(n)], "run_id": run_id, "model": m, "model_version": "v1",
            "backend": "synthetic", "prompt_set": ps.name, "prompt_set_hash": ps.content_hash,
            "item_id": [it.id for it in ps.items], "category": "general", "repeat": 0, "seq": np.arange(n) + k * n,
            "status": np.where(bad, "error", "ok"), "error_kind": np.where(bad, "runtime", None),
            "error_message": np.where(bad, "synthetic failure", None), "attempts": 1,
            "latency_ms": lat, "ttft_ms": lat / 10, "decode_tps": 20.0, "input_tokens": 10, "output_tokens": 5,
            "token_source": "tokenizer", "peak_rss_mb": 500.0, "peak_accel_mb": None, "output_text": "answer",
            "quality": q, "passed": np.asarray(vals.get("passed", q >= 5), float) > 0.5,
            "scores": json.dumps({"exact_match": 1.0}), "device": "cpu", "dtype": "float32", "fallback": None,
            "started_at": None, "finished_at": None,
        })
        for col in ("latency_ms", "ttft_ms", "decode_tps", "quality", "passed"):
            df[col] = df[col].astype(object).where(~bad, None)
        frames.append(df.reindex(columns=list(SAMPLE_COLUMNS)))
        store.upsert_run_model({"run_id": run_id, "model": m, "model_version": "v1", "backend": "synthetic",
                                "cold_latency_ms": 300.0, "device": "cpu", "dtype": "float32", "status": "ok"})
    store.append_samples(pd.concat(frames, ignore_index=True))
    store.set_run_status(run_id, "completed")
    return run_id
