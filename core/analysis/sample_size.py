"""Sample size: prompts needed to detect a difference (sample_size), and what each paired
comparison could detect at its size (comparison_advice).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.runs import DERIVED, load_run, resolve_metric, stored_columns, with_derived
from core.analysis.to_json import jsonable
from core.compare import Comparison
from core.stats import DEFAULT_ALPHA, metric_info, minimum_detectable_effect, required_sample_size
from core.store import Store
from core.textfmt import sig3


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


_BOUNDED_RANGE = {"passed": 1.0, "quality": 10.0}  # the widest difference a bounded metric can show


def comparison_advice(comps: Sequence[Comparison], alpha: float) -> tuple[SampleSizeAdvice, ...]:
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
            diff = f"{sig3(obs * s)}{unit}" if obs is not None else "n/a"
            text = (f"{info.label}, {c.model_a} vs {c.model_b}: the per-prompt differences have no variance over {p.n} "
                    f"prompts (every prompt differs by {diff}), so they give no sample size")
            out.append(SampleSizeAdvice(c.metric, c.model_a, c.model_b, p.n, p.sd, None, obs, None, sig, text))
            continue
        widest = _BOUNDED_RANGE.get(c.metric)
        if mde is not None and widest is not None and mde >= widest:  # e.g. "106 pp" of a pass rate
            head = (f"{info.label}, {c.model_a} vs {c.model_b}: {p.n} prompts are too few to detect even the largest "
                    f"possible difference ({sig3(widest * s)}{unit}) with 80% power at alpha {alpha:g}")
        else:
            head = f"{info.label}, {c.model_a} vs {c.model_b}: {p.n} prompts detect a mean difference of {sig3(None if mde is None else mde * s, 'n/a')}{unit} (80% power, alpha {alpha:g})"
        if sig:
            tail = "; the difference found is significant"
        elif need is not None:
            tail = f"; the observed {sig3(abs(obs) * s)}{unit} would need about {need:,} prompts" if obs else ""
        else:
            tail = "; no difference was observed"
        out.append(SampleSizeAdvice(c.metric, c.model_a, c.model_b, p.n, p.sd, mde, obs, need, sig, head + tail))
    return tuple(out)


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
        return {"schema": "llm-eval/sample-size/v1", **jsonable(self), "unit": metric_info(self.metric).unit}


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
    data = load_run(store, run_id, ["model", "item_id", "status"] + ([] if col == "passed" else stored_columns([col])), models,
                 with_run_models=col in DERIVED)
    df, order = with_derived(data.samples, [col], None, data.measured_watts, data.price_bases), data.order
    ok = df[(df["status"] == "ok") & df[col].notna()]
    means = ok.assign(v=ok[col].astype(float)).groupby(["item_id", "model"], observed=True)["v"].mean().unstack("model")
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
    eff = f"{sig3(abs(effect) * info.scale)} {info.diff_unit or info.unit}".rstrip()
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
