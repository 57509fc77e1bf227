"""The KPI table of a run: one row per model (and category) and KPI, each with its interval.

Counts, means, percentiles and totals come from one DuckDB aggregate (fast on millions of
rows). Intervals come from core.stats on per-model arrays fetched once with only the
needed columns: latency and TTFT percentiles from `summarize` (BCa bootstrap, or a cluster
bootstrap over prompts when prompts repeat); every other mean, ratio and cost from one
joint resample of prompts per model (`bootstrap_means`); proportions from `proportion_ci`
(Wilson, or the cluster bootstrap). Use it through core.analysis.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core import cost as C
from core.measure import BUSY_MIN_SAMPLES, BUSY_OTHER_CPU, BUSY_SHARE_FLAG
from core.schemas import ERROR_KINDS
from core.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    BootstrapMeans,
    Interval,
    agreeing_clusters_ci,
    bootstrap_means,
    mean_ci,
    summarize,
    wilson_ci,
)
from core.queries import (
    Source,
    aggregate,
    aggregate_rates,
    fetch,
    manifest_model_specs,
    run_models,
    run_models_order,
    run_scorers,
)
from core.store import Store

ALL = None  # the category of a model's overall rows
_STATUS = ("ok", "error", "timeout", "skipped", "cancelled")


# =========================================================================== definitions


@dataclass(frozen=True)
class KpiDef:
    name: str
    section: str
    unit: str
    description: str

    @property
    def has_interval(self) -> bool:
        """Whether the KPI gets a confidence interval (counts, extremes and totals do not)."""
        return self.name in _WITH_INTERVAL or self.section == "cloud" or self.name.startswith("score_")


def _defs(section: str, rows: Sequence[tuple[str, str, str]]) -> list[KpiDef]:
    return [KpiDef(n, section, u, d) for n, u, d in rows]


def _dist(prefix: str, label: str) -> list[tuple[str, str, str]]:
    return [
        (f"{prefix}_mean", "ms", f"mean {label} of successful requests"),
        (f"{prefix}_p50", "ms", f"median {label}"),
        (f"{prefix}_p90", "ms", f"90th percentile {label}"),
        (f"{prefix}_p95", "ms", f"95th percentile {label}"),
        (f"{prefix}_p99", "ms", f"99th percentile {label}"),
        (f"{prefix}_std", "ms", f"standard deviation of {label}"),
        (f"{prefix}_cv", "ratio", f"coefficient of variation of {label} (std / mean)"),
        (f"{prefix}_min", "ms", f"fastest {label}"),
        (f"{prefix}_max", "ms", f"slowest {label}"),
    ]


BASE_DEFS: tuple[KpiDef, ...] = tuple(
    _defs("counts", [
        ("samples", "count", "rows stored for the model (every status)"),
        ("ok", "count", "successful requests"),
        ("errors", "count", "requests that failed with an error"),
        ("timeouts", "count", "requests stopped at the per-sample time limit"),
        ("skipped", "count", "requests not attempted (circuit breaker, model unavailable)"),
        ("cancelled", "count", "requests cancelled by the user"),
        ("error_rate", "fraction", "share of attempted requests (ok, error, timeout) that did not succeed"),
    ])
    + _defs("counts", [(f"errors_{k}", "count", f"non-ok rows with error kind '{k}'") for k in ERROR_KINDS])
    + _defs("latency", _dist("latency_ms", "end-to-end latency"))
    + _defs("ttft", _dist("ttft_ms", "time to first token"))
    + _defs("throughput", [
        ("tokens_per_s", "tok/s", "aggregate: total output tokens / total request time"),
        ("decode_tps_aggregate", "tok/s", "aggregate decode rate: total (tokens - 1) / total (latency - TTFT)"),
        ("decode_tps_mean", "tok/s", "per-request decode rate (tokens - 1) / (latency - TTFT), mean"),
        ("decode_tps_p50", "tok/s", "per-request decode rate, median"),
    ])
    + _defs("tokens", [
        ("input_tokens_mean", "tokens", "input (prompt) tokens per request"),
        ("output_tokens_mean", "tokens", "output tokens per request"),
        ("input_tokens_total", "tokens", "input tokens of all successful requests"),
        ("output_tokens_total", "tokens", "output tokens of all successful requests"),
    ])
    + _defs("memory", [
        ("model_footprint_mb", "MB", "model footprint: memory the loaded model holds (accelerator memory its load "
         "added on CUDA/MPS; its weights and buffers in memory on CPU)"),
        ("mem_added_mb_max", "MB", "peak added per generation, largest: memory one generation needed above the "
         "level before it (KV cache, activations; accelerator memory on CUDA/MPS, RSS on CPU)"),
        ("mem_added_mb_mean", "MB", "peak added per generation, mean"),
        ("memory_needed_mb", "MB", "memory to fit the model: model footprint + largest peak added per generation"),
        ("peak_rss_mb_max", "MB", "process peak RSS, highest: the whole process (interpreter, libraries, every "
         "loaded model); context, not the model's own memory"),
        ("peak_rss_mb_mean", "MB", "process peak RSS per request, mean (the whole process; context)"),
        ("peak_accel_mb_max", "MB", "process peak accelerator memory, highest (every loaded model; null on CPU)"),
        ("weights_mb", "MB", "size of the weights on disk"),
        ("params", "count", "parameters of the model"),
        ("load_time_s", "s", "time to load the model"),
        ("load_rss_mb", "MB", "process RSS the load added (also one-time library imports; weights mapped from "
         "disk count only once read)"),
    ])
    + _defs("warm_cold", [
        ("cold_latency_ms", "ms", "latency of the untimed warm-up request after loading"),
        ("warm_latency_ms", "ms", "median latency of the timed (warm) requests"),
        ("cold_warm_ratio", "ratio", "cold latency / warm median"),
        ("cold_excess_ms", "ms", "cold latency - warm median"),
        ("first_latency_ms", "ms", "latency of the first timed request"),
    ])
    + _defs("quality", [
        ("quality_mean", "points 0-10", "composite quality score, mean"),
        ("quality_p50", "points 0-10", "composite quality score, median"),
        ("scored", "count", "successful requests with a quality score"),
        ("pass_rate", "fraction", "share of scored requests that passed (quality >= 5)"),
        ("passed", "count", "scored requests that passed"),
    ])
    + _defs("cost", [
        ("power_watts", "W", "power draw used for energy (measured or assumed; see power_source)"),
        ("energy_wh_per_request", "Wh", "energy per request"),
        ("energy_cost_per_request", "USD", "electricity cost per request"),
        ("amortisation_per_request", "USD", "hardware share per request under the cost model (dedicated: the monthly "
                                             "write-off over the monthly volume; shared: by utilisation)"),
        ("local_cost_per_request", "USD", "energy + hardware share per request (x volume = the monthly local cost)"),
        ("local_cost_per_1k_output_tokens", "USD", "local cost per 1,000 output tokens"),
    ])
)

SERVING_DEFS: tuple[KpiDef, ...] = tuple(_defs("serving", [
    ("requests_per_s", "req/s", "HTTP serving throughput at the run's concurrency"),
    ("output_tps_serving", "tok/s", "HTTP serving output tokens per second"),
    ("goodput", "fraction", "share of requests within the goodput limits"),
]))


_WITH_INTERVAL = frozenset(
    [f"{p}_{s}" for p in ("latency_ms", "ttft_ms") for s in ("mean", "p50", "p90", "p95", "p99", "std", "cv")]
    + ["error_rate", "tokens_per_s", "decode_tps_aggregate", "decode_tps_mean", "input_tokens_mean", "output_tokens_mean",
       "mem_added_mb_mean", "peak_rss_mb_mean", "quality_mean", "pass_rate", "energy_wh_per_request", "energy_cost_per_request",
       "amortisation_per_request", "local_cost_per_request", "local_cost_per_1k_output_tokens"]
)


def scorer_def(name: str) -> KpiDef:
    return KpiDef(f"score_{name}_mean", "quality", "fraction 0-1", f"mean of the {name} scorer (0-1)")


def cloud_defs(cloud_model: str) -> tuple[KpiDef, KpiDef]:
    return (
        KpiDef(f"cloud_cost_per_request@{cloud_model}", "cloud", "USD", f"what the same token counts cost on {cloud_model}, per request"),
        KpiDef(f"savings_pct@{cloud_model}", "cloud", "%", f"(cloud - local) / cloud at the monthly volume, vs {cloud_model}"),
    )


# =========================================================================== result


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
        return None if r is None else _num(r["value"])

    def interval(self, model: str, kpi: str, category: str | None = ALL) -> Interval | None:
        """The KPI's interval; None when it has none (the missing method reads back as None or
        NaN, depending on the pandas version)."""
        x = self._index.get((model, category, kpi))
        if x is None or not isinstance(x["method"], str) or not x["method"]:
            return None
        return Interval(_num(x["value"]), _num(x["low"]), _num(x["high"]), x["method"], float(x["confidence"]),
                        _int(x["n"]) or 0, _int(x["n_resamples"]), _int(x["seed"]),
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
    "t": "t interval", "wilson": "Wilson score", "wilson-clusters": "Wilson score on prompts (repeats agree)",
}
FRAME_COLUMNS = ("model", "category", "kpi", "section", "value", "low", "high", "unit", "method", "confidence", "n", "n_resamples", "seed", "note")


def settings_dict(s: C.CostSettings) -> dict[str, Any]:
    return {f: (list(v) if isinstance(v, tuple) else v) for f, v in vars(s).items()}


def _num(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _int(x: object) -> int | None:
    v = _num(x)
    return None if v is None else int(v)


def _json_row(r: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k in FRAME_COLUMNS:
        v = r.get(k)
        if k in ("value", "low", "high", "confidence"):
            v = _num(v)
        elif k in ("n", "n_resamples", "seed"):
            v = _int(v)
        elif isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out


def interval_dict(iv: Interval | None) -> dict[str, Any] | None:
    """An Interval as JSON (the shape every `--format json` output uses)."""
    if iv is None:
        return None
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "method": iv.method, "confidence": iv.confidence,
            "n": iv.n, "n_resamples": iv.n_resamples, "seed": iv.seed, "note": iv.note}


# =========================================================================== run data


def measured_power(rm: pd.DataFrame) -> dict[str, float]:
    """Mean watts per model measured during the run (NVML / RAPL; run_models.power_w)."""
    if "power_w" not in rm.columns:
        return {}
    w = pd.to_numeric(rm["power_w"], errors="coerce")
    return {str(m): float(v) for m, v in w.items() if np.isfinite(v) and v >= 0}


# =========================================================================== intervals per group


@dataclass(frozen=True)
class CostContext:
    """Cost inputs resolved once per table: settings, power per model, cloud prices."""

    settings: C.CostSettings
    power: Mapping[str, tuple[float, str, str]]  # model -> (watts, source, profile); HTTP priced: (nan, basis source, label)
    prices: Mapping[str, C.CloudPrice | str]  # cloud model -> price, or why there is none
    bases: Mapping[str, C.PriceBasis] = field(default_factory=dict)  # HTTP models priced by their endpoint


def cost_context(settings: C.CostSettings, models: Sequence[str], *, measured_watts: Mapping[str, float] | None = None,
                 overrides: C.PricingOverrides | None = None, at: Any = None, strict: bool = False,
                 price_bases: Mapping[str, Mapping[str, Any]] | None = None) -> CostContext:
    """Resolve power and cloud prices. strict: an unknown cloud model raises LookupError.
    price_bases: model -> its catalog price basis with "concurrency" (see run_price_bases);
    those models are priced by it (an unknown price model: LookupError when strict, else the
    model falls back to the local formula with a note in its profile)."""
    overrides = C.load_pricing() if overrides is None else overrides
    power: dict[str, tuple[float, str, str]] = {}
    bases: dict[str, C.PriceBasis] = {}
    for m in models:
        raw = (price_bases or {}).get(m)
        if raw:
            try:
                b = C.resolve_price_basis(raw, concurrency=raw.get("concurrency"), overrides=overrides, at=at)
            except LookupError:
                if strict:
                    raise
                b = None
            if b is not None:
                bases[m] = b
                power[m] = (math.nan, b.source, b.label)
                continue
        w = (measured_watts or {}).get(m)
        if w is not None and math.isfinite(w) and w >= 0:
            power[m] = (float(w), "measured", "measured")
        else:
            prof = C.assumed_power(settings, overrides)
            power[m] = (float(prof.watts), "assumed", prof.name)
    prices: dict[str, C.CloudPrice | str] = {}
    for cm in settings.cloud_models:
        try:
            prices[cm] = C.cloud_price(cm, overrides, at)
        except LookupError as exc:
            if strict:
                raise
            prices[cm] = str(exc.args[0] if exc.args else exc)
    return CostContext(settings, power, prices, bases)


def run_price_bases(source: Source, run_id: str, rm: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Price bases of the run's HTTP models from its manifest (the specs as they were when the
    run was created, so old runs stay reproducible), each with the run's "concurrency" for the
    model (run_models.concurrency; 1 when unknown). Models without a basis are left out."""
    specs = manifest_model_specs(source, run_id)
    out = {}
    for m, spec in specs.items():
        basis = spec.get("price_basis") if isinstance(spec, dict) and spec.get("kind") == "http" else None
        if not basis:
            continue
        conc = None
        if rm is not None and "concurrency" in rm.columns and m in rm.index:
            conc = _int(rm.loc[m, "concurrency"])
        out[str(m)] = {**basis, "concurrency": conc if conc and conc >= 1 else 1}
    return out


