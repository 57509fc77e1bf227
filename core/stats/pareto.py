"""The Pareto front of models over several objectives (quality, latency, cost, memory)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ParetoPoint:
    model: str
    efficient: bool  # not dominated by any other model
    dominated_by: tuple[str, ...]


DEFAULT_OBJECTIVES: dict[str, Literal["max", "min"]] = {
    "quality": "max",
    "latency_ms": "min",
    "cost": "min",
    "memory_needed_mb": "min",  # model footprint + largest peak added per generation (core.analysis.memory_needed_mb)
}


def pareto_front(
    table: pd.DataFrame, objectives: Mapping[str, Literal["max", "min"]] | None = None, model_col: str = "model"
) -> tuple[ParetoPoint, ...]:
    """Non-dominated models over the objectives present in `table` (one row per model).

    A dominates B when A is at least as good on every objective and better on one. A missing
    value counts as the worst possible on that objective.
    """
    objs = {k: v for k, v in (objectives or DEFAULT_OBJECTIVES).items() if k in table.columns}
    if not objs:
        raise ValueError(f"none of the objectives {list(objectives or DEFAULT_OBJECTIVES)} are columns of the table")
    models = [str(m) for m in (table[model_col] if model_col in table.columns else table.index)]
    vals = np.column_stack(
        [pd.to_numeric(table[c], errors="coerce").to_numpy(float) * (1 if d == "max" else -1) for c, d in objs.items()]
    )
    vals = np.where(np.isfinite(vals), vals, -np.inf)
    ge = (vals[:, None, :] >= vals[None, :, :]).all(axis=2)
    gt = (vals[:, None, :] > vals[None, :, :]).any(axis=2)
    dom = ge & gt  # dom[i, j]: i dominates j
    return tuple(
        ParetoPoint(m, not dom[:, j].any(), tuple(models[i] for i in np.flatnonzero(dom[:, j]))) for j, m in enumerate(models)
    )
