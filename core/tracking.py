"""Experiment tracking hooks run after each evaluation run (MLflow mirror: see issue 5)."""
from __future__ import annotations


def after_run_hooks() -> list:
    return []