def _boot(done: pd.DataFrame, scorers: Sequence[str], n_resamples: int | None, seed: int) -> BootstrapMeans:
    """One joint resample of prompts over the attempted rows; metrics count successful rows only."""
    is_ok = (done["status"] == "ok").to_numpy()

    def col(name: str) -> np.ndarray:
        return np.where(is_ok, done[name].to_numpy(dtype=float, na_value=np.nan), np.nan)

    lat, ttft, dec = col("latency_ms"), col("ttft_ms"), col("decode_tps")
    inp, out = col("input_tokens"), col("output_tokens")
    cols: dict[str, np.ndarray] = {"error": (~is_ok).astype(float), "passed": col("passed")}
    for name, x in (("lat", lat), ("ttft", ttft)):
        centre = np.nanmean(x) if np.isfinite(x).any() else 0.0
        cols[f"{name}_c"], cols[f"{name}_c2"] = x - centre, (x - centre) ** 2
    cols.update(decode_tps=dec, input_tokens=inp, output_tokens=out, peak_rss_mb=col("peak_rss_mb"),
                mem_added_mb=col("mem_added_mb"), quality=col("quality"))
    both = np.isfinite(lat) & np.isfinite(out)
    cols["tp_out"], cols["tp_s"] = np.where(both, out, np.nan), np.where(both, lat / 1000, np.nan)
    dmask = np.isfinite(dec) & np.isfinite(lat) & np.isfinite(ttft) & np.isfinite(out)
    cols["dec_tok"], cols["dec_s"] = np.where(dmask, out - 1, np.nan), np.where(dmask, (lat - ttft) / 1000, np.nan)
    cmask = np.isfinite(lat) & np.isfinite(inp) & np.isfinite(out)
    cols["cost_s"], cols["cost_in"], cols["cost_out"] = (np.where(cmask, v, np.nan) for v in (lat / 1000, inp, out))
    for s in scorers:
        cols[f"score_{s}"] = col(f"score_{s}")
    return bootstrap_means(cols, done["item_id"].astype(str).to_numpy(), n_resamples=n_resamples, seed=seed)


