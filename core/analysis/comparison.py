"""Run comparison: pairwise tests, verdicts, the Pareto table, latency drift and cold start, for
the models of one run (compare_run) or arms (run, model) of different runs (compare_arms).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

import core.analysis.costs as C
from core.analysis.cost_context import cost_context, measured_power, run_price_bases
from core.analysis.rating_metric import HUMAN_RATING, rated_note
from core.analysis.rules import choose_baseline, pareto_table
from core.analysis.runs import (
    DEFAULT_METRICS,
    RunData,
    load_run,
    resolve_metric,
    stored_columns,
    watts_for,
    with_derived,
)
from core.analysis.sample_size import SampleSizeAdvice, comparison_advice
from core.analysis.to_json import finite, interval_dict, jsonable
from core.arms import Arm, ArmError, Pairing, load_arms, parse_arm
from core.compare import Comparison, comparisons_frame, pairwise, verdict
from core.queries import aggregate, run_models
from core.stats import (
    ColdStart,
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    Drift,
    METHODS,
    ParetoPoint,
    cold_start,
    drift,
    pareto_front,
)
from core.store import Store


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
                     **{k: finite(v) for k, v in self._pareto_row(p.model).items()}}
                    for p in self.pareto
                ],
            },
            "drift": {m: jsonable(d) for m, d in self.drift.items()},
            "cold_start": {m: jsonable(c) for m, c in self.cold_start.items()},
            "sample_size_advice": [jsonable(a) for a in self.advice],
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
        "test": c.test.test, "statistic": finite(c.statistic), "p_value": finite(c.p_value), "p_adjusted": finite(c.p_adjusted),
        "correction": c.correction, "significant": c.significant(alpha), "direction": c.direction, "better": c.better(alpha),
        "n_a": c.n_a, "n_b": c.n_b, "n_pairs": c.n_pairs,
        "difference": interval_dict(c.difference), "ratio": interval_dict(c.ratio),
        "cohen_d": finite(c.cohen_d), "cliffs_delta": finite(c.cliffs_delta), "rank_biserial": finite(c.rank_biserial),
        "equivalence": jsonable(c.equivalence), "power": jsonable(c.power),
        "notes": list(c.notes) + ([c.test.note] if c.test.note and c.test.note not in c.notes else []),
        "verdict": verdict(c, alpha),
    }


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
    data = load_run(store, run_id, _fetched(cols), models, with_aggregate=True, with_run_models=True, with_champion=use_champion)
    opts = _Options(correction, dict(margins or {}), alpha, confidence, n_resamples, seed, test, settings, measured_watts)
    return _compare_loaded(data, run_id, cols, lambda present: choose_baseline(run_id, present, baseline, data.champion), opts)


def _metric_columns(metrics: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(resolve_metric(m) for m in metrics))


def _fetched(cols: Sequence[str]) -> list[str]:
    """The sample columns a comparison of `cols` reads (latency always: drift, cold start)."""
    return ["model", "item_id", "seq", "status", *dict.fromkeys(c for c in (*stored_columns(cols), "latency_ms") if c != "passed")]


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


def _compare_loaded(data: RunData, run_id: str, cols: list[str], choose_baseline: Any, o: _Options) -> RunComparison:
    """Tests, verdicts, Pareto, drift, cold start and advice over loaded samples (one run's
    models, or arms labelled model@run). choose_baseline(present) -> (baseline, source)."""
    agg: pd.DataFrame = data.aggregate  # type: ignore[assignment]
    # one cost context for the cost metric and the Pareto table (neither reads cloud prices)
    priced = set(map(str, agg.index[agg["ok"] > 0]))
    if "local_cost" in cols:
        priced |= set(map(str, data.samples["model"].unique()))
    ctx = cost_context(dataclasses.replace(o.settings or C.CostSettings(), cloud_models=()), sorted(priced),
                       measured_watts=watts_for(o.measured_watts, data), price_bases=data.price_bases)
    df = with_derived(data.samples, cols, o.settings, ctx=ctx)
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
    if HUMAN_RATING in usable and len(present) >= 2:
        notes.append(rated_note(ok, present))  # type: ignore[arg-type]
    comps: tuple[Comparison, ...] = ()
    if len(present) >= 2 and usable:
        mg = {resolve_metric(k): v for k, v in o.margins.items()}
        keep = df[df["model"].isin(present)]
        frame = keep.assign(model=pd.Categorical(keep["model"], categories=present, ordered=True)).sort_values(["model", "seq"])
        # the model stays categorical (spec order): core.compare groups by its codes
        comps = pairwise(frame, usable, baseline=baseline, correction=o.correction, test=o.test, margins=mg, alpha=o.alpha,
                         confidence=o.confidence, n_resamples=o.n_resamples, seed=o.seed)
    elif len(present) < 2:
        notes.append("fewer than two models with samples: nothing to compare")
    table = pareto_table(agg, present, o.settings or C.CostSettings(), ctx=ctx, footprints=_footprints(data.run_models))
    pts = pareto_front(table) if not table.empty else ()
    series = _in_order(ok, present)
    return RunComparison(
        run_id, tuple(usable), comps, baseline, source, o.correction, o.alpha, o.confidence, pts, table,
        _drifts(series, o.alpha, o.confidence), _cold_starts(data.run_models, series),  # type: ignore[arg-type]
        comparison_advice(comps, o.alpha), tuple(notes),
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
    run: RunData  # keyed by arm label
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
    run = RunData(data.labels, data.frame, agg, rm_all, None, bases, measured_power(rm_all))
    return _ArmsLoaded(run, data.pairing)


def _footprints(rm: pd.DataFrame | None) -> dict[str, float | None]:
    """run_models.model_footprint_mb per model (empty for a database without the column)."""
    if rm is None or "model_footprint_mb" not in rm.columns:
        return {}
    return {str(m): finite(v) for m, v in rm["model_footprint_mb"].items()}


def _in_order(ok: pd.DataFrame, models: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each model's (latency, seq) in sample order: the rows of ok[ok["model"] == m].sort_values("seq"),
    split from one pass over the model codes (a boolean mask per model read a million rows ten
    times); a model's rows are sorted only when they are not in seq order already (fetch orders
    them by model, seq)."""
    col = ok["model"]
    codes, names = (col.cat.codes.to_numpy(), col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) \
        else pd.factorize(col)
    index = {str(name): i for i, name in enumerate(names)}
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    lat, seq = ok["latency_ms"].to_numpy(dtype=float, na_value=np.nan), ok["seq"].to_numpy(dtype=float)
    out = {}
    for m in models:
        i = index.get(str(m))
        rows = order[bounds[i]:bounds[i + 1]] if i is not None else np.zeros(0, dtype=np.intp)
        if rows.size > 1 and not bool((seq[rows][1:] > seq[rows][:-1]).all()):
            g = ok.iloc[rows].sort_values("seq")  # ties or disorder: exactly the sort the mask would have had
            out[m] = (g["latency_ms"].to_numpy(dtype=float, na_value=np.nan), g["seq"].to_numpy(dtype=float))
        else:
            out[m] = (lat[rows], seq[rows])
    return out


def _drifts(series: Mapping[str, tuple[np.ndarray, np.ndarray]], alpha: float, confidence: float) -> dict[str, Drift]:
    return {m: drift(lat, seq, alpha=alpha, confidence=confidence) for m, (lat, seq) in series.items()}


def _cold_starts(rm: pd.DataFrame, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, ColdStartInfo]:
    out = {}
    for m, (lat, _) in series.items():
        warm = finite(rm.loc[m, "cold_latency_ms"]) if m in rm.index else None
        out[m] = ColdStartInfo(m, warm, cold_start(lat))
    return out
