"""Analysis of a stored run: the one entry point for the CLI, the dashboard, reports and MLflow.

    kpi_table(store, run_id)      -> KpiTable         KPIs per model (and category) with intervals
    compare_run(store, run_id)    -> RunComparison    pairwise tests, verdicts, Pareto, drift, cold start
    compare_arms(store, arms)     -> RunComparison    the same over arms (run, model) of different runs
    cost_report(store, run_id, s) -> CostReport       local vs cloud cost, projections, break-even
    cost_resamples(store, run_id) -> CostResamples  the settings-free part of a cost report (reusable)
    sample_size(store, run_id, metric, effect) -> SampleSizeReport
    recommend(store, run_id)      -> Recommendation   a model and a plain-language why
    machine_load(store, run_id)   -> MachineLoadReport  how busy other processes kept the measurement cores

Pure Python (no streamlit). Every result is a frozen dataclass with `to_dict()`, the JSON the
CLI prints with `--format json` (documented in docs/cli-json.md). The statistics are
core.stats / core.compare, the formulas core.cost; this module fetches the columns they need
from the store and puts the pieces together.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from core import cost as C
from core.arms import Arm, ArmError, Pairing, load_arms, parse_arm
from core.compare import Comparison, comparisons_frame, pairwise, verdict
from core.kpis import (
    CostContext,
    KpiTable,
    MachineLoadReport,
    cost_context,
    cost_intervals,
    interval_dict,
    kpi_table,
    machine_load,
    measured_power,
    memory_needed_mb,
    run_price_bases,
    settings_dict,
)
from core.queries import aggregate, fetch, pass_rates, prompt_cost_sums, run_models, run_models_order, setting
from core.stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    METHODS,
    BootstrapMeans,
    ColdStart,
    Drift,
    Interval,
    ParetoPoint,
    bootstrap_sums,
    cold_start,
    drift,
    metric_info,
    minimum_detectable_effect,
    pareto_front,
    required_sample_size,
)
from core.store import Store

__all__ = [
    "DEFAULT_METRICS", "METRIC_ALIASES", "KpiTable", "kpi_table", "RunComparison", "compare_run", "compare_arms", "CostReport",
    "cost_report", "CostResamples", "cost_resamples", "SampleSizeReport", "sample_size", "Recommendation", "recommend", "resolve_metric", "METHODS",
    "MachineLoadReport", "machine_load",
]

DEFAULT_METRICS = ("latency", "ttft", "tokens_per_s", "quality", "passed", "mem_added")
METRIC_ALIASES: dict[str, str] = {
    "latency": "latency_ms", "ttft": "ttft_ms", "tokens_per_s": "decode_tps", "decode": "decode_tps",
    "quality": "quality", "passed": "passed", "pass_rate": "passed", "peak_rss": "peak_rss_mb",
    "mem_added": "mem_added_mb", "memory": "mem_added_mb",
    "peak_accel": "peak_accel_mb", "output_tokens": "output_tokens", "input_tokens": "input_tokens",
    "cost": "local_cost", "local_cost": "local_cost",
}
_COLUMNS = set(METRIC_ALIASES.values())
DERIVED = {"local_cost"}  # computed per sample from latency (core.cost), not stored


def _measured(explicit: Mapping[str, float] | None, data: _RunData) -> Mapping[str, float] | None:
    """Watts per model: the caller's, else those the runner measured (run_models.power_w)."""
    return explicit if explicit is not None else data.measured_watts


def _stored(cols: Sequence[str]) -> list[str]:
    """The sample columns to fetch for these metrics (derived ones need latency)."""
    out = [x for c in cols for x in (("latency_ms", "input_tokens", "output_tokens") if c in DERIVED else (c,))]
    return list(dict.fromkeys(out))


