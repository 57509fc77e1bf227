"""The cost report of a run: local cost per request with intervals, the cloud cost of the same
token counts, monthly projections and break-even (formulas: core.analysis.costs).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import core.analysis.costs as C
from core.analysis.cost_context import cost_context, cost_intervals, measured_power, run_price_bases, settings_dict
from core.analysis.to_json import finite, interval_dict, jsonable
from core.queries import pass_rates, prompt_cost_sums, run_models, run_models_order
from core.stats import BootstrapMeans, DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval, bootstrap_sums
from core.store import Store


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
    quality_warnings: tuple[str, ...] = ()  # costs.quality_warning per model below the pass-rate threshold

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
            "prices": {k: jsonable(v) for k, v in self.prices.items()},
            "local": [jsonable(x) for x in self.local],
            "cloud": [_cloud_dict(x) for x in self.cloud],
            "assumptions": list(self.assumptions),
            "methods": self.methods,
            "notes": list(self.notes),
        }


def _cloud_dict(x: CloudLine) -> dict[str, Any]:
    p = x.projection
    return {
        "model": x.model, "cloud_model": x.cloud_model, "cost_per_request": interval_dict(x.cost_per_request),
        "input_tokens_per_request": finite(x.input_tokens_per_request), "output_tokens_per_request": finite(x.output_tokens_per_request),
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
    rates = {str(r.model): (finite(r.rate), int(r.n)) for r in passed.itertuples()}
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
    """costs.projection_quantities on this model's joint resamples (cluster-aware)."""
    vol = s.volume_per_month
    sec, bsec = bm.mean("cost_s")
    if sec is None:
        empty = Interval(None, None, None, bm.method, confidence, 0, note="no successful requests")
        return C.Projection(model, price.model, vol, *([empty] * 7), 0, source, price, s.currency, "no successful requests")  # type: ignore[arg-type]
    inp, binp = bm.mean("cost_in")
    out, bout = bm.mean("cost_out")
    point = C.projection_quantities(C.Means(np.array([sec]), np.array([inp]), np.array([out])), watts, price, s, vol, basis)
    boot = C.projection_quantities(C.Means(bsec, binp, bout), watts, price, s, vol, basis)
    n = bm.count("cost_s")[0]

    def iv(key: str, what: str = "", scale: float = 1.0) -> Interval:
        est = float(point[key][0]) * scale
        if bm.n_clusters < 2 and math.isfinite(est):
            return Interval(est, None, None, bm.method, confidence, n, note="fewer than 2 prompts: no interval")
        r = C.projection_interval(est, boot[key] * scale, confidence, n, bm.n_resamples, bm.seed, what)
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
