"""A run's samples as the analyses read them: metric names and aliases, one load of the
columns an analysis needs, and the per-sample local cost derived from latency.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import core.analysis.costs as C
from core.analysis.cost_context import CostContext, cost_context, measured_power, run_price_bases
from core.queries import aggregate, fetch, run_models, run_models_order, setting
from core.stats.metric_registry import DEFAULT_COMPARED, by_alias, metric_info, sample_metrics
from core.store import Store


DEFAULT_METRICS = tuple(metric_info(m).alias for m in DEFAULT_COMPARED)  # the names typed (CLI --metrics)


# every name a per-sample metric is typed by (the registry's aliases) -> its column
METRIC_ALIASES: dict[str, str] = {a: m.name for m in sample_metrics() for a in (m.alias, *m.aliases)}


DERIVED = {"local_cost"}  # computed per sample from latency (core.analysis.costs), not stored


def watts_for(explicit: Mapping[str, float] | None, data: RunData) -> Mapping[str, float] | None:
    """Watts per model: the caller's, else those the runner measured (run_models.power_w)."""
    return explicit if explicit is not None else data.measured_watts


def stored_columns(cols: Sequence[str]) -> list[str]:
    """The sample columns to fetch for these metrics (derived ones need latency)."""
    out = [x for c in cols for x in (("latency_ms", "input_tokens", "output_tokens") if c in DERIVED else (c,))]
    return list(dict.fromkeys(out))


def with_derived(df: pd.DataFrame, cols: Sequence[str], settings: C.CostSettings | None,
                  measured_watts: Mapping[str, float] | None = None,
                  price_bases: Mapping[str, Mapping[str, Any]] | None = None,
                  ctx: CostContext | None = None) -> pd.DataFrame:
    """Add derived per-sample metrics: local_cost = energy + hardware amortisation of the
    request's latency at the model's power (measured, else the assumed profile), USD; an HTTP
    model with a price basis (price_bases, from the run's manifest) is priced by it instead.
    ctx: a cost context already resolved for every model in df (then the other cost arguments
    are not read)."""
    if "local_cost" not in cols or df.empty:
        return df
    if ctx is None:
        ctx = cost_context(settings or C.CostSettings(cloud_models=()), sorted(map(str, df["model"].unique())),
                           measured_watts=measured_watts, price_bases=price_bases)

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(df[col], errors="coerce").to_numpy(float) if col in df.columns else np.full(len(df), np.nan)

    seconds, inp, out = num("latency_ms") / 1000, num("input_tokens"), num("output_tokens")
    model = df["model"].astype(str).to_numpy()
    cost = np.full(seconds.shape, np.nan)
    for m, (watts, _, _) in ctx.power.items():
        at = model == m
        if m in ctx.bases:
            cost[at] = ctx.bases[m].per_request(seconds[at], inp[at], out[at])
            continue
        sec = seconds[at]
        mean = float(np.nanmean(sec)) if np.isfinite(sec).any() else None
        energy, amort = C.local_cost_per_request(sec, watts, ctx.settings, mean_seconds=mean)
        cost[at] = energy + amort
    return df.assign(local_cost=cost)


def resolve_metric(name: str) -> str:
    """'latency' -> 'latency_ms' (column names are accepted as they are)."""
    info = by_alias(name)
    if info is not None and info.per_sample:
        return info.name
    raise ValueError(f"unknown metric {name!r}; use one of: {', '.join(METRIC_ALIASES)}")


@dataclass(frozen=True, eq=False)
class RunData:
    """What one analysis reads, fetched on one connection before any computing."""

    order: list[str]  # the run's models in spec order (filtered by `models`)
    samples: pd.DataFrame
    aggregate: pd.DataFrame | None = None  # kpis.aggregate, indexed by model
    run_models: pd.DataFrame | None = None  # indexed by model
    champion: str | None = None
    price_bases: Mapping[str, Mapping[str, Any]] | None = None  # HTTP models' price bases (with run_models)
    measured_watts: Mapping[str, float] | None = None  # run_models.power_w per model (with run_models)

    def present(self, frame: pd.DataFrame | None = None) -> list[str]:
        """Models with rows in `frame` (default: the samples), spec order first."""
        stored = set(map(str, (self.samples if frame is None else frame)["model"].unique()))
        return [m for m in self.order if m in stored] + sorted(stored - set(self.order))


def load_run(store: Store, run_id: str, columns: Sequence[str], models: Sequence[str] | None, *,
          with_aggregate: bool = False, with_run_models: bool = False, with_champion: bool = False) -> RunData:
    with store.connect() as con:
        order = [m for m in run_models_order(con, run_id) if not models or m in models]
        samples = fetch(con, run_id, models=models, columns=columns)
        agg = aggregate(con, run_id, models=models).set_index("model") if with_aggregate else None
        rm = run_models(con, run_id) if with_run_models else None
        champion = setting(con, "champion") if with_champion else None
        bases = run_price_bases(con, run_id, rm) if with_run_models else None
    return RunData(order, samples, agg, rm, champion, bases, None if rm is None else measured_power(rm))
