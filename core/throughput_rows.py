"""A throughput sweep's stored rows (core.throughput, core.throughput_http): one per model and level."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LEVEL_KINDS = ("batch", "concurrency")  # level_kind: batch_size holds a batch size, or requests in flight


class SweepCancelled(RuntimeError):
    """The sweep was cancelled between two levels; the models finished before are stored."""


def level_row(run_id: str, model: str, kind: str, level: int, n: int, tokens: int, wall: float, latency_ms: float | None,
              ttft_ms: float | None, mem: float | None, outputs: Sequence[Any], reference: Sequence[Any]) -> dict:
    """One stored row: a model at one level (a batch size, or requests in flight)."""
    return {"run_id": run_id, "model": model, "batch_size": level, "level_kind": kind, "n_requests": n,
            "tokens_per_s": tokens / wall if wall > 0 else None, "requests_per_s": n / wall if wall > 0 else None,
            "latency_ms_mean": latency_ms, "ttft_ms": ttft_ms, "mem_added_mb": mem,
            "identical_to_b1": sum(a == r for a, r in zip(outputs, reference, strict=True)) / n if n else None}