def _spread(bm: BootstrapMeans, name: str, centre: float, confidence: float) -> tuple[Interval, Interval]:
    """Std and CV intervals from centred sums and sums of squares (shift-invariant)."""
    n, bn = bm.count(f"{name}_c")
    m1, b1 = bm.mean(f"{name}_c")
    m2, b2 = bm.mean(f"{name}_c2")
    if n < 2 or m1 is None or m2 is None:
        undefined = Interval(None, None, None, bm.method, confidence, n, note="fewer than 2 values: no spread")
        return undefined, undefined
    with np.errstate(invalid="ignore", divide="ignore"):
        std = math.sqrt(max(m2 - m1 * m1, 0.0) * n / (n - 1))
        bstd = np.sqrt(np.maximum(b2 - b1 * b1, 0.0) * bn / np.where(bn > 1, bn - 1, np.nan))
        mean = m1 + centre
        cv, bcv = (std / mean if mean else None), bstd / (b1 + centre)
    return bm.interval(std, bstd, confidence=confidence, n=n), bm.interval(cv, bcv, confidence=confidence, n=n)


def within_scale(iv: Interval, lo: float, hi: float) -> Interval:
    """A mean's interval cut to the scale its values live on (quality 0-10, a scorer 0-1): a t
    interval on a few prompts can reach below 0, which no mean of these values can."""
    if not iv.is_defined or (iv.low >= lo and iv.high <= hi):  # type: ignore[operator]
        return iv
    note = f"{iv.note}; " if iv.note else ""
    return dataclasses.replace(iv, low=max(lo, iv.low), high=min(hi, iv.high),  # type: ignore[type-var]
                               note=f"{note}cut to the scale {lo:g}-{hi:g}")


