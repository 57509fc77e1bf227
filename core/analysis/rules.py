"""The rules that pick models, written once: the baseline a comparison is made against, the
best-quality model, and the Pareto objectives (quality up; latency, cost, memory down).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

import core.analysis.costs as C
from core.analysis.cost_context import CostContext, cost_context
from core.analysis.kpis import KpiTable, memory_needed_mb
from core.analysis.to_json import finite, or_nan
from core.stats import pareto_front


BaselineSource = Literal["argument", "champion", "best quality", "all pairs"]


def choose_baseline(run_id: str, present: Sequence[str], baseline: str | None, champion: str | None,
                    best: str | None = None) -> tuple[str | None, BaselineSource]:
    """The model every other is compared with: the explicit baseline (ValueError when it has no
    successful requests here), else the champion (Models page) when it has results here, else
    `best` (the best-quality model, best_quality) when given and present, else None: all pairs."""
    if baseline is not None:
        if baseline not in present:
            raise ValueError(f"baseline {baseline!r} has no successful requests in run {run_id}; "
                             f"models: {', '.join(present) or 'none'}")
        return baseline, "argument"
    if champion in present:
        return champion, "champion"
    if best is not None and best in present:
        return best, "best quality"
    return None, "all pairs"


def best_quality(quality: Mapping[str, float | None], latency: Mapping[str, float | None]) -> str | None:
    """The model with the best mean quality, a tie going to the lower median latency (a missing
    latency loses); None when no model has a quality score. Models in the order of `quality`."""
    scored = [m for m, q in quality.items() if q is not None]
    return max(scored, key=lambda m: (quality[m], -(lat if (lat := latency.get(m)) is not None else math.inf)),
               default=None)


PARETO_COLUMNS = ("model", "quality", "latency_ms", "cost", "memory_needed_mb")  # the objectives (core.stats.pareto)


def kpi_pareto(table: KpiTable, models: Sequence[str]) -> tuple[pd.DataFrame, dict[str, bool]]:
    """The Pareto objectives per model from a KPI table (for when the pairwise tests are not
    computed): mean quality, median latency, local cost per request, memory needed; with the
    efficient flag per model. The same objectives as pareto_table."""
    rows = [{"model": m, "quality": table.value(m, "quality_mean"), "latency_ms": table.value(m, "latency_ms_p50"),
             "cost": table.value(m, "local_cost_per_request"), "memory_needed_mb": table.value(m, "memory_needed_mb")}
            for m in models if m in table.models and (table.value(m, "ok") or 0) > 0]
    frame = pd.DataFrame(rows, columns=list(PARETO_COLUMNS))
    return frame, efficient(frame)


def efficient(frame: pd.DataFrame) -> dict[str, bool]:
    """model -> Pareto-efficient, for a frame of PARETO_COLUMNS (more columns are context)."""
    return {p.model: p.efficient for p in pareto_front(frame)} if not frame.empty else {}


def pareto_table(agg: pd.DataFrame, models: Sequence[str], settings: C.CostSettings,
                  measured_watts: Mapping[str, float] | None = None,
                  price_bases: Mapping[str, Mapping[str, Any]] | None = None,
                  ctx: CostContext | None = None, footprints: Mapping[str, float | None] | None = None) -> pd.DataFrame:
    """Objectives per model (point estimates): mean quality, median latency, local cost per
    request, memory needed (MB: the model footprint + the largest peak one generation added,
    kpis.memory_needed_mb; None, so the worst, when not recorded: old runs, HTTP endpoints).
    ctx: a cost context already resolved for every model with successful requests.
    footprints: run_models.model_footprint_mb per model. memory_mb, not an objective: the process
    peak (accelerator memory when every model has it, else RSS), context only."""
    agg = agg[agg["ok"] > 0]
    rows = []
    use_accel = not agg.empty and agg["peak_accel_mb_max"].notna().all()
    if ctx is None:
        ctx = cost_context(settings, list(agg.index), measured_watts=measured_watts, price_bases=price_bases)
    for m in models:
        if m not in agg.index:
            continue
        a = agg.loc[m]
        sec = finite(a["latency_ms_mean"])
        if m in ctx.bases:
            cost = finite(ctx.bases[m].per_request((sec or 0) / 1000, or_nan(finite(a.get("input_tokens_mean"))),
                                               or_nan(finite(a.get("output_tokens_mean")))))
        else:
            e, am = C.local_cost_per_request((sec or 0) / 1000, ctx.power[m][0], settings)
            cost = float(e + am)
        rows.append({"model": m, "quality": finite(a["quality_mean"]), "latency_ms": finite(a["latency_ms_p50"]),
                     "cost": cost if sec is not None else None,
                     "memory_needed_mb": memory_needed_mb(finite((footprints or {}).get(m)), finite(a.get("mem_added_mb_max"))),
                     "memory_mb": finite(a["peak_accel_mb_max"] if use_accel else a["peak_rss_mb_max"]),
                     "passed": finite(a.get("passed"))})  # not an objective: scored requests that passed (recommend)
    return pd.DataFrame(rows, columns=[*PARETO_COLUMNS, "memory_mb", "passed"])
