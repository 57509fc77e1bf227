"""Typed value objects shared by every part of the engine.

Everything here is plain data: no I/O, no torch, no streamlit. Prompt items are
pydantic models (they validate untrusted files); the rest are frozen dataclasses.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# --------------------------------------------------------------------------- prompts

SCORER_NAMES = (
    "exact_match",
    "contains",
    "regex",
    "token_f1",
    "rouge_l",
    "json_valid",
    "semantic",
    "judge",  # an LLM judge (core.judge): params model, rubric, scale, reference; checked by core.rubrics
)


class ScorerSpec(BaseModel):
    """One quality scorer applied to an item, with its weight in the composite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weight: float = Field(default=1.0, gt=0)
    # scorer parameters: regex -> {"pattern": ...}; json_valid -> {"schema": {...}};
    # judge -> {"model": ..., "rubric": ..., "scale": [0, 10], "reference": true}
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in SCORER_NAMES:
            raise ValueError(f"unknown scorer {v!r}; known scorers: {', '.join(SCORER_NAMES)}")
        return v


class PromptItem(BaseModel):
    """One prompt of a prompt set (a line of JSONL or a row of CSV)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1)
    system: str | None = None
    reference: str | None = None
    category: str = "general"
    scorers: tuple[ScorerSpec, ...] = ()
    max_new_tokens: int | None = Field(default=None, gt=0, le=8192)

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator("scorers", mode="before")
    @classmethod
    def _scorer_shorthand(cls, v: Any) -> Any:
        """Accept {"exact_match": 1.0, ...}, ["exact_match", ...] or a list of specs."""
        if v is None or v == "":
            return ()
        if isinstance(v, str):  # CSV cell: JSON text or "a,b" names
            v = v.strip()
            v = json.loads(v) if v[:1] in "[{" else [s.strip() for s in v.split(",") if s.strip()]
        if isinstance(v, dict):
            return tuple({"name": k, "weight": w} for k, w in v.items())
        if isinstance(v, list | tuple):
            return tuple({"name": s} if isinstance(s, str) else s for s in v)
        return v

    @model_validator(mode="after")
    def _default_scorer(self) -> PromptItem:
        if not self.scorers and self.reference is not None:
            object.__setattr__(self, "scorers", (ScorerSpec(name="exact_match"),))
        return self

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class PromptSet:
    name: str
    description: str
    items: tuple[PromptItem, ...]
    source: str = "bundled"  # "bundled" | "imported"

    @functools.cached_property  # items are immutable; limited() makes a new set (a new hash)
    def content_hash(self) -> str:
        """Version of the set: sha256 of the canonical JSON of its items (first 16 hex)."""
        payload = json.dumps([i.canonical() for i in self.items], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def limited(self, n: int | None) -> PromptSet:
        if n is None or n >= len(self.items):
            return self
        return dataclasses.replace(self, items=self.items[:n])

    @property
    def categories(self) -> list[str]:
        return sorted({i.category for i in self.items})


# --------------------------------------------------------------------------- models

ModelKind = Literal["local", "hf", "http"]


@dataclass(frozen=True)
class ModelSpec:
    """A catalog entry. `source` is a local directory or a Hugging Face id."""

    name: str
    source: str
    kind: ModelKind = "local"
    revision: str | None = None
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    device: str = "auto"  # auto | cpu | cuda | mps
    notes: str = ""
    bundled: bool = False
    # HTTP (OpenAI-compatible) entries
    base_url: str | None = None
    served_model: str | None = None
    endpoint: str = "chat"  # chat | completions
    api_key_env: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    request_timeout_s: float = 60.0
    max_concurrency: int = 1
    price_basis: dict[str, Any] = field(default_factory=dict)
    max_retries: int = 3  # HTTP: retries after the first attempt (429/503/5xx/connection/timeout)
    tokenizer: str | None = None  # HTTP: local dir or HF id used to count tokens when the server reports no usage

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 32
    temperature: float = 0.0  # 0 -> greedy
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class RunSpec:
    models: tuple[str, ...]
    prompt_set: str
    limit: int | None = None
    repeats: int = 1
    generation: GenerationParams = field(default_factory=GenerationParams)
    device: str = "auto"
    seed: int = 0
    memory_budget_gb: float | None = None
    timeout_s: float = 60.0
    max_consecutive_failures: int = 5
    batch_size: int = 1000  # most samples per store write; a batch is written at least every 5 s (core.runner)
    concurrency: int = 1  # requests in flight per HTTP model
    goodput_ttft_ms: float | None = None  # goodput limits (HTTP serving): a request is "good" within both
    goodput_latency_ms: float | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        data["models"] = tuple(data["models"])
        data["generation"] = GenerationParams(**data.get("generation", {}))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


SampleStatus = Literal["ok", "error", "timeout", "skipped", "cancelled"]

# error kinds stored on failed rows
ERROR_KINDS = (
    "oom",
    "timeout",
    "model_unavailable",
    "over_budget",
    "unsupported_op",
    "runtime",
    "circuit_open",
    "cancelled",
    "rate_limited",
    "connection",
    "server_error",
    "bad_request",
)


@dataclass(frozen=True)
class Measurement:
    """What one generation measured (the timed region's output)."""

    text: str
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    peak_rss_mb: float | None
    peak_accel_mb: float | None
    token_source: str = "tokenizer"  # tokenizer | server_usage | tokenizer_fallback | stream_chunks
    attempts: int = 1  # HTTP: requests sent for this sample (retries included)
    # peak memory the generation added above the level before it (KV cache, activations), MB:
    # accelerator memory on CUDA/MPS, RSS on CPU; None where not observable (HTTP)
    mem_added_mb: float | None = None

    @property
    def decode_tps(self) -> float | None:
        """(n - 1) / (total - TTFT): the decode rate after the first token."""
        if self.ttft_ms is None or self.output_tokens < 2:
            return None
        span = (self.latency_ms - self.ttft_ms) / 1000.0
        return (self.output_tokens - 1) / span if span > 0 else None


@dataclass(frozen=True)
class ScoreResult:
    quality: float | None  # composite 0..10, None when no scorer applied
    scores: dict[str, float]  # scorer name -> 0..1
    passed: bool | None


# Columns of the samples table, in order (the store and the exporters share this).
SAMPLE_COLUMNS = (
    "result_key",
    "run_id",
    "model",
    "model_version",
    "backend",
    "prompt_set",
    "prompt_set_hash",
    "item_id",
    "category",
    "repeat",
    "seq",
    "status",
    "error_kind",
    "error_message",
    "attempts",
    "latency_ms",
    "ttft_ms",
    "decode_tps",
    "input_tokens",
    "output_tokens",
    "token_source",
    "peak_rss_mb",
    "peak_accel_mb",
    "output_text",
    "quality",
    "passed",
    "scores",
    "device",
    "dtype",
    "fallback",
    "started_at",
    "finished_at",
    "other_cpu",  # CPU time of other processes on the measurement cores / the sample's wall time (cores)
    "mem_added_mb",  # peak memory the generation added above the level before it (Measurement.mem_added_mb)
)