def _with_derived(df: pd.DataFrame, cols: Sequence[str], settings: C.CostSettings | None,
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
    key = name.strip().lower()
    if key in METRIC_ALIASES:
        return METRIC_ALIASES[key]
    if key in _COLUMNS:
        return key
    raise ValueError(f"unknown metric {name!r}; use one of: {', '.join(METRIC_ALIASES)}")


def _f(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def _jsonable(obj: Any) -> Any:
    """Dataclasses / Intervals / numpy values as plain JSON (NaN and infinity -> None)."""
    if isinstance(obj, Interval):
        return interval_dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _f(obj)
    return obj


@dataclass(frozen=True, eq=False)
class _RunData:
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


def _load(store: Store, run_id: str, columns: Sequence[str], models: Sequence[str] | None, *,
          with_aggregate: bool = False, with_run_models: bool = False, with_champion: bool = False) -> _RunData:
    with store.connect() as con:
        order = [m for m in run_models_order(con, run_id) if not models or m in models]
        samples = fetch(con, run_id, models=models, columns=columns)
        agg = aggregate(con, run_id, models=models).set_index("model") if with_aggregate else None
        rm = run_models(con, run_id) if with_run_models else None
        champion = setting(con, "champion") if with_champion else None
        bases = run_price_bases(con, run_id, rm) if with_run_models else None
    return _RunData(order, samples, agg, rm, champion, bases, None if rm is None else measured_power(rm))


# =========================================================================== comparisons


@dataclass(frozen=True)
class SampleSizeAdvice:
    """What one comparison could detect at its size, and the prompts it would need."""

    metric: str
    model_a: str
    model_b: str
    n_prompts: int
    sd_difference: float | None  # SD of per-prompt differences, metric units
    detectable_difference: float | None  # with 80% power at alpha, metric units
    observed_difference: float | None
    prompts_needed: int | None  # to detect the observed difference (None when significant or undefined)
    significant: bool
    sentence: str


@dataclass(frozen=True)
class ColdStartInfo:
    """The warm-up request (untimed, after loading) and the first timed one against the warm median."""

    model: str
    warmup_latency_ms: float | None
    first: ColdStart


@dataclass(frozen=True, eq=False)
class RunComparison:
    run_id: str
    metrics: tuple[str, ...]  # sample columns compared
    comparisons: tuple[Comparison, ...]
    baseline: str | None
    baseline_source: Literal["argument", "champion", "all pairs"]
    correction: str
    alpha: float
    confidence: float
    pareto: tuple[ParetoPoint, ...]
    pareto_table: pd.DataFrame  # model, quality, latency_ms, cost, memory_needed_mb (objectives); passed (a count), memory_mb (process peak: context)
    drift: Mapping[str, Drift]
    cold_start: Mapping[str, ColdStartInfo]
    advice: tuple[SampleSizeAdvice, ...]
    notes: tuple[str, ...] = ()
    arms: tuple[Arm, ...] = ()  # compare_arms: the arms (run, model); models are then named Arm.label
    pairing: Pairing | None = None  # compare_arms: how the arms' prompts line up

    def frame(self) -> pd.DataFrame:
        return comparisons_frame(self.comparisons)

    def verdicts(self) -> list[str]:
        return [verdict(c, self.alpha) for c in self.comparisons]

    def find(self, metric: str, a: str, b: str) -> Comparison | None:
        """The comparison of a and b on a metric, in either order."""
        col = resolve_metric(metric)
        for c in self.comparisons:
            if c.metric == col and {c.model_a, c.model_b} == {a, b}:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "llm-eval/compare/v1",
            "run_id": self.run_id,
            "metrics": list(self.metrics),
            "baseline": self.baseline,
            "baseline_source": self.baseline_source,
            "correction": self.correction,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "comparisons": [comparison_dict(c, self.alpha) for c in self.comparisons],
            "verdicts": self.verdicts(),
            "pareto": {
                "objectives": {"quality": "max", "latency_ms": "min", "cost": "min", "memory_needed_mb": "min"},
                "models": [
                    {"model": p.model, "efficient": p.efficient, "dominated_by": list(p.dominated_by),
                     **{k: _f(v) for k, v in self._pareto_row(p.model).items()}}
                    for p in self.pareto
                ],
            },
            "drift": {m: _jsonable(d) for m, d in self.drift.items()},
            "cold_start": {m: _jsonable(c) for m, c in self.cold_start.items()},
            "sample_size_advice": [_jsonable(a) for a in self.advice],
            "methods": METHODS,
            "notes": list(self.notes),
            **({"arms": [{"arm": str(a), "run_id": a.run_id, "model": a.model, "label": a.label} for a in self.arms],
                "pairing": {"kind": self.pairing.kind, "n_paired": len(self.pairing.shared),
                            "changed_items": list(self.pairing.changed), "note": self.pairing.note}}
               if self.arms and self.pairing is not None else {}),
        }

    def _pareto_row(self, model: str) -> dict[str, Any]:
        r = self.pareto_table[self.pareto_table["model"] == model]
        cols = ("quality", "latency_ms", "cost", "memory_needed_mb", "memory_mb")
        return {c: (r[c].iloc[0] if not r.empty and c in r else None) for c in cols}


def comparison_dict(c: Comparison, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    return {
        "metric": c.metric, "model_a": c.model_a, "model_b": c.model_b, "paired": c.paired, "pairing": c.pairing,
        "test": c.test.test, "statistic": _f(c.statistic), "p_value": _f(c.p_value), "p_adjusted": _f(c.p_adjusted),
        "correction": c.correction, "significant": c.significant(alpha), "direction": c.direction, "better": c.better(alpha),
        "n_a": c.n_a, "n_b": c.n_b, "n_pairs": c.n_pairs,
        "difference": interval_dict(c.difference), "ratio": interval_dict(c.ratio),
        "cohen_d": _f(c.cohen_d), "cliffs_delta": _f(c.cliffs_delta), "rank_biserial": _f(c.rank_biserial),
        "equivalence": _jsonable(c.equivalence), "power": _jsonable(c.power),
        "notes": list(c.notes) + ([c.test.note] if c.test.note and c.test.note not in c.notes else []),
        "verdict": verdict(c, alpha),
    }


def _baseline(run_id: str, present: Sequence[str], baseline: str | None,
              champion: str | None) -> tuple[str | None, Literal["argument", "champion", "all pairs"]]:
    """The explicit baseline, else the champion (Models page) when it has results here."""
    if baseline is not None:
        if baseline not in present:
            raise ValueError(f"baseline {baseline!r} has no successful requests in run {run_id}; "
                             f"models: {', '.join(present) or 'none'}")
        return baseline, "argument"
    if champion in present:
        return champion, "champion"
    return None, "all pairs"


def compare_run(
    store: Store,
    run_id: str,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: str | None = None,
    use_champion: bool = True,
    correction: Literal["holm", "bh", "none"] = "holm",
    margins: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    test: Literal["auto", "wilcoxon", "t", "mann-whitney", "welch"] = "auto",
    models: Sequence[str] | None = None,
    settings: C.CostSettings | None = None,
    measured_watts: Mapping[str, float] | None = None,
) -> RunComparison:
    """Pairwise tests (all pairs, or each model vs the baseline: `baseline`, else the champion
    when it is in the run and use_champion) with adjusted p-values, effects and verdicts;
    the Pareto frontier; latency drift and cold start per model; sample-size advice.

    metrics: aliases (latency, ttft, tokens_per_s, quality, passed, peak_rss, cost, ...) or columns;
    cost is the local cost per request from each sample's latency (settings, measured_watts).
    margins: equivalence margins by metric (alias or column), in the metric's unit.
    """
    cols = _metric_columns(metrics)
    data = _load(store, run_id, _fetched(cols), models, with_aggregate=True, with_run_models=True, with_champion=use_champion)
    opts = _Options(correction, dict(margins or {}), alpha, confidence, n_resamples, seed, test, settings, measured_watts)
    return _compare_loaded(data, run_id, cols, lambda present: _baseline(run_id, present, baseline, data.champion), opts)


def _metric_columns(metrics: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(resolve_metric(m) for m in metrics))


def _fetched(cols: Sequence[str]) -> list[str]:
    """The sample columns a comparison of `cols` reads (latency always: drift, cold start)."""
    return ["model", "item_id", "seq", "status", *dict.fromkeys(c for c in (*_stored(cols), "latency_ms") if c != "passed")]


@dataclass(frozen=True)
class _Options:
    """The settings of a comparison, shared by compare_run and compare_arms."""

    correction: Literal["holm", "bh", "none"]
    margins: Mapping[str, float]
    alpha: float
    confidence: float
    n_resamples: int | None
    seed: int
    test: Literal["auto", "wilcoxon", "t", "mann-whitney", "welch"]
    settings: C.CostSettings | None
    measured_watts: Mapping[str, float] | None = None


def _compare_loaded(data: _RunData, run_id: str, cols: list[str], choose_baseline: Any, o: _Options) -> RunComparison:
    """Tests, verdicts, Pareto, drift, cold start and advice over loaded samples (one run's
    models, or arms labelled model@run). choose_baseline(present) -> (baseline, source)."""
    agg: pd.DataFrame = data.aggregate  # type: ignore[assignment]
    # one cost context for the cost metric and the Pareto table (neither reads cloud prices)
    priced = set(map(str, agg.index[agg["ok"] > 0]))
    if "local_cost" in cols:
        priced |= set(map(str, data.samples["model"].unique()))
    ctx = cost_context(dataclasses.replace(o.settings or C.CostSettings(), cloud_models=()), sorted(priced),
                       measured_watts=_measured(o.measured_watts, data), price_bases=data.price_bases)
    df = _with_derived(data.samples, cols, o.settings, ctx=ctx)
    ok = df[df["status"] == "ok"]
    present = data.present(ok)
    notes: list[str] = []
    failed = [m for m in data.present() if m not in present]
    if failed:
        notes.append(f"no successful requests, left out of the comparisons: {', '.join(failed)}")
    baseline, source = choose_baseline(present)
    usable = []
    for c in cols:
        if ok[c].notna().any():
            usable.append(c)
        else:
            notes.append(f"{c}: no values in this run, not compared")
    comps: tuple[Comparison, ...] = ()
    if len(present) >= 2 and usable:
        mg = {resolve_metric(k): v for k, v in o.margins.items()}
        keep = df[df["model"].isin(present)]
        frame = keep.assign(model=pd.Categorical(keep["model"], categories=present, ordered=True)).sort_values(["model", "seq"])
        frame["model"] = frame["model"].astype(str)
        comps = pairwise(frame, usable, baseline=baseline, correction=o.correction, test=o.test, margins=mg, alpha=o.alpha,
                         confidence=o.confidence, n_resamples=o.n_resamples, seed=o.seed)
    elif len(present) < 2:
        notes.append("fewer than two models with samples: nothing to compare")
    table = _pareto_table(agg, present, o.settings or C.CostSettings(), ctx=ctx, footprints=_footprints(data.run_models))
    pts = pareto_front(table) if not table.empty else ()
    return RunComparison(
        run_id, tuple(usable), comps, baseline, source, o.correction, o.alpha, o.confidence, pts, table,
        _drifts(ok, present, o.alpha, o.confidence), _cold_starts(data.run_models, ok, present),  # type: ignore[arg-type]
        _advice(comps, o.alpha), tuple(notes),
    )


def compare_arms(
    store: Store,
    arms: Sequence[Arm | str],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    baseline: Arm | str | None = None,
    correction: Literal["holm", "bh", "none"] = "holm",
    margins: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    test: Literal["auto", "wilcoxon", "t", "mann-whitney", "welch"] = "auto",
    settings: C.CostSettings | None = None,
) -> RunComparison:
    """compare_run over arms (run, model), possibly of different runs: each arm is named by its
    label model@run in comparisons, verdicts and the Pareto table. Arms are paired by prompt
    when their prompt sets agree (core.arms.pairing: the sentence leads `notes` and the result
    carries `pairing`). arms / baseline: Arm objects or 'RUN:MODEL' text; baseline must be one of
    the arms (None: all pairs). ArmError for an unknown run or model, ValueError for a bad metric.
    The Pareto points and cold starts are each arm's over all of its run's prompts."""
    chosen = tuple(a if isinstance(a, Arm) else parse_arm(a) for a in arms)
    base = baseline if isinstance(baseline, Arm) or baseline is None else parse_arm(baseline)
    if base is not None and base not in chosen:
        raise ArmError(f"the baseline {base} is not one of the arms compared ({', '.join(map(str, chosen))})")
    cols = _metric_columns(metrics)
    data = _load_arms(store, chosen, _fetched(cols))
    _check_units(data.run.run_models, cols)
    opts = _Options(correction, dict(margins or {}), alpha, confidence, n_resamples, seed, test, settings)

    def choose(present: Sequence[str]) -> tuple[str | None, Literal["argument", "champion", "all pairs"]]:
        if base is None:
            return None, "all pairs"
        if base.label not in present:
            raise ArmError(f"the baseline arm {base} has no successful requests")
        return base.label, "argument"

    comp = _compare_loaded(data.run, ", ".join(dict.fromkeys(a.run_id for a in chosen)), cols, choose, opts)
    return dataclasses.replace(comp, notes=(data.pairing.note, *comp.notes), arms=chosen, pairing=data.pairing)


@dataclass(frozen=True, eq=False)
class _ArmsLoaded:
    run: _RunData  # keyed by arm label
    pairing: Pairing


_DEVICE_DEPENDENT = {"mem_added_mb": "peak memory added per generation"}  # RSS on CPU, accelerator memory on CUDA/MPS


def _check_units(rm: pd.DataFrame, columns: Sequence[str]) -> None:
    """ArmError when a metric's unit depends on the device and the arms ran on different kinds of
    device (memory added is process RSS on CPU, accelerator memory on CUDA or MPS)."""
    if rm is None or rm.empty or "device" not in rm:
        return
    kinds = {str(label): str(d).split(":")[0] for label, d in rm["device"].items() if isinstance(d, str) and d}
    if len(set(kinds.values())) < 2:
        return
    for col in columns:
        if col in _DEVICE_DEPENDENT:
            where = ", ".join(f"{label} on {kind}" for label, kind in kinds.items())
            raise ArmError(f"{_DEVICE_DEPENDENT[col]} is not in the same units across these arms ({where}): it is process "
                           "memory on a CPU and accelerator memory on CUDA or MPS; compare them on another metric")


def _load_arms(store: Store, arms: tuple[Arm, ...], columns: Sequence[str]) -> _ArmsLoaded:
    """load_arms' samples plus each arm's aggregate row, run_models row and price basis, keyed by label."""
    data = load_arms(store, arms, columns)
    aggs, rms, bases = [], [], {}
    with store.connect() as con:
        for arm in arms:
            aggs.append(aggregate(con, arm.run_id, models=[arm.model]).assign(model=arm.label))
            rm = run_models(con, arm.run_id)
            rms.append(rm.loc[rm.index == arm.model].rename(index={arm.model: arm.label}))
            basis = run_price_bases(con, arm.run_id, rm).get(arm.model)
            if basis:
                bases[arm.label] = basis
    rm_all = pd.concat(rms) if rms else pd.DataFrame()
    agg = pd.concat(aggs, ignore_index=True).set_index("model")
    run = _RunData(data.labels, data.frame, agg, rm_all, None, bases, measured_power(rm_all))
    return _ArmsLoaded(run, data.pairing)


def _pareto_table(agg: pd.DataFrame, models: Sequence[str], settings: C.CostSettings,
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
        sec = _f(a["latency_ms_mean"])
        if m in ctx.bases:
            cost = _f(ctx.bases[m].per_request((sec or 0) / 1000, _nan(_f(a.get("input_tokens_mean"))),
                                               _nan(_f(a.get("output_tokens_mean")))))
        else:
            e, am = C.local_cost_per_request((sec or 0) / 1000, ctx.power[m][0], settings)
            cost = float(e + am)
        rows.append({"model": m, "quality": _f(a["quality_mean"]), "latency_ms": _f(a["latency_ms_p50"]),
                     "cost": cost if sec is not None else None,
                     "memory_needed_mb": memory_needed_mb(_f((footprints or {}).get(m)), _f(a.get("mem_added_mb_max"))),
                     "memory_mb": _f(a["peak_accel_mb_max"] if use_accel else a["peak_rss_mb_max"]),
                     "passed": _f(a.get("passed"))})  # not an objective: scored requests that passed (recommend)
    return pd.DataFrame(rows, columns=["model", "quality", "latency_ms", "cost", "memory_needed_mb", "memory_mb", "passed"])


def _footprints(rm: pd.DataFrame | None) -> dict[str, float | None]:
    """run_models.model_footprint_mb per model (empty for a database without the column)."""
    if rm is None or "model_footprint_mb" not in rm.columns:
        return {}
    return {str(m): _f(v) for m, v in rm["model_footprint_mb"].items()}


def _drifts(ok: pd.DataFrame, models: Sequence[str], alpha: float, confidence: float) -> dict[str, Drift]:
    out = {}
    for m in models:
        g = ok[ok["model"] == m].sort_values("seq")
        out[m] = drift(g["latency_ms"].to_numpy(dtype=float, na_value=np.nan), g["seq"].to_numpy(dtype=float), alpha=alpha, confidence=confidence)
    return out


def _cold_starts(rm: pd.DataFrame, ok: pd.DataFrame, models: Sequence[str]) -> dict[str, ColdStartInfo]:
    out = {}
    for m in models:
        g = ok[ok["model"] == m].sort_values("seq")
        warm = _f(rm.loc[m, "cold_latency_ms"]) if m in rm.index else None
        out[m] = ColdStartInfo(m, warm, cold_start(g["latency_ms"].to_numpy(dtype=float, na_value=np.nan)))
    return out


_BOUNDED_RANGE = {"passed": 1.0, "quality": 10.0}  # the widest difference a bounded metric can show


def _advice(comps: Sequence[Comparison], alpha: float) -> tuple[SampleSizeAdvice, ...]:
    out = []
    for c in comps:
        p = c.power
        if not c.paired or p is None or p.sd is None or p.n is None:
            continue
        info = metric_info(c.metric)
        s, unit = info.scale, f" {info.diff_unit or info.unit}".rstrip()
        obs = c.difference.estimate
        sig = c.significant(alpha)
        need = None
        if not sig and obs and p.sd > 0:
            need = required_sample_size(abs(obs), p.sd, alpha=alpha).n
        mde = p.effect
        if p.sd == 0:  # every prompt differs by the same amount: a power calculation has nothing to work with
            diff = f"{_fmt(obs, s)}{unit}" if obs is not None else "n/a"
            text = (f"{info.label}, {c.model_a} vs {c.model_b}: the per-prompt differences have no variance over {p.n} "
                    f"prompts (every prompt differs by {diff}), so they give no sample size")
            out.append(SampleSizeAdvice(c.metric, c.model_a, c.model_b, p.n, p.sd, None, obs, None, sig, text))
            continue
        widest = _BOUNDED_RANGE.get(c.metric)
        if mde is not None and widest is not None and mde >= widest:  # e.g. "106 pp" of a pass rate
            head = (f"{info.label}, {c.model_a} vs {c.model_b}: {p.n} prompts are too few to detect even the largest "
                    f"possible difference ({_fmt(widest, s)}{unit}) with 80% power at alpha {alpha:g}")
        else:
            head = f"{info.label}, {c.model_a} vs {c.model_b}: {p.n} prompts detect a mean difference of {_fmt(mde, s)}{unit} (80% power, alpha {alpha:g})"
        if sig:
            tail = "; the difference found is significant"
        elif need is not None:
            tail = f"; the observed {_fmt(abs(obs), s)}{unit} would need about {need:,} prompts" if obs else ""
        else:
            tail = "; no difference was observed"
        out.append(SampleSizeAdvice(c.metric, c.model_a, c.model_b, p.n, p.sd, mde, obs, need, sig, head + tail))
    return tuple(out)


def _fmt(x: float | None, scale: float = 1.0) -> str:
    if x is None:
        return "n/a"
    v = x * scale
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


# =========================================================================== cost


@dataclass(frozen=True)
class LocalCost:
    """Per-request local cost of one model (means, with intervals)."""

    model: str
    n_requests: int
    seconds_per_request: Interval
    cost_per_request: Interval
    cost_per_1k_output_tokens: Interval
    energy_wh_per_request: Interval
    energy_cost_per_request: Interval
    amortisation_per_request: Interval
    power_watts: float
    power_source: str  # measured | assumed
    power_profile: str
    note: str = ""


@dataclass(frozen=True)
class CloudLine:
    """One model's token counts priced on one cloud model, with the projection at the volume."""

    model: str
    cloud_model: str
    cost_per_request: Interval
    input_tokens_per_request: float | None
    output_tokens_per_request: float | None
    projection: C.Projection


@dataclass(frozen=True)
class CostReport:
    run_id: str
    settings: C.CostSettings
    local: tuple[LocalCost, ...]
    cloud: tuple[CloudLine, ...]
    prices: Mapping[str, C.CloudPrice]
    price_snapshot: str
    assumptions: tuple[str, ...]
    methods: str = C.COST_METHODS
    notes: tuple[str, ...] = ()
    quality_warnings: tuple[str, ...] = ()  # core.cost.quality_warning per model below the pass-rate threshold

    @property
    def cost_model(self) -> str:
        """The cost model in one sentence (shown once on the page, in reports and the CLI)."""
        return self.settings.cost_model_sentence

    def to_dict(self) -> dict[str, Any]:
        help_ = C.settings_help()
        return {
            "schema": "llm-eval/cost/v1",
            "run_id": self.run_id,
            "currency": self.settings.currency,
            "cost_model": {"name": self.settings.cost_model, "sentence": self.cost_model},
            "quality_warnings": list(self.quality_warnings),
            "settings": {k: {"value": v, "unit": help_[k][0], "help": help_[k][1]} for k, v in settings_dict(self.settings).items()},
            "price_snapshot": self.price_snapshot,
            "prices": {k: _jsonable(v) for k, v in self.prices.items()},
            "local": [_jsonable(x) for x in self.local],
            "cloud": [_cloud_dict(x) for x in self.cloud],
            "assumptions": list(self.assumptions),
            "methods": self.methods,
            "notes": list(self.notes),
        }


def _cloud_dict(x: CloudLine) -> dict[str, Any]:
    p = x.projection
    return {
        "model": x.model, "cloud_model": x.cloud_model, "cost_per_request": interval_dict(x.cost_per_request),
        "input_tokens_per_request": _f(x.input_tokens_per_request), "output_tokens_per_request": _f(x.output_tokens_per_request),
        "volume_per_month": p.volume_per_month,
        **{k: interval_dict(getattr(p, k)) for k in ("local_monthly", "local_annual", "cloud_monthly", "cloud_annual",
                                                     "savings_pct", "break_even_per_month", "capacity_per_month")},
        "machines": p.machines, "power_source": p.power_source, "note": p.note,
        "savings_text": C.savings_text(p.savings_pct), "break_even_text": C.break_even_text(p.break_even_per_month),
    }


@dataclass(frozen=True, eq=False)
class CostResamples:
    """What a run's cost intervals need that does not depend on the cost assumptions: per
    model, the mean seconds, input and output tokens per successful request and their
    resampled means (prompts resampled with their repeats), plus the power the run measured.
    A cost report under any settings is arithmetic on these (cost_report(resamples=...))."""

    run_id: str
    models: tuple[str, ...]  # models with samples, spec order first
    means: Mapping[str, BootstrapMeans]  # columns cost_s, cost_in, cost_out
    measured_watts: Mapping[str, float]
    price_bases: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)  # HTTP models (run manifest)
    pass_rates: Mapping[str, tuple[float | None, int]] = dataclasses.field(default_factory=dict)  # model -> (pass rate, scored)


_COST_COLUMNS = ("cost_s", "cost_in", "cost_out")


def cost_resamples(
    store: Store,
    run_id: str,
    *,
    models: Sequence[str] | None = None,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
) -> CostResamples:
    """The resampled means behind cost_report, summed per prompt in DuckDB (no per-sample
    rows leave the database). KeyError for an unknown run."""
    with store.connect() as con:
        order = [m for m in run_models_order(con, run_id) if not models or m in models]
        sums = prompt_cost_sums(con, run_id, models)
        rm = run_models(con, run_id)
        bases = run_price_bases(con, run_id, rm)
        passed = pass_rates(con, run_id)
    rates = {str(r.model): (_f(r.rate), int(r.n)) for r in passed.itertuples()}
    stored = set(map(str, sums["model"].unique()))
    present = [m for m in order if m in stored] + sorted(stored - set(order))
    means = {}
    for m, g in sums.groupby("model", sort=False):
        g = g[g["n_rows"] > 0]  # prompts with no successful request are not clusters
        keep = g["n_keep"].to_numpy(float)
        means[str(m)] = bootstrap_sums(_COST_COLUMNS, g[list(_COST_COLUMNS)].to_numpy(float),
                                       np.repeat(keep[:, None], len(_COST_COLUMNS), axis=1), int(g["n_rows"].sum()),
                                       clustered=len(g) < int(g["n_rows"].sum()), n_resamples=n_resamples, seed=seed)
    return CostResamples(run_id, tuple(present), means, measured_power(rm), bases, rates)


def cost_report(
    store: Store | None,
    run_id: str,
    settings: C.CostSettings | None = None,
    *,
    models: Sequence[str] | None = None,
    measured_watts: Mapping[str, float] | None = None,
    overrides: C.PricingOverrides | None = None,
    at: Any = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    resamples: CostResamples | None = None,
) -> CostReport:
    """Local cost per request and per 1,000 output tokens, cloud cost of the same token counts,
    monthly/annual projections at settings.volume_per_month, savings and break-even.

    Intervals resample prompts (with their repeats) once per model; every quantity of that
    model comes from the same resamples. Raises LookupError for an unknown cloud model.
    resamples: cost_resamples(store, run_id, ...) computed earlier (they do not depend on the
    settings), so a change of assumptions is arithmetic only; `models`, `n_resamples` and
    `seed` are then those of the resamples.
    """
    settings = settings or C.CostSettings()
    if resamples is None:
        if store is None:
            raise ValueError("cost_report needs a store or precomputed resamples")
        resamples = cost_resamples(store, run_id, models=models, n_resamples=n_resamples, seed=seed)
    present = list(resamples.models)
    ctx = cost_context(settings, present, measured_watts=resamples.measured_watts if measured_watts is None else measured_watts,
                       overrides=overrides, at=at, strict=True, price_bases=resamples.price_bases)
    local: list[LocalCost] = []
    cloud: list[CloudLine] = []
    for m in present:
        line, lines = _model_costs(resamples.means[m], m, ctx, confidence)
        local.append(line)
        cloud.extend(lines)
    prices = {k: v for k, v in ctx.prices.items() if isinstance(v, C.CloudPrice)}
    warnings = tuple(w for m in present if (w := C.quality_warning(m, *resamples.pass_rates.get(m, (None, 0)))))
    return CostReport(run_id, settings, tuple(local), tuple(cloud), prices, C.price_snapshot(), _assumptions(settings, ctx),
                      quality_warnings=warnings)


def _model_costs(bm: BootstrapMeans, model: str, ctx: Any, confidence: float) -> tuple[LocalCost, list[CloudLine]]:
    """One model's local cost and cloud lines, all from one resample of its prompts."""
    ivs = cost_intervals(bm, model, ctx, confidence)
    watts, source, profile = ctx.power[model]
    n = bm.count("cost_s")[0]
    line = LocalCost(
        model, n, bm.interval(*bm.mean("cost_s"), confidence=confidence, n=n), ivs["local_cost_per_request"],
        ivs["local_cost_per_1k_output_tokens"], ivs["energy_wh_per_request"], ivs["energy_cost_per_request"],
        ivs["amortisation_per_request"], watts, source, profile,
        "no successful requests" if not n else "energy not applicable (priced by the endpoint)" if model in ctx.bases else "",
    )
    lines = [
        CloudLine(model, cm, ivs[f"cloud_cost_per_request@{cm}"], bm.mean("cost_in")[0], bm.mean("cost_out")[0],
                  _projection(bm, model, price, watts, source, ctx.settings, confidence, ctx.bases.get(model)))
        for cm, price in ctx.prices.items()
        if isinstance(price, C.CloudPrice)  # cost_context(strict=True) raised for any other
    ]
    return line, lines


def _projection(bm: Any, model: str, price: C.CloudPrice, watts: float, source: str, s: C.CostSettings,
                confidence: float, basis: C.PriceBasis | None = None) -> C.Projection:
    """core.cost.project's quantities on this model's joint resamples (cluster-aware)."""
    vol = s.volume_per_month
    sec, bsec = bm.mean("cost_s")
    if sec is None:
        empty = Interval(None, None, None, bm.method, confidence, 0, note="no successful requests")
        return C.Projection(model, price.model, vol, *([empty] * 7), 0, source, price, s.currency, "no successful requests")  # type: ignore[arg-type]
    inp, binp = bm.mean("cost_in")
    out, bout = bm.mean("cost_out")
    point = C._projection_quantities(C._Means(np.array([sec]), np.array([inp]), np.array([out])), watts, price, s, vol, basis)  # noqa: SLF001
    boot = C._projection_quantities(C._Means(bsec, binp, bout), watts, price, s, vol, basis)  # noqa: SLF001
    n = bm.count("cost_s")[0]

    def iv(key: str, what: str = "", scale: float = 1.0) -> Interval:
        est = float(point[key][0]) * scale
        if bm.n_clusters < 2 and math.isfinite(est):
            return Interval(est, None, None, bm.method, confidence, n, note="fewer than 2 prompts: no interval")
        r = C._interval(est, boot[key] * scale, confidence, n, bm.n_resamples, bm.seed, what)  # noqa: SLF001
        return dataclasses.replace(r, method=bm.method)

    machines = int(point["machines"][0])
    notes = [C.TOKENIZER_NOTE] + ([f"the volume needs {machines} machines serving one request at a time"] if machines > 1 else [])
    return C.Projection(model, price.model, vol, iv("local"), iv("local", scale=12), iv("cloud"), iv("cloud", scale=12),
                        iv("savings"), iv("break_even", "break-even"), iv("capacity"), machines, source, price,  # type: ignore[arg-type]
                        s.currency, "; ".join(notes))


def _assumptions(s: C.CostSettings, ctx: Any) -> tuple[str, ...]:
    powers = sorted({f"{w:g} W ({src}: {prof})" for m, (w, src, prof) in ctx.power.items() if m not in ctx.bases})
    priced = [f"{m}: {b.source}, {b.label}" for m, b in ctx.bases.items()]
    return (
        f"electricity {s.electricity_price_per_kwh:g} {s.currency}/kWh; hardware {s.hardware_price_usd:,.0f} {s.currency} "
        f"written off over {s.lifetime_years:g} years" + (f" at {s.utilisation:.0%} utilisation" if s.cost_model == "shared" else "")
        + f" ({C.COST_MODELS[s.cost_model]})",
        f"power draw while generating: {', '.join(powers) or 'n/a'} (idle power and the rest of the host not counted)",
        f"volume {s.volume_per_month:,} requests/month; one request at a time per machine",
        f"cloud prices: {C.price_snapshot()} unless overridden in data/pricing.yaml; {C.TOKENIZER_NOTE}",
        "only successful requests are counted",
    ) + ((f"HTTP models priced by their endpoint (energy and hardware not applicable): {'; '.join(priced)}",) if priced else ())


# =========================================================================== sample size


@dataclass(frozen=True)
class SampleSizeRow:
    model_a: str
    model_b: str | None
    n_prompts: int
    sd_difference: float | None
    prompts_needed: int | None
    detectable_now: float | None  # mean difference detectable at the current n
    note: str = ""


@dataclass(frozen=True)
class SampleSizeReport:
    run_id: str
    metric: str
    effect: float  # metric units (pass rate: a fraction)
    alpha: float
    power: float
    rows: tuple[SampleSizeRow, ...]
    prompts_needed: int | None  # the most any pair needs
    sentence: str
    method: str = "paired t test on per-prompt differences (noncentral t), repeats averaged per prompt"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "llm-eval/sample-size/v1", **_jsonable(self), "unit": metric_info(self.metric).unit}


def sample_size(
    store: Store,
    run_id: str,
    metric: str,
    effect: float,
    *,
    baseline: str | None = None,
    models: Sequence[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    power: float = 0.8,
) -> SampleSizeReport:
    """Prompts needed to detect a mean difference `effect` (metric units) between models, from
    the SD of their per-prompt differences in this run (each model vs `baseline`, else all
    pairs). With one model, the SD of differences is approximated as sqrt(2) x its SD."""
    col = resolve_metric(metric)
    if not effect or not math.isfinite(effect):
        raise ValueError("--effect must be a non-zero number in the metric's unit (e.g. 50 for 50 ms, 0.05 for 5 points of pass rate)")
    data = _load(store, run_id, ["model", "item_id", "status"] + ([] if col == "passed" else _stored([col])), models,
                 with_run_models=col in DERIVED)
    df, order = _with_derived(data.samples, [col], None, data.measured_watts, data.price_bases), data.order
    ok = df[(df["status"] == "ok") & df[col].notna()]
    means = ok.assign(v=ok[col].astype(float)).groupby(["item_id", "model"])["v"].mean().unstack("model")
    present = [m for m in order if m in means.columns] + sorted(set(means.columns) - set(order))
    if baseline is not None and baseline not in present:
        raise ValueError(f"baseline {baseline!r} has no {col} values in run {run_id}; models: {', '.join(present) or 'none'}")
    pairs = [(m, baseline) for m in present if m != baseline] if baseline else [
        (a, b) for i, a in enumerate(present) for b in present[i + 1:]]
    rows = []
    for a, b in pairs:
        d = (means[a] - means[b]).dropna().to_numpy(float)
        rows.append(_ss_row(a, b, d, effect, alpha, power, ""))
    if len(present) == 1:
        x = means[present[0]].dropna().to_numpy(float)
        rows.append(_ss_row(present[0], None, x, effect, alpha, power, "one model: SD of differences taken as sqrt(2) x the SD of its per-prompt values", single=True))
    needed = [r.prompts_needed for r in rows if r.prompts_needed is not None]
    most = max(needed) if needed else None
    info = metric_info(col)
    eff = f"{_fmt(abs(effect), info.scale)} {info.diff_unit or info.unit}".rstrip()
    sentence = (f"to detect a mean difference of {eff} in {info.label} with {power:.0%} power at alpha {alpha:g}, "
                f"run about {most:,} prompts per model" if most else
                f"not computable for {info.label}: {rows[0].note if rows else 'no values in this run'}")
    return SampleSizeReport(run_id, col, float(effect), alpha, power, tuple(rows), most, sentence)


def _ss_row(a: str, b: str | None, d: np.ndarray, effect: float, alpha: float, power: float, note: str,
            single: bool = False) -> SampleSizeRow:
    n = int(d.size)
    if n < 2:
        return SampleSizeRow(a, b, n, None, None, None, "fewer than 2 prompts with values: no SD")
    sd = float(np.std(d, ddof=1)) * (math.sqrt(2) if single else 1.0)
    if sd <= 0:
        return SampleSizeRow(a, b, n, sd, None, None, "no spread in the per-prompt differences: any real difference shows at once")
    need = required_sample_size(effect, sd, alpha=alpha, power=power)
    now = minimum_detectable_effect(sd, n, alpha=alpha, power=power)
    return SampleSizeRow(a, b, n, sd, need.n, now.effect, note or need.note)


# =========================================================================== recommendation


@dataclass(frozen=True)
class Recommendation:
    run_id: str
    model: str | None
    why: str
    rule: str
    efficient: tuple[str, ...]  # Pareto-efficient models (quality, latency, cost, memory)
    considered: tuple[str, ...]  # the contenders: the best-quality model, then those not significantly below it

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "llm-eval/recommendation/v1", **_jsonable(self)}


_CORRECTION = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
RECOMMEND_RULE = (
    "among the Pareto-efficient models (quality up; latency, cost and memory down), take the best mean "
    "quality; every efficient model whose quality is not significantly lower (quality comparison, adjusted "
    "p >= alpha, or no test possible) is a contender, and the contenders go to the lowest median latency "
    "when that model is significantly faster than each other contender (latency comparison). Without quality "
    "scores every efficient model is a contender. No model is recommended when none passed a scored check, "
    "when the pick passed none, or when the evidence cannot separate the contenders."
)


def recommend(
    store: Store,
    run_id: str,
    *,
    comparison: RunComparison | None = None,
    alpha: float = DEFAULT_ALPHA,
    settings: C.CostSettings | None = None,
) -> Recommendation:
    """The model to ship, with a plain-language why (rule: RECOMMEND_RULE); model None, and why,
    when nothing passed or the evidence cannot separate the contenders."""
    comp = comparison or compare_run(store, run_id, metrics=("quality",), use_champion=False, alpha=alpha, settings=settings)
    t = comp.pareto_table.set_index("model")
    efficient = tuple(p.model for p in comp.pareto if p.efficient)
    if not efficient:
        return Recommendation(run_id, None, "no model completed a request in this run, so none can be recommended",
                              RECOMMEND_RULE, (), ())
    lat = {m: t.loc[m, "latency_ms"] if _f(t.loc[m, "latency_ms"]) is not None else math.inf for m in efficient}
    scored = [m for m in efficient if _f(t.loc[m, "quality"]) is not None]
    ctx = _RecContext(store, run_id, comp, t, lat, alpha, settings, efficient)
    if not scored:
        return ctx.decide(list(efficient), "no quality scores in this run")
    best = max(scored, key=lambda m: (t.loc[m, "quality"], -lat[m]))
    if all(ctx.passed(m) == 0 for m in t.index if _f(t.loc[m, "quality"]) is not None):
        return ctx.result(None, f"no model passed a single scored check (best mean quality {ctx.quality(best)}), "
                                "so none can be recommended", (best,))
    lower = {m for m in scored if m != best and _lower(comp.find("quality", best, m), m, alpha)}
    return ctx.decide([best, *(m for m in scored if m != best and m not in lower)], "")


@dataclass(frozen=True, eq=False)
class _RecContext:
    """What recommend's steps share: the comparison, the Pareto table and median latencies."""

    store: Store
    run_id: str
    comp: RunComparison
    table: pd.DataFrame
    lat: Mapping[str, float]
    alpha: float
    settings: C.CostSettings | None
    efficient: tuple[str, ...]

    def result(self, model: str | None, why: str, considered: Sequence[str]) -> Recommendation:
        return Recommendation(self.run_id, model, why, RECOMMEND_RULE, self.efficient, tuple(considered))

    def passed(self, m: str) -> int | None:
        """Scored requests of m that passed (None: not known, or m has no quality scores)."""
        if "passed" not in self.table.columns or _f(self.table.loc[m, "quality"]) is None:
            return None
        v = _f(self.table.loc[m, "passed"])
        return None if v is None else int(v)

    def quality(self, m: str) -> str:
        return f"{self.table.loc[m, 'quality']:.2f}/10"

    def decide(self, contenders: list[str], no_quality: str) -> Recommendation:
        """contenders[0] is the best (quality) when scored; the pick is the fastest, when it passed
        a scored check and is significantly faster than each other contender."""
        pick = min(contenders, key=lambda m: self.lat[m])
        ties = self._ties(contenders) if not no_quality and len(contenders) > 1 else ""
        cannot = f"the evidence cannot separate {_and(contenders)}: {ties or no_quality}, and "
        if self.passed(pick) == 0:
            return self.result(None, (cannot + f"{pick}, the fastest of them," if ties else
                                      f"{pick} has the best mean quality ({self.quality(pick)}) but")
                               + " passed none of its scored checks, so none can be recommended", contenders)
        if len(contenders) == 1:
            return self.result(pick, self._alone(pick, no_quality), contenders)
        faster = self._latency(pick, [m for m in contenders if m != pick])
        unclear = [m for m, c in faster.items() if not _lower(c, pick, self.alpha)]
        if unclear:
            return self.result(None, cannot + f"{pick}'s median latency ({_fmt(self.lat[pick])} ms) is not significantly "
                               "below " + ", ".join(f"{m}'s ({_fmt(self.lat[m])} ms; {_p(faster[m])})" for m in unclear)
                               + ", so none can be recommended; more prompts may tell them apart", contenders)
        return self.result(pick, f"{pick}: {ties or no_quality}, and {pick} is significantly faster than " + ", ".join(
            f"{m} ({_fmt(self.lat[pick])} ms vs {_fmt(self.lat[m])} ms median latency; {_p(c)})" for m, c in faster.items()),
            contenders)

    def _alone(self, pick: str, no_quality: str) -> str:
        if no_quality:
            return f"{pick}: {no_quality}; the only Pareto-efficient model, at a median latency of {_fmt(self.lat[pick])} ms"
        return (f"{pick} has the best mean quality ({self.quality(pick)}) among the Pareto-efficient models "
                f"({', '.join(self.efficient)}), at a median latency of {_fmt(self.lat[pick])} ms"
                + ("; every other efficient model scores significantly lower" if len(self.efficient) > 1 else ""))

    def _ties(self, contenders: list[str]) -> str:
        best, rest = contenders[0], contenders[1:]
        return (f"{best} has the best mean quality ({self.quality(best)}), but "
                + ", ".join(f"{m} ({self.quality(m)}; {_p(self.comp.find('quality', best, m))})" for m in rest)
                + (" is" if len(rest) == 1 else " are") + " not significantly lower")

    def _latency(self, pick: str, others: list[str]) -> dict[str, Comparison | None]:
        found = {m: self.comp.find("latency", pick, m) for m in others}
        if any(c is None for c in found.values()):  # the comparison passed in had no latency tests for these
            extra = compare_run(self.store, self.run_id, metrics=("latency",), models=[pick, *others], baseline=pick,
                                use_champion=False, alpha=self.alpha, settings=self.settings)
            found = {m: c or extra.find("latency", pick, m) for m, c in found.items()}
        return found


def _lower(c: Comparison | None, m: str, alpha: float) -> bool:
    """True when the comparison shows m significantly lower than the other model."""
    if c is None or not c.significant(alpha):
        return False
    return (c.direction, m) in (("a_higher", c.model_b), ("b_higher", c.model_a))


def _p(c: Comparison | None) -> str:
    """'p = 0.031 after Holm correction', or why there is no p-value."""
    if c is None or c.p_final is None:
        return "too little data for a test"
    corr = f" after {_CORRECTION.get(c.correction, c.correction)} correction" if c.correction else ""
    return f"p = {c.p_final:.2g}{corr}"


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
