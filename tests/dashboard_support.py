"""Shared set-up for the dashboard tests (test_jobs, test_app, test_browser).

The tests use the bundled demo models and the demo-qa prompt set. In a checkout where
the demo models have not been trained yet (scripts/train_demo_models.py), untrained
models of the same architecture and tokenizer are built once in a temporary folder and
registered under dev-* names, so the dashboard can still be exercised end to end.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core import catalog, config, prompts
from core.runner import Runner
from core.schemas import GenerationParams, RunSpec
from core.store import Store

DEMO_MODELS = ("demo-tiny", "demo-small", "demo-base")
DEMO_SET = "demo-qa"
DEV_DIR = Path(tempfile.gettempdir()) / "llm-eval-dev-models"
_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class Setup:
    store: Store
    models: tuple[str, ...]  # tiny, small, base
    prompt_set: str

    @property
    def tiny(self) -> str:
        return self.models[0]


def demo_models_trained() -> bool:
    return all((config.MODELS_DIR / m / "model.safetensors").is_file() for m in DEMO_MODELS)


def _build_dev_models() -> Path:
    """Untrained demo-architecture models + demo-qa, built once per machine (about 15 s)."""
    with _BUILD_LOCK:
        done = DEV_DIR / "ready"
        if done.exists():
            return DEV_DIR
        sys.path.insert(0, str(config.ROOT / "scripts"))
        import torch
        import train_demo_models as t

        torch.manual_seed(0)
        train, test = t.build_data()
        t.write_prompt_set(t.test_records(test), DEV_DIR / "prompt_sets")
        tok = t.train_tokenizer(train)
        for plan in t.PLANS:
            t.save_model(t.build_model(plan, tok), tok, plan, DEV_DIR / "models" / plan.name)
        done.write_text("ok")
        return DEV_DIR


def prepare(db_path: str | Path) -> Setup:
    """A store at db_path in which the three demo models and demo-qa can run."""
    store = Store(db_path)
    bundled = prompts.bundled_sets()
    if demo_models_trained() and DEMO_SET in bundled:
        return Setup(store, DEMO_MODELS, DEMO_SET)
    dev = _build_dev_models()
    names = []
    for m in DEMO_MODELS:
        if (config.MODELS_DIR / m / "model.safetensors").is_file():
            names.append(m)
            continue
        name = m.replace("demo-", "dev-")
        catalog.add_model(store, catalog.make_spec(name, str(dev / "models" / m), notes="untrained test stand-in"))
        names.append(name)
    if DEMO_SET not in bundled:
        prompts.import_set(store, dev / "prompt_sets" / f"{DEMO_SET}.jsonl", DEMO_SET)
    return Setup(store, tuple(names), DEMO_SET)


def small_spec(setup: Setup, models: tuple[str, ...] | None = None, limit: int = 3, repeats: int = 1,
               max_new_tokens: int = 8, name: str = "") -> RunSpec:
    return RunSpec(
        models=models or (setup.tiny,),
        prompt_set=setup.prompt_set,
        limit=limit,
        repeats=repeats,
        generation=GenerationParams(max_new_tokens=max_new_tokens),
        device="cpu",
        name=name,
    )


def populate(setup: Setup, limit: int = 4) -> str:
    """A real, completed run of two demo models; returns its run id."""
    runner = Runner(setup.store)
    run_id = runner.create(small_spec(setup, models=setup.models[:2], limit=limit, name="populated"))
    runner.execute(run_id)
    return run_id
