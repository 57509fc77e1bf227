"""Energy a region of code used, measured: NVML (NVIDIA GPU) or Linux RAPL (CPU package).
The runner's local backend wraps a model's generation loop in it (core.backends.local); the
cost model reads the mean watts it recorded (run_models.power_w).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal


RAPL_ENERGY = Path("/sys/class/powercap/intel-rapl:0/energy_uj")


class PowerMeter:
    """Energy used over a region: NVML (NVIDIA GPU, if `pynvml` is importable) or Linux RAPL
    (CPU package). `stop()` returns joules, or None when nothing could be measured.

        meter = PowerMeter(); meter.start(); ...; joules = meter.stop()
    """

    def __init__(self, rapl_path: str | os.PathLike[str] = RAPL_ENERGY, gpu_index: int = 0) -> None:
        self._rapl = Path(rapl_path)
        self._gpu_index = gpu_index
        self._nvml = None
        self._start: float | None = None
        self.source: Literal["nvml", "rapl"] | None = self._detect()

    @property
    def available(self) -> bool:
        return self.source is not None

    def _detect(self) -> Literal["nvml", "rapl"] | None:
        try:
            import pynvml  # type: ignore[import-not-found]  # optional: not a dependency

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self._gpu_index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            self._nvml = (pynvml, handle)
            return "nvml"
        except Exception:  # noqa: BLE001 - any NVML failure means "not measurable"
            pass
        return "rapl" if self._read_rapl() is not None else None

    def _read_rapl(self) -> float | None:
        try:
            return float(self._rapl.read_text().strip())
        except (OSError, ValueError):
            return None

    def _rapl_range(self) -> float | None:
        try:
            return float((self._rapl.parent / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            return None

    def _read_joules(self) -> float | None:
        if self.source == "nvml" and self._nvml is not None:
            try:
                pynvml, handle = self._nvml
                return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0  # mJ -> J
            except Exception:  # noqa: BLE001
                return None
        if self.source == "rapl":
            uj = self._read_rapl()
            return None if uj is None else uj / 1e6
        return None

    def start(self) -> None:
        self._start = self._read_joules()

    def stop(self) -> float | None:
        end = self._read_joules()
        if self._start is None or end is None:
            return None
        used = end - self._start
        if used < 0 and self.source == "rapl":  # counter wrapped around
            rng = self._rapl_range()
            used = used + rng / 1e6 if rng else None  # type: ignore[assignment]
        self._start = None
        return None if used is None or used < 0 else used
