"""Device and dtype selection, synchronisation and memory probes (MPS, CUDA, CPU)."""
from __future__ import annotations

from dataclasses import dataclass

import psutil

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def _torch():
    import torch

    return torch


def mps_available() -> bool:
    torch = _torch()
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(pref: str = "auto") -> str:
    """auto picks MPS, then CUDA, then CPU; an explicit device must exist."""
    torch = _torch()
    pref = (pref or "auto").lower()
    if pref == "auto":
        if mps_available():
            return "mps"
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    if pref == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA device is available; use --device auto or cpu")
    if pref == "mps" and not mps_available():
        raise ValueError("device 'mps' requested but MPS is not available; use --device auto or cpu")
    if pref not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {pref!r}: use auto, cpu, cuda or mps")
    return pref


def resolve_dtype(pref: str, device: str) -> str:
    """dtype auto: float16 on MPS/CUDA, float32 on CPU."""
    if pref in (None, "", "auto"):
        return "float32" if device == "cpu" else "float16"
    if pref not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {pref!r}: use auto, float32, float16 or bfloat16")
    return pref


def torch_dtype(name: str):
    return getattr(_torch(), name)


def synchronize(device: str) -> None:
    """Wait for queued device work before a clock is read."""
    if device == "cuda":
        _torch().cuda.synchronize()
    elif device == "mps":
        _torch().mps.synchronize()


def accel_memory_mb(device: str) -> float | None:
    torch = _torch()
    if device == "cuda":
        return torch.cuda.memory_allocated() / 2**20
    if device == "mps":
        return torch.mps.current_allocated_memory() / 2**20
    return None


def reset_accel_peak(device: str) -> None:
    if device == "cuda":
        _torch().cuda.reset_peak_memory_stats()


def accel_peak_mb(device: str) -> float | None:
    if device == "cuda":
        return _torch().cuda.max_memory_allocated() / 2**20
    return None


def free_memory(device: str) -> None:
    import gc

    gc.collect()
    torch = _torch()
    if device == "cuda":
        torch.cuda.empty_cache()
    elif device == "mps":
        torch.mps.empty_cache()


@dataclass(frozen=True)
class Budget:
    bytes: int
    basis: str

    @property
    def gb(self) -> float:
        return self.bytes / 1e9


def default_budget(device: str, fraction: float = 0.6, explicit_gb: float | None = None) -> Budget:
    """Memory budget for loaded models: --memory-budget, else a fraction of what the device offers."""
    if explicit_gb is not None:
        if explicit_gb <= 0:
            raise ValueError("--memory-budget must be a positive number of GB")
        return Budget(int(explicit_gb * 1e9), f"configured {explicit_gb:g} GB")
    if device == "mps":
        rec = _torch().mps.recommended_max_memory()
        return Budget(int(rec * 0.9), "90% of MPS recommended maximum")
    if device == "cuda":
        total = _torch().cuda.get_device_properties(0).total_memory
        return Budget(int(total * 0.9), "90% of CUDA device memory")
    # CPU (or anything else): system memory, without importing torch
    total = psutil.virtual_memory().total
    return Budget(int(total * fraction), f"{fraction:.0%} of system memory")


def accelerator_name() -> str | None:
    torch = _torch()
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    if mps_available():
        return "Apple MPS"
    return None
