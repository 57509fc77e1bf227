"""Paths, limits and environment settings shared by the CLI and the dashboard."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
RUNTIME_DIR = DATA_DIR / "runtime"  # git-ignored: DuckDB file, MLflow store
MODELS_DIR = DATA_DIR / "models"
PROMPT_SETS_DIR = DATA_DIR / "prompt_sets"
CATALOG_FILE = DATA_DIR / "models.yaml"
PRICING_FILE = DATA_DIR / "pricing.yaml"

# Prompt-set limits (the dashboard's upload limit matches MAX_PROMPT_FILE_MB).
MAX_PROMPT_FILE_MB = 10
MAX_PROMPT_ITEMS = 10_000

ENV_DB = "LLM_EVAL_DB"


def db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The results store: --db PATH, else $LLM_EVAL_DB, else data/runtime/llm_eval.duckdb."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser().resolve()
    return RUNTIME_DIR / "llm_eval.duckdb"