def group_intervals(df: pd.DataFrame, model: str, scorers: Sequence[str], ctx: CostContext | None, *,
                    confidence: float, n_resamples: int | None, seed: int) -> dict[str, Interval]:
    """Every KPI interval of one model (or one model's category) from its sample rows."""
    ok = df[df["status"] == "ok"]
    done = df[df["status"].isin(["ok", "error", "timeout"])]
    clusters = pd.factorize(ok["item_id"])[0]  # integer prompt codes: cheaper to group than strings
    out: dict[str, Interval] = {}
    kw = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    bm = _boot(done, scorers, n_resamples, seed)

    def mean_of(col: str, values: np.ndarray) -> Interval:
        if bm.clustered:
            return bm.interval(*bm.mean(col), confidence=confidence, n=int(np.isfinite(values).sum()))
        return mean_ci(values, confidence)

    def rate(col: str) -> Interval:
        n, _ = bm.count(col)
        if bm.clustered:
            is_ok = (done["status"] == "ok").to_numpy()
            values = ((~is_ok).astype(float) if col == "error"
                      else np.where(is_ok, done[col].to_numpy(dtype=float, na_value=np.nan), np.nan))
            agreeing = agreeing_clusters_ci(values, done["item_id"].astype(str).to_numpy(), confidence)
            return agreeing if agreeing is not None else bm.interval(*bm.mean(col), confidence=confidence, n=n)
        return wilson_ci(int(round(bm.totals[bm.names.index(col)])), n, confidence)

    for name, prefix in (("lat", "latency_ms"), ("ttft", "ttft_ms")):
        x = ok[prefix].to_numpy(dtype=float, na_value=np.nan)
        s = summarize(x, clusters, **kw)
        out.update({f"{prefix}_mean": s.mean, f"{prefix}_p50": s.p50, f"{prefix}_p90": s.p90,  # type: ignore[dict-item]
                    f"{prefix}_p95": s.p95, f"{prefix}_p99": s.p99})
        centre = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
        out[f"{prefix}_std"], out[f"{prefix}_cv"] = _spread(bm, name, centre, confidence)
    out["tokens_per_s"] = bm.interval(*bm.ratio("tp_out", "tp_s"), confidence=confidence, n=bm.count("tp_s")[0])
    out["decode_tps_aggregate"] = bm.interval(*bm.ratio("dec_tok", "dec_s"), confidence=confidence, n=bm.count("dec_s")[0])
    for col, kpi in (("decode_tps", "decode_tps_mean"), ("input_tokens", "input_tokens_mean"), ("output_tokens", "output_tokens_mean"),
                     ("peak_rss_mb", "peak_rss_mb_mean"), ("mem_added_mb", "mem_added_mb_mean"), ("quality", "quality_mean")):
        out[kpi] = mean_of(col, ok[col].to_numpy(dtype=float, na_value=np.nan))
    out["quality_mean"] = within_scale(out["quality_mean"], 0.0, 10.0)
    for s in scorers:
        out[f"score_{s}_mean"] = within_scale(mean_of(f"score_{s}", ok[f"score_{s}"].to_numpy(dtype=float, na_value=np.nan)), 0.0, 1.0)
    out["pass_rate"], out["error_rate"] = rate("passed"), rate("error")
    if ctx is not None:
        out.update(cost_intervals(bm, model, ctx, confidence))
    return out


