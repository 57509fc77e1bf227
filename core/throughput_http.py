"""The HTTP half of the throughput sweep (core.throughput): an OpenAI-compatible served model at
several numbers of requests in flight.

At each level N the first `limit` prompts are sent through the HTTP backend (core.backends.http:
its client, retries, streaming and TTFT clock), greedy (temperature 0), from a pool of N threads
so that N requests are in flight until the last ones; the level's wall time runs from the first
request sent to the last answer received. Per request the backend's latency and TTFT (first
streamed token) are those of the attempt that succeeded. Level 1 always runs first: it is the
reference of identical_to_b1 (servers batch concurrent requests, which may change numerics).
Memory added is NULL: a remote model's memory is not observable.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.schemas import GenerationParams, Measurement, ModelSpec, PromptItem, RunSpec
from core.throughput_rows import SweepCancelled, level_row


class SweepRequestError(RuntimeError):
    """Requests of a level failed: the level's figures would describe a different load."""


def sweep_http(spec: ModelSpec, items: Sequence[PromptItem], levels: Sequence[int], max_new_tokens: int, run_id: str,
               *, cancel: Any = None, timeout_s: float = 120.0) -> list[dict]:
    """One row per level (core.throughput.level_row, level_kind 'concurrency') for one HTTP model."""
    from core.backends.http import OpenAIBackend

    params = GenerationParams(max_new_tokens, 0.0, 1.0)
    run_spec = RunSpec(models=(spec.name,), prompt_set="throughput sweep", limit=len(items), generation=params,
                       timeout_s=timeout_s)
    backend = OpenAIBackend(spec, run_spec)
    try:
        backend.warmup(items[0], params)  # untimed: connection set-up and a cold server land here
        rows, reference = [], None
        for n in levels:
            if cancel is not None and cancel.cancelled:
                raise SweepCancelled("cancelled")
            results, wall = _level(backend, items, params, n, timeout_s, cancel)
            texts = [m.text for m in results]
            if reference is None:
                reference = texts
            ttfts = [m.ttft_ms for m in results if m.ttft_ms is not None]
            rows.append(level_row(run_id, spec.name, "concurrency", n, len(results), sum(m.output_tokens or 0 for m in results),
                                  wall, sum(m.latency_ms for m in results) / len(results),
                                  sum(ttfts) / len(ttfts) if ttfts else None, None, texts, reference))
        return rows
    finally:
        backend.close()


def _level(backend: Any, items: Sequence[PromptItem], params: GenerationParams, n: int, timeout_s: float,
           cancel: Any) -> tuple[list[Measurement], float]:
    """Every item with n requests in flight: (measurements in item order, wall seconds)."""
    def one(item: PromptItem) -> Measurement:
        return backend.generate(item, params, deadline=time.perf_counter() + timeout_s, cancel=cancel, seed=None)

    with ThreadPoolExecutor(max_workers=n, thread_name_prefix=f"sweep-{backend.spec.name}") as pool:
        t0 = time.perf_counter()
        futures = [pool.submit(one, it) for it in items]
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result())
            except Exception as exc:  # noqa: BLE001 - reported below with the count
                outcomes.append(exc)
        wall = time.perf_counter() - t0
    if cancel is not None and cancel.cancelled:
        raise SweepCancelled("cancelled")
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        first = failed[0]
        detail = getattr(first, "message", None) or f"{type(first).__name__}: {first}"
        raise SweepRequestError(f"model {backend.spec.name!r}: {len(failed)} of {len(items)} requests failed with "
                                f"{n} in flight ({detail}); nothing stored for this model")
    return outcomes, wall
