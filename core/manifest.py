"""The environment manifest stored with every run (versions, machine, accelerator, git)."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

import psutil

from core import config

PACKAGES = ("torch", "transformers", "duckdb", "pandas", "scipy", "mlflow", "streamlit", "sentence-transformers")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=config.ROOT, capture_output=True, text=True, timeout=2, check=False
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_manifest(accelerator: str | None = None) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 2),
        "accelerator": accelerator,
        "git_commit": _git_commit(),
        "load_average": list(psutil.getloadavg()) if hasattr(psutil, "getloadavg") else None,
    }


def measurement_settings(role: str, local_models: bool = True) -> dict[str, Any]:
    """How the executing process measures: its role (cli | worker), pid, the cores it may run on
    (CPU affinity; None where the OS has no affinity API) and torch's intra-op thread count."""
    import os

    from core.affinity import available_cores

    cores = available_cores()
    threads = None
    if local_models:  # local models need torch anyway; HTTP-only runs never import it
        import torch

        threads = torch.get_num_threads()
    return {"role": role, "pid": os.getpid(), "cores": cores, "torch_threads": threads,
            "cores_logical": psutil.cpu_count(logical=True)}