def cost_quantities(seconds: object, input_tokens: object, output_tokens: object, watts: float,
                    ctx: CostContext, basis: C.PriceBasis | None = None) -> dict[str, np.ndarray]:
    """Cost KPIs from mean seconds and token counts per request (scalars or arrays of
    resampled means); the formulas are core.cost's. Cloud models without a price are left out.
    basis: an HTTP model's price basis, which replaces energy + amortisation (energy: n/a)."""
    s = ctx.settings
    sec, inp, out = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (seconds, input_tokens, output_tokens))
    if basis is not None:
        local = np.atleast_1d(basis.per_request(sec, inp, out)) * np.ones(sec.shape)
        energy = amort = wh = np.full(sec.shape, np.nan)
    else:
        energy, amort = C.local_cost_per_request(sec, watts, s)
        local, wh = energy + amort, watts * sec / 3600
    with np.errstate(divide="ignore", invalid="ignore"):
        q = {"energy_wh_per_request": wh, "energy_cost_per_request": energy, "amortisation_per_request": amort,
             "local_cost_per_request": local, "local_cost_per_1k_output_tokens": np.where(out > 0, local / out * 1000, np.nan)}
        for cm, price in ctx.prices.items():
            if isinstance(price, C.CloudPrice):
                k_cost, k_sav = (d.name for d in cloud_defs(cm))
                q[k_cost] = C.cloud_cost_per_request(inp, out, price)
                means = C._Means(sec, inp, out)  # noqa: SLF001 - core.cost's own projection formulas
                q[k_sav] = C._projection_quantities(means, watts, price, s, s.volume_per_month, basis)["savings"]  # noqa: SLF001
    return q


