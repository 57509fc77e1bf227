"""Cost inputs of a run resolved once (settings, power per model, cloud prices, HTTP price bases)
and the cost KPIs with intervals computed from them (formulas: core.analysis.costs).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import core.analysis.costs as C
from core.analysis.kpi_definitions import BASE_DEFS, cloud_defs
from core.analysis.to_json import finite, whole
from core.queries import Source, manifest_model_specs
from core.stats import BootstrapMeans, Interval


def settings_dict(s: C.CostSettings) -> dict[str, Any]:
    return {f: (list(v) if isinstance(v, tuple) else v) for f, v in vars(s).items()}


def measured_power(rm: pd.DataFrame) -> dict[str, float]:
    """Mean watts per model measured during the run (NVML / RAPL; run_models.power_w)."""
    if "power_w" not in rm.columns:
        return {}
    w = pd.to_numeric(rm["power_w"], errors="coerce")
    return {str(m): float(v) for m, v in w.items() if np.isfinite(v) and v >= 0}


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
            conc = whole(rm.loc[m, "concurrency"])
        out[str(m)] = {**basis, "concurrency": conc if conc and conc >= 1 else 1}
    return out


def cost_quantities(seconds: object, input_tokens: object, output_tokens: object, watts: float,
                    ctx: CostContext, basis: C.PriceBasis | None = None) -> dict[str, np.ndarray]:
    """Cost KPIs from mean seconds and token counts per request (scalars or arrays of
    resampled means); the formulas are core.analysis.costs'. Cloud models without a price are left out.
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
                means = C.Means(sec, inp, out)
                q[k_sav] = C.projection_quantities(means, watts, price, s, s.volume_per_month, basis)["savings"]
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
            res[k] = bm.interval(finite(point[k][0]), boot[k], confidence=confidence, n=n)
    return res
