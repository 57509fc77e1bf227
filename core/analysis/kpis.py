"""The KPI table of a run: one row per model (and category) and KPI, each with its interval.

Counts, means, percentiles and totals come from one DuckDB aggregate (fast on millions of
rows). Intervals (core.analysis.kpi_intervals) come from core.stats on per-model arrays fetched
once with only the needed columns. Use it through core.analysis.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pandas as pd

import core.analysis.costs as C
from core.analysis.cost_context import (
    CostContext,
    cost_context,
    cost_quantities,
    measured_power,
    run_price_bases,
    settings_dict,
)
from core.analysis.kpi_definitions import BASE_DEFS, KpiDef, SERVING_DEFS, cloud_defs, scorer_def
from core.analysis.kpi_intervals import group_intervals
from core.analysis.rating_kpis import RATING_DEF, rating_rows
from core.analysis.to_json import finite, whole
from core.judging import judgement_notes
from core.queries import aggregate, aggregate_rates, fetch, run_models, run_models_order, run_scorers
from core.stats import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval
from core.store import Store


ALL = None  # the category of a model's overall rows


@dataclass(frozen=True, eq=False)
class KpiTable:
    """KPIs of a run in long form, with the interval metadata beside every value.

    `frame` columns: model, category (None: all categories), kpi, section, value, low, high,
    unit, method, confidence, n, n_resamples, seed, note. `wide()` gives one row per model.
    """

    run_id: str
    frame: pd.DataFrame
    models: tuple[str, ...]
    categories: tuple[str, ...]
    by_category: bool
    definitions: Mapping[str, KpiDef]
    settings: C.CostSettings
    power: Mapping[str, Mapping[str, Any]]  # model -> watts, source, profile
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = DEFAULT_SEED
    n_resamples: int | None = None
    intervals: bool = True
    notes: tuple[str, ...] = ()

    def rows(self, model: str, category: str | None = ALL) -> pd.DataFrame:
        f = self.frame
        cat = f["category"].isna() if category is ALL else f["category"] == category
        return f[(f["model"] == model) & cat]

    @cached_property
    def _index(self) -> dict[tuple[str, str | None, str], dict[str, Any]]:
        """(model, category, kpi) -> row, built once: value() and interval() are called per
        table cell, and a frame filter per call costs ~1 ms. (The frame is not modified after
        kpi_table builds it.)"""
        index: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        for r in self.frame.to_dict("records"):
            cat = r["category"] if isinstance(r["category"], str) else ALL
            index.setdefault((r["model"], cat, r["kpi"]), r)  # the first row, as rows() would give
        return index

    def value(self, model: str, kpi: str, category: str | None = ALL) -> float | None:
        r = self._index.get((model, category, kpi))
        return None if r is None else finite(r["value"])

    def interval(self, model: str, kpi: str, category: str | None = ALL) -> Interval | None:
        """The KPI's interval; None when it has none (the missing method reads back as None or
        NaN, depending on the pandas version)."""
        x = self._index.get((model, category, kpi))
        if x is None or not isinstance(x["method"], str) or not x["method"]:
            return None
        return Interval(finite(x["value"]), finite(x["low"]), finite(x["high"]), x["method"], float(x["confidence"]),
                        whole(x["n"]) or 0, whole(x["n_resamples"]), whole(x["seed"]),
                        x["note"] if isinstance(x["note"], str) else "")

    def wide(self) -> pd.DataFrame:
        """One row per model (and category): `kpi` columns, with `kpi_low` and `kpi_high` for
        the KPIs that have intervals; counts as integers."""
        f = self.frame.assign(category=self.frame["category"].astype(object).where(self.frame["category"].notna(), "(all)"))
        keys = ["model", "category"]
        parts = []
        for col, suffix in (("value", ""), ("low", "_low"), ("high", "_high")):
            p = f.pivot(index=keys, columns="kpi", values=col)
            p.columns = [f"{c}{suffix}" for c in p.columns]
            parts.append(p)
        wide = pd.concat(parts, axis=1)
        order = [c for k, d in self.definitions.items() for c in ((k, f"{k}_low", f"{k}_high") if d.has_interval else (k,))
                 if c in wide.columns]
        wide = wide[order]
        for k, d in self.definitions.items():
            if d.unit == "count" and k in wide.columns:
                wide[k] = wide[k].round().astype("Int64")
        wide = wide.reset_index()
        cat_order = ["(all)", *self.categories]
        wide["_m"] = wide["model"].map({m: i for i, m in enumerate(self.models)})
        wide["_c"] = wide["category"].map({c: i for i, c in enumerate(cat_order)})
        return wide.sort_values(["_m", "_c"]).drop(columns=["_m", "_c"]).reset_index(drop=True)

    def methods(self) -> list[str]:
        """The interval methods behind the defined intervals, e.g. 'cluster bootstrap over
        prompts (1000 resamples, seed 0)'."""
        f = self.frame[self.frame["low"].notna() & self.frame["method"].notna()]
        labels = []
        for m, g in f.groupby("method", sort=True):
            runs = g[g["n_resamples"].notna()][["n_resamples", "seed"]].drop_duplicates()
            name = _METHOD_LABEL.get(str(m), str(m))
            if runs.empty:  # analytic, or intervals without spread
                labels.append(name)
            labels += [f"{name} ({int(b)} resamples, seed {int(sd)})" for b, sd in runs.itertuples(index=False)]
        return [f"{self.confidence * 100:g}% intervals", *labels] if labels else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "llm-eval/summary/v1",
            "run_id": self.run_id,
            "by_category": self.by_category,
            "models": list(self.models),
            "categories": list(self.categories),
            "confidence": self.confidence,
            "seed": self.seed,
            "n_resamples": self.n_resamples,
            "intervals": self.intervals,
            "cost_settings": settings_dict(self.settings),
            "power": {m: dict(v) for m, v in self.power.items()},
            "kpis": [_json_row(r) for r in self.frame.to_dict("records")],
            "definitions": {k: {"section": d.section, "unit": d.unit, "description": d.description, "interval": d.has_interval}
                            for k, d in self.definitions.items()},
            "methods": self.methods(),
            "notes": list(self.notes),
        }