_ENERGY_KPIS = frozenset({"energy_wh_per_request", "energy_cost_per_request", "amortisation_per_request", "power_watts"})
_NOT_APPLICABLE = "not applicable: priced by the endpoint's price basis (no local energy or hardware)"


def cost_intervals(bm: BootstrapMeans, model: str, ctx: CostContext, confidence: float) -> dict[str, Interval]:
    """Cost KPIs with intervals from the model's resampled mean seconds and token counts."""
    watts = ctx.power[model][0]
    n = bm.count("cost_s")[0]
    (sec, bsec), (inp, binp), (out, bout) = (bm.mean(c) for c in ("cost_s", "cost_in", "cost_out"))
    names = [d.name for d in BASE_DEFS if d.section == "cost" and d.name != "power_watts"]
    names += [d.name for cm in ctx.prices for d in cloud_defs(cm)]
    if sec is None:
        return {k: Interval(None, None, None, bm.method, confidence, 0, note="no successful requests") for k in names}
    basis = ctx.bases.get(model)
    point = cost_quantities(sec, inp, out, watts, ctx, basis)
    boot = cost_quantities(bsec, binp, bout, watts, ctx, basis)
    res = {}
    for k in names:
        if k not in point:  # a cloud model without a price
            why = ctx.prices[k.split("@", 1)[1]]
            res[k] = Interval(None, None, None, bm.method, confidence, n, note=str(why))
        elif basis is not None and k in _ENERGY_KPIS:
            res[k] = Interval(None, None, None, bm.method, confidence, n, note=_NOT_APPLICABLE)
        else:
            res[k] = bm.interval(_num(point[k][0]), boot[k], confidence=confidence, n=n)
    return res


