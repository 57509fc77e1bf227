"""What every backend offers the runner: one small Protocol, and a base class with the hooks the
runner calls the same way for every backend, so that what differs between backends lives in them.

For one model the runner calls, in this order:

    backend = cls.open(mspec, run_spec, models)      # the model loaded, or a client for an endpoint
    cold_ms = backend.warmup(item, params)            # untimed
    backend = backend.prepare(ModelRun(...))          # before the first sample (may return a stand-in)
    meter = backend.start_meters()                    # what is measured over the whole loop
    for each sample: backend.generate(...)            # the timed region; failures -> classify_error()
    extra = meter.stop(seconds)                       # run_models columns (energy), before the flush
    extra = backend.finish()                          # run_models columns (serving statistics), after it

and records `model_columns()` (or `entry_columns(mspec)` when the model never opened) on the
model's run_models row.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.measure import CancelToken, classify_error
from core.schemas import GenerationParams, Measurement, ModelSpec, PromptItem, RunSpec


class Backend(Protocol):
    name: str
    device: str
    dtype: str
    fallback: str | None

    def warmup(self, item: PromptItem, params: GenerationParams) -> float:
        """One untimed generation; returns its latency in ms (the cold-start cost)."""

    def generate(
        self, item: PromptItem, params: GenerationParams, *, deadline: float, cancel: CancelToken | None, seed: int | None
    ) -> Measurement:
        """Run one prompt. Raises GenerationStopped on timeout/cancel, other exceptions on failure."""


@dataclass(frozen=True)
class ModelRun:
    """The samples one model is about to run, in plan order, as prepare() sees them."""

    items: Sequence[PromptItem]
    seeds: Sequence[int]
    spec: RunSpec
    cancel: CancelToken


class LoopMeter:
    """What a backend measures over a model's whole sample loop (not per sample); by default
    nothing (an HTTP model's server power is not ours to read)."""

    def stop(self, seconds: float) -> dict[str, Any] | None:
        """run_models columns measured over the loop's `seconds`, or None."""
        return None


class BackendBase:
    """The runner's hooks with what most backends do; a backend overrides what it does differently."""

    name = "backend"
    device = "cpu"
    dtype = "n/a"
    fallback: str | None = None
    endpoint: str | None = None  # where requests go (named in the circuit breaker's message); None: in process
    runs_locally = True  # the model runs in this process: the manifest records the device and measurement settings
    spec: ModelSpec

    @classmethod
    def open(cls, mspec: ModelSpec, run_spec: RunSpec, models: Callable[[], Any], device: str | None = None) -> BackendBase:
        """The backend for one catalog entry; `models()` gives the run's cached ModelLoader."""
        raise NotImplementedError

    @classmethod
    def entry_columns(cls, mspec: ModelSpec) -> dict[str, Any]:
        """run_models columns known from the catalog entry alone (also when the model never opened)."""
        return {}

    def model_columns(self) -> dict[str, Any]:
        """run_models columns of the opened model: backend, device, dtype, fallback (and what the backend adds)."""
        return {"backend": self.name, "device": self.device, "dtype": self.dtype, "fallback": self.fallback,
                **self.entry_columns(self.spec)}

    def prepare(self, run: ModelRun) -> BackendBase:
        """Called once before the first sample; returns what generates the samples (self, or a stand-in)."""
        return self

    def start_meters(self) -> LoopMeter:
        """Started right before the sample loop; stopped right after it, before the batch is stored."""
        return LoopMeter()

    def classify_error(self, exc: BaseException) -> str:
        """The error kind stored for a failed sample (core.measure.classify_error unless the backend knows better)."""
        return classify_error(exc)

    def finish(self) -> dict[str, Any] | None:
        """After the model's last sample is stored: release what the loop held; run_models columns, or None."""
        return None
