"""Inference backends behind one small protocol, registered lazily by name.

A backend turns one prompt item into a Measurement (or raises); the runner owns
everything around it (planning, scoring, storage, progress). Heavy dependencies
(torch, transformers, openai) are imported only when a backend is used.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from core.measure import CancelToken
from core.schemas import GenerationParams, Measurement, PromptItem

REGISTRY: dict[str, str] = {
    "local": "core.backends.local:TransformersBackend",
    "hf": "core.backends.local:TransformersBackend",
    "http": "core.backends.http:OpenAIBackend",
}


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


def backend_class(kind: str) -> type:
    if kind not in REGISTRY:
        raise KeyError(f"no backend for model kind {kind!r}; known: {', '.join(REGISTRY)}")
    module, _, cls = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), cls)