# =========================================================================== the table


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
        for m, g in df.groupby("model", sort=False):
            groups[(str(m), ALL)] = group_intervals(g, str(m), scorers, ctx, **kw)
            if by_category:
                for c, gc in g.groupby(g["category"].fillna(""), sort=True):
                    groups[(str(m), str(c))] = group_intervals(gc, str(m), scorers, ctx, **kw)
    defs = _definitions(scorers, settings.cloud_models, rm)
    agg_rows = {(str(r["model"]), r["category"] if isinstance(r["category"], str) else ALL): r for r in agg.to_dict("records")}
    frame = pd.DataFrame(_rows(order, agg_rows, rm, groups, defs, ctx, intervals), columns=list(FRAME_COLUMNS))
    cats = sorted({k[1] for k in agg_rows if k[1] is not ALL})
    power = {m: {"watts": _num(w), "source": src, "profile": prof} for m, (w, src, prof) in ctx.power.items()}
    notes = tuple(f"no price for {cm}: {p}" for cm, p in ctx.prices.items() if isinstance(p, str))
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
    v: dict[str, Any] = {k: _num(x) for k, x in a.items() if k not in ("model", "category")}
    for p in ("latency_ms", "ttft_ms"):
        mean, std = v.get(f"{p}_mean"), v.get(f"{p}_std")
        v[f"{p}_cv"] = std / mean if mean and std is not None else None
    v.update(aggregate_rates(v))  # error_rate, pass_rate: the definition MLflow shares
    v["warm_latency_ms"] = v.get("latency_ms_p50")
    if rm is not None:
        for k in ("weights_mb", "params", "load_time_s", "load_rss_mb", "model_footprint_mb", "cold_latency_ms",
                  "requests_per_s", "goodput"):
            v[k] = _num(rm.get(k))
        v["memory_needed_mb"] = memory_needed_mb(v.get("model_footprint_mb"), v.get("mem_added_mb_max"))
        v["output_tps_serving"] = _num(rm.get("output_tps"))
        cold, warm = v.get("cold_latency_ms"), v.get("warm_latency_ms")
        v["cold_warm_ratio"] = cold / warm if cold is not None and warm else None
        v["cold_excess_ms"] = cold - warm if cold is not None and warm is not None else None
    v["power_watts"] = _num(ctx.power[model][0])  # None for a model priced by its endpoint
    sec, inp, out = v.get("latency_ms_mean"), v.get("input_tokens_mean"), v.get("output_tokens_mean")
    if sec is not None and inp is not None and out is not None:
        v.update({k: _num(x[0]) for k, x in cost_quantities(sec / 1000, inp, out, ctx.power[model][0], ctx, ctx.bases.get(model)).items()})
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
    value = _num(value)
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


# =========================================================================== machine load


