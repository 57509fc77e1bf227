"""Shared fixtures: hermetic stores in temporary folders, a shared loader, a real demo run."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LLM_EVAL_MLFLOW", "off")  # tests that need the mirror turn it on themselves
os.environ.setdefault("LLM_EVAL_ISOLATE", "0")  # the dashboard's step off the worker's cores (tested on its own)

from core import config  # noqa: E402

DEMO = ("demo-tiny", "demo-small", "demo-base")


def demo_available(name: str = "demo-tiny") -> bool:
    return (config.MODELS_DIR / name / "model.safetensors").is_file()


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "eval.duckdb"
    monkeypatch.setenv(config.ENV_DB, str(path))
    return path


@pytest.fixture
def store(db_path):
    from core.store import Store

    return Store(db_path)


@pytest.fixture(scope="session")
def loader():
    from core.loader import ModelLoader

    return ModelLoader(device="cpu")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, loader):
    """A real run of demo-tiny and demo-base on 30 demo-qa items, shared by read-only tests.

    Returns (db_path, run_id). Tests must not write to this store.
    """
    from core.runner import Runner
    from core.schemas import GenerationParams, RunSpec
    from core.store import Store

    path = tmp_path_factory.mktemp("demo_run") / "demo.duckdb"
    store = Store(path)
    spec = RunSpec(models=("demo-tiny", "demo-base"), prompt_set="demo-qa", limit=30, repeats=1,
                   generation=GenerationParams(max_new_tokens=16), device="cpu")
    runner = Runner(store, loader=loader)
    run_id = runner.create(spec)
    runner.execute(run_id)
    return path, run_id


@pytest.fixture(autouse=True)
def _stop_started_workers():
    """Workers a test's dashboard or client started (core.jobs.RunQueue) end with the test."""
    yield
    import signal
    import subprocess

    from core import jobs

    for proc in list(jobs._CHILDREN):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        jobs._CHILDREN.remove(proc)