_METHOD_LABEL = {
    "bca-bootstrap": "BCa bootstrap", "percentile-bootstrap": "percentile bootstrap", "cluster-bootstrap": "cluster bootstrap over prompts",
    "multiplier-bootstrap": "multiplier bootstrap over prompts (large sample; quantiles by Woodruff's method)",
    "t": "t interval", "wilson": "Wilson score", "wilson-clusters": "Wilson score on prompts (repeats agree)",
}


FRAME_COLUMNS = ("model", "category", "kpi", "section", "value", "low", "high", "unit", "method", "confidence", "n", "n_resamples", "seed", "note")


def _json_row(r: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k in FRAME_COLUMNS:
        v = r.get(k)
        if k in ("value", "low", "high", "confidence"):
            v = finite(v)
        elif k in ("n", "n_resamples", "seed"):
            v = whole(v)
        elif isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def kpi_table(
    store: Store,
    run_id: str,
    *,
    by_category: bool = False,
    settings: C.CostSettings | None = None,
    models: Sequence[str] | None = None,
    intervals: bool = True,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    measured_watts: Mapping[str, float] | None = None,
    overrides: C.PricingOverrides | None = None,
) -> KpiTable:
    """KPIs per model (and category) of a stored run; see core.analysis for the contract."""
    settings = settings or C.CostSettings()
    with store.connect() as con:  # every query up front, on one connection; computing needs no lock
        spec_models = run_models_order(con, run_id)
        scorers = run_scorers(con, run_id)
        agg = aggregate(con, run_id, by_category=by_category, models=models, scorers=scorers)
        rm = run_models(con, run_id)
        bases = run_price_bases(con, run_id, rm)
        df = fetch(con, run_id, models=models, scorers=scorers) if intervals and not agg.empty else None
    order = [m for m in spec_models if (not models or m in models)]
    present = [str(m) for m in agg["model"]] + [str(m) for m in rm.index if not models or m in models]
    order += sorted({m for m in present if m not in order})
    measured = measured_power(rm) if measured_watts is None else measured_watts
    ctx = cost_context(settings, order, measured_watts=measured, overrides=overrides, price_bases=bases)
    groups: dict[tuple[str, str | None], dict[str, Interval]] = {}
    if df is not None:
        kw = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
        for m, g in df.groupby("model", sort=False, observed=True):
            groups[(str(m), ALL)] = group_intervals(g, str(m), scorers, ctx, **kw)
            if by_category:
                for c, gc in g.groupby(g["category"].astype(object).fillna(""), sort=True):
                    groups[(str(m), str(c))] = group_intervals(gc, str(m), scorers, ctx, **kw)
    defs = _definitions(scorers, settings.cloud_models, rm)
    agg_rows = {(str(r["model"]), r["category"] if isinstance(r["category"], str) else ALL): r for r in agg.to_dict("records")}
    frame = pd.DataFrame(_rows(order, agg_rows, rm, groups, defs, ctx, intervals), columns=list(FRAME_COLUMNS))
    rated = rating_rows(store, run_id, order, intervals=intervals, confidence=confidence, n_resamples=n_resamples, seed=seed)
    if rated is not None and not rated.empty:  # the mean human rating (Rate page), after each model's rows
        defs[RATING_DEF.name] = RATING_DEF
        frame = _append_rows(frame, rated[list(FRAME_COLUMNS)], order)
    cats = sorted({k[1] for k in agg_rows if k[1] is not ALL})
    power = {m: {"watts": finite(w), "source": src, "profile": prof} for m, (w, src, prof) in ctx.power.items()}
    notes = tuple(f"no price for {cm}: {p}" for cm, p in ctx.prices.items() if isinstance(p, str))
    notes += judgement_notes(store, run_id)  # pending / errored LLM-judge scores count as missing: say how many
    return KpiTable(run_id, frame, tuple(order), tuple(cats), by_category, defs, settings, power, confidence, seed,
                    n_resamples, intervals, notes)


def _rows(order: Sequence[str], agg_rows: Mapping[tuple[str, str | None], Mapping[str, Any]], rm: pd.DataFrame,
          groups: Mapping[tuple[str, str | None], Mapping[str, Interval]], defs: Mapping[str, KpiDef], ctx: CostContext,
          intervals: bool) -> list[dict[str, Any]]:
    """Long-form rows: per model, its overall group first, then its categories."""
    rows = []
    for m in order:
        keys = [k for k in agg_rows if k[0] == m] or [(m, ALL)]
        for key in sorted(keys, key=lambda k: (k[1] is not ALL, k[1] or "")):
            overall = key[1] is ALL
            values = _values(agg_rows.get(key, {}), rm.loc[m] if m in rm.index and overall else None, ctx, m)
            ivs = groups.get(key, {})
            note = _model_note(rm, m, agg_rows.get(key))
            mem_note = _memory_note(rm, m)  # HTTP: why memory is not recorded (never shown as zero)
            for d in defs.values():
                if overall or (d.section != "serving" and d.name not in _MODEL_LEVEL):
                    why = note or (mem_note if d.section == "memory" and d.unit == "MB" else "")
                    rows.append(_kpi_row(m, key[1], d, values.get(d.name), ivs.get(d.name), intervals, why))
    return rows


def _append_rows(frame: pd.DataFrame, extra: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """`extra` (overall rows) after the overall rows of each model, before its categories."""
    both = pd.concat([frame.astype(object), extra.astype(object)], ignore_index=True)
    rank = {m: i for i, m in enumerate(order)}
    key = [(rank.get(m, len(rank)), isinstance(c, str), i) for i, (m, c) in enumerate(zip(both["model"], both["category"], strict=True))]
    at = sorted(range(len(both)), key=lambda i: key[i])
    return both.iloc[at].reset_index(drop=True).infer_objects()


_MODEL_LEVEL = {"weights_mb", "params", "load_time_s", "load_rss_mb", "model_footprint_mb", "memory_needed_mb",
                "cold_latency_ms", "cold_warm_ratio", "cold_excess_ms"}


def _definitions(scorers: Sequence[str], cloud_models: Sequence[str], rm: pd.DataFrame) -> dict[str, KpiDef]:
    defs = list(BASE_DEFS)
    at = next(i for i, d in enumerate(defs) if d.name == "pass_rate")
    defs[at:at] = [scorer_def(s) for s in scorers]
    for cm in cloud_models:
        defs.extend(cloud_defs(cm))
    if "requests_per_s" in rm.columns and rm["requests_per_s"].notna().any():
        defs.extend(SERVING_DEFS)
    return {d.name: d for d in defs}


def _values(a: Mapping[str, Any], rm: pd.Series | None, ctx: CostContext, model: str) -> dict[str, Any]:
    """Point values: the SQL aggregate, run_models and derived ratios."""
    v: dict[str, Any] = {k: finite(x) for k, x in a.items() if k not in ("model", "category")}
    for p in ("latency_ms", "ttft_ms"):
        mean, std = v.get(f"{p}_mean"), v.get(f"{p}_std")
        v[f"{p}_cv"] = std / mean if mean and std is not None else None
    v.update(aggregate_rates(v))  # error_rate, pass_rate: the definition MLflow shares
    v["warm_latency_ms"] = v.get("latency_ms_p50")
    if rm is not None:
        for k in ("weights_mb", "params", "load_time_s", "load_rss_mb", "model_footprint_mb", "cold_latency_ms",
                  "requests_per_s", "goodput"):
            v[k] = finite(rm.get(k))
        v["memory_needed_mb"] = memory_needed_mb(v.get("model_footprint_mb"), v.get("mem_added_mb_max"))
        v["output_tps_serving"] = finite(rm.get("output_tps"))
        cold, warm = v.get("cold_latency_ms"), v.get("warm_latency_ms")
        v["cold_warm_ratio"] = cold / warm if cold is not None and warm else None
        v["cold_excess_ms"] = cold - warm if cold is not None and warm is not None else None
    v["power_watts"] = finite(ctx.power[model][0])  # None for a model priced by its endpoint
    sec, inp, out = v.get("latency_ms_mean"), v.get("input_tokens_mean"), v.get("output_tokens_mean")
    if sec is not None and inp is not None and out is not None:
        v.update({k: finite(x[0]) for k, x in cost_quantities(sec / 1000, inp, out, ctx.power[model][0], ctx, ctx.bases.get(model)).items()})
    return v


def memory_needed_mb(footprint_mb: float | None, added_max_mb: float | None) -> float | None:
    """Memory to fit a model (MB): its footprint + the largest peak one generation added; None
    when either is missing (a run stored before they were measured, an HTTP endpoint)."""
    if footprint_mb is None or added_max_mb is None or not (math.isfinite(footprint_mb) and math.isfinite(added_max_mb)):
        return None
    return footprint_mb + added_max_mb


def _model_note(rm: pd.DataFrame, model: str, agg_row: Mapping[str, Any] | None) -> str:
    if agg_row is None or not agg_row.get("ok"):
        msg = rm.loc[model, "message"] if model in rm.index and "message" in rm.columns else None
        base = "no successful requests" if agg_row is not None else "no samples stored"
        return f"{base}: {msg}" if isinstance(msg, str) and msg else base
    return ""


def _kpi_row(model: str, category: str | None, d: KpiDef, value: Any, iv: Interval | None, intervals: bool,
             group_note: str) -> dict[str, Any]:
    value = finite(value)
    if iv is not None and intervals:
        note = iv.note
        if value is None and iv.estimate is not None:
            value = iv.estimate
        return {"model": model, "category": category, "kpi": d.name, "section": d.section, "value": value,
                "low": iv.low if value is not None else None, "high": iv.high if value is not None else None,
                "unit": d.unit, "method": iv.method, "confidence": iv.confidence, "n": iv.n,
                "n_resamples": iv.n_resamples, "seed": iv.seed,
                "note": (group_note or (_why_missing(d) if d.name in _MEMORY_NEW else note)) if value is None else note}
    note = "" if value is not None else (group_note or _why_missing(d))
    return {"model": model, "category": category, "kpi": d.name, "section": d.section, "value": value, "low": None,
            "high": None, "unit": d.unit, "method": None, "confidence": None, "n": None, "n_resamples": None,
            "seed": None, "note": note}


def _memory_note(rm: pd.DataFrame, model: str) -> str:
    note = rm.loc[model, "memory_note"] if model in rm.index and "memory_note" in rm.columns else None
    return note if isinstance(note, str) else ""


_MEMORY_NEW = frozenset({"model_footprint_mb", "mem_added_mb_max", "mem_added_mb_mean", "memory_needed_mb"})


def _why_missing(d: KpiDef) -> str:
    if d.name.startswith("peak_accel"):
        return "not measured (no accelerator: CPU run)"
    if d.name in _MEMORY_NEW:
        return "not recorded: the run was stored before model footprint and per-generation memory were measured"
    if d.section == "ttft" or d.name.startswith("decode"):
        return "no TTFT measured (non-streaming backend or single-token outputs)"
    if d.section == "warm_cold" or d.section == "memory":
        return "not recorded for this model"
    if d.section == "quality":
        return "no scorer applied (items without a reference or scorers)"
    return "not available"