@dataclass(frozen=True, eq=False)
class MachineLoadReport:
    """How busy other processes kept the measurement cores while a run's samples were taken
    (samples.other_cpu, core.measure.MachineLoad). A sample ran on a busy machine when
    other_cpu >= BUSY_OTHER_CPU cores; the run is flagged when more than BUSY_SHARE_FLAG of
    its samples did, or of one model's samples (a comparison is skewed by one model's load), and at
    least BUSY_MIN_SAMPLES did (one short sample's tick noise never flags a small run).
    n == 0 (runs stored before other_cpu was measured): share and mean None, never flagged.

    per_model columns: model, n, busy, busy_share, mean_other_cpu, flagged.
    """

    n: int
    busy: int
    share: float | None
    mean_other_cpu: float | None
    per_model: pd.DataFrame
    flagged: bool

    @property
    def flagged_models(self) -> list[tuple[str, float]]:
        """(model, busy share) of the models above the flag share, most affected first."""
        f = self.per_model[self.per_model["flagged"]].sort_values("busy_share", ascending=False)
        return [(str(m), float(s)) for m, s in zip(f["model"], f["busy_share"], strict=True)]

    @property
    def brief(self) -> str:
        """'34% of samples (120 of 352) on a busy machine (...), mean 0.41 cores; flagged ...'."""
        if not self.n:
            return "not recorded (the run was stored before other processes' CPU use was measured)"
        text = (f"{_pct(self.share)} of samples ({self.busy:,} of {self.n:,}) on a busy machine (other processes "
                f">= {BUSY_OTHER_CPU:g} cores), mean {self.mean_other_cpu:.2f} cores")
        return text + (f"; flagged (more than {BUSY_SHARE_FLAG:.0%})" if self.flagged else "")

    @property
    def note(self) -> str:
        """The one-line note shown for every run: 'Machine load: ...'."""
        return f"Machine load: {self.brief}"

    @property
    def text(self) -> str:
        """A plain-language line: the warning when flagged, else the note."""
        if not self.flagged:
            return self.note + "."
        models = "; ".join(f"{m} {_pct(s)}" for m, s in self.flagged_models) if len(self.per_model) > 1 else ""
        return (f"Busy machine: {_pct(self.share)} of samples ({self.busy:,} of {self.n:,}) ran while other processes used "
                f"at least {BUSY_OTHER_CPU:g} of a core on the measurement cores (mean {self.mean_other_cpu:.2f} cores)"
                + (f"; most affected: {models}" if models else "") + "; latency and throughput may be inflated.")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "busy": self.busy, "share": _num(self.share), "mean_other_cpu": _num(self.mean_other_cpu),
                "flagged": self.flagged, "busy_at": BUSY_OTHER_CPU, "flag_share": BUSY_SHARE_FLAG,
                "per_model": [{"model": str(r["model"]), "n": int(r["n"]), "busy": int(r["busy"]),
                               "share": _num(r["busy_share"]), "mean_other_cpu": _num(r["mean_other_cpu"]),
                               "flagged": bool(r["flagged"])} for r in self.per_model.to_dict("records")]}


def _pct(x: float | None) -> str:
    """A share as people read it: '34%'; '<1%' and '>99%' rather than a rounded '0%' or '100%'."""
    if x is None:
        return "—"
    return "<1%" if 0 < x < 0.005 else ">99%" if 0.995 <= x < 1 else f"{x:.0%}"


def machine_load(store: Store, run_id: str) -> MachineLoadReport:
    """The machine-load report of a stored run (one SQL aggregate, Store.machine_load)."""
    pm = store.machine_load(run_id, BUSY_OTHER_CPU)
    pm["busy_share"] = pd.to_numeric(pm["busy_share"], errors="coerce")
    pm["mean_other_cpu"] = pd.to_numeric(pm["mean_other_cpu"], errors="coerce")
    pm["flagged"] = (pm["busy_share"].fillna(0.0) > BUSY_SHARE_FLAG) & (pm["busy"] >= BUSY_MIN_SAMPLES)
    n, busy = int(pm["n"].sum()), int(pm["busy"].sum())
    if not n:
        return MachineLoadReport(0, 0, None, None, pm, False)
    share = busy / n
    mean = float((pm["mean_other_cpu"].fillna(0.0) * pm["n"]).sum() / n)
    run_flag = share > BUSY_SHARE_FLAG and busy >= BUSY_MIN_SAMPLES
    return MachineLoadReport(n, busy, share, mean, pm, bool(run_flag or pm["flagged"].any()))
