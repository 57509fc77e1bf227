"""A run while it runs: its plan (every model x item x repeat with its deterministic result key
and seed), the progress events the runner reports and the counts it keeps. Plain data; core.runner
fills it, core.model_loop and core.sample_batch update it, the worker and the CLI read the events."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from core.schemas import PromptItem, PromptSet, RunSpec
from core.store import result_key


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


@dataclass
class RunState:
    run_id: str
    planned: int
    done: int
    ps_hash: str = ""
    executed: int = 0
    errors: int = 0
    message: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
