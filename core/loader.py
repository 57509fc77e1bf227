"""The cached, memory-budgeted model loader: one load per model per process.

Before loading, the footprint is estimated from the safetensors headers (parameters x
dtype bytes x headroom). Least recently used models are evicted to make room; a model
larger than the whole budget is refused with a clear message instead of exhausting
memory. The dashboard wraps one instance in st.cache_resource, so it is thread-safe.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from core import catalog, devices
from core.measure import rss_bytes
from core.schemas import ModelSpec


class OverBudgetError(RuntimeError):
    pass


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: object
    tokenizer: object
    device: str
    dtype: str
    version: str
    params: int
    weights_mb: float
    estimated_bytes: int
    load_time_s: float
    load_rss_mb: float  # RSS the load added: also one-time library imports, and mapped weights only once read
    load_accel_mb: float | None
    footprint_mb: float | None = None  # memory the loaded model holds (model_footprint: see there)
    fallback: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class LoadedInfo:
    name: str
    device: str
    dtype: str
    params: int
    estimated_mb: float
    load_time_s: float


class ModelLoader:
    def __init__(self, memory_budget_gb: float | None = None, device: str = "auto") -> None:
        self._device_pref = device
        self._budget_gb = memory_budget_gb
        self._cache: OrderedDict[tuple[str, str, str], LoadedModel] = OrderedDict()
        self._lock = threading.RLock()

    def budget(self, device: str | None = None) -> devices.Budget:
        return devices.default_budget(device or devices.resolve_device(self._device_pref), explicit_gb=self._budget_gb)

    @property
    def budget_gb(self) -> float | None:
        """The configured budget in GB (None: the device default)."""
        return self._budget_gb

    def set_budget(self, memory_budget_gb: float | None) -> None:
        with self._lock:
            self._budget_gb = memory_budget_gb

    def used_bytes(self) -> int:
        with self._lock:
            return sum(m.estimated_bytes for m in self._cache.values())

    def loaded(self) -> list[LoadedInfo]:
        with self._lock:
            return [
                LoadedInfo(m.spec.name, m.device, m.dtype, m.params, m.estimated_bytes / 2**20, m.load_time_s)
                for m in self._cache.values()
            ]

    def unload(self, name: str) -> bool:
        with self._lock:
            keys = [k for k in self._cache if k[0] == name]
            for k in keys:
                dev = self._cache.pop(k).device
                devices.free_memory(dev)
            return bool(keys)

    def get(self, spec: ModelSpec, device: str | None = None, dtype: str | None = None) -> LoadedModel:
        """The loaded model (from cache when present); loads, evicting LRU models to fit."""
        dev = devices.resolve_device(device or (spec.device if spec.device != "auto" else self._device_pref))
        dt = devices.resolve_dtype(dtype or spec.dtype, dev)
        key = (spec.name, dev, dt)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            need = catalog.estimate_bytes(spec, dt)
            budget = self.budget(dev)
            if need > budget.bytes:
                raise OverBudgetError(
                    f"model {spec.name!r} needs about {need / 1e9:.2f} GB ({dt} on {dev}), more than the whole memory "
                    f"budget of {budget.gb:.2f} GB ({budget.basis}); raise --memory-budget or choose a smaller dtype/model"
                )
            while self._cache and self.used_bytes() + need > budget.bytes:
                old_key, old = self._cache.popitem(last=False)
                devices.free_memory(old.device)
            loaded = self._load(spec, dev, dt, need)
            self._cache[key] = loaded
            return loaded

    def _load(self, spec: ModelSpec, device: str, dtype: str, need: int) -> LoadedModel:
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()

        path = catalog.resolve_path(spec)
        params, nbytes = catalog.weights_stats(spec)
        rss0 = rss_bytes()
        accel0 = devices.accel_memory_mb(device)
        t0 = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(
                path,
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
                dtype=devices.torch_dtype(dtype),
            )
        except OSError as exc:
            raise catalog.ModelUnavailableError(f"model {spec.name!r}: could not load from {path}: {exc}") from exc
        model.to(device)
        model.eval()
        devices.synchronize(device)
        load_time = time.perf_counter() - t0
        accel1 = devices.accel_memory_mb(device)
        load_accel = (accel1 - accel0) if accel1 is not None and accel0 is not None else None
        return LoadedModel(
            spec=spec,
            model=model,
            tokenizer=tokenizer,
            device=device,
            dtype=dtype,
            version=catalog.model_version(spec),
            params=params,
            weights_mb=nbytes / 2**20,
            estimated_bytes=need,
            load_time_s=load_time,
            load_rss_mb=(rss_bytes() - rss0) / 2**20,
            load_accel_mb=load_accel,
            footprint_mb=model_footprint_mb(model, load_accel),
        )


def model_footprint_mb(model: object, load_accel_mb: float | None = None) -> float:
    """The memory a loaded model holds, in MB, measured once at its load (a model the loader
    already holds keeps this figure for later runs).

    On CUDA/MPS: the accelerator memory its load added (the allocator's own count). On CPU: the
    bytes of its weights and buffers in memory, each storage counted once (tied weights share
    one). The RSS the load added (load_rss_mb) is no measure of the model on CPU: the first load
    in a process also pulls in library code (about 150 MB for a 2 MB model), weights mapped from
    a safetensors file count only once read, and memory freed by an evicted model is reused."""
    if load_accel_mb is not None:
        return max(0.0, load_accel_mb)
    seen: dict[tuple[str, int], int] = {}
    tensors = [*model.parameters(), *model.buffers()]  # type: ignore[attr-defined]
    for t in tensors:
        storage = t.untyped_storage()
        seen[(str(t.device), storage.data_ptr())] = storage.nbytes()
    return sum(seen.values()) / 2**20
