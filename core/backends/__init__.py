"""Inference backends behind one small protocol, registered lazily by name.

A backend turns one prompt item into a Measurement (or raises); the runner owns
everything around it (planning, scoring, storage, progress) and calls every backend
through the same hooks (core.backends.base); what differs between backends lives in
them. Heavy dependencies (torch, transformers, openai) are imported only when a
backend is used.
"""
from __future__ import annotations

import importlib

from core.backends.base import Backend, BackendBase, LoopMeter, ModelRun

__all__ = ["REGISTRY", "Backend", "BackendBase", "LoopMeter", "ModelRun", "backend_class", "runs_locally"]

REGISTRY: dict[str, str] = {
    "local": "core.backends.local:TransformersBackend",
    "hf": "core.backends.local:TransformersBackend",
    "http": "core.backends.http:OpenAIBackend",
}


def backend_class(kind: str) -> type[BackendBase]:
    if kind not in REGISTRY:
        raise KeyError(f"no backend for model kind {kind!r}; known: {', '.join(REGISTRY)}")
    module, _, cls = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), cls)


def runs_locally(kind: str | None) -> bool:
    """Whether a model of this kind runs in the evaluating process (an unknown kind: assumed so)."""
    return kind not in REGISTRY or backend_class(kind).runs_locally
