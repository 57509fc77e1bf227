"""What a run's report says about how it was made: the methods, the environment manifest, the
models table, and the appendix of sample outputs (user text kept raw: the renderers escape it).
"""
from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

import core
from core import analysis
from core import queries
from core.redact import redact
from core.store import Store
from core.reports.model import (
    MAX_OUTPUT_CHARS,
    Output,
    AppendixItem,
    ReportOptions,
)
from core.reports.table import Table
from core.textfmt import DASH, fmt_value, number
from core.textfmt import quality as fmt_quality


# =========================================================================== methods + environment


def method_rows(run: Any, kpi: analysis.KpiTable, comp: analysis.RunComparison, costs: analysis.CostReport,
             o: ReportOptions, resamples: int | None, baseline: str | None, source: str) -> tuple[tuple[str, str], ...]:
    reps = run.spec.repeats
    tests = sorted({c.test.test for c in comp.comparisons})
    corr = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)"}.get(comp.correction, "none")
    res = (f"{resamples} bootstrap resamples (set for this report)" if resamples else
           "the analysis defaults, as on the dashboard: 2,000 bootstrap resamples, 1,000 above 1,000 observations")
    return (
        ("Unit of analysis", "the prompt: " + (
            f"each prompt ran {reps} times; repeats are clustered (intervals resample prompts with all their repeats, "
            "comparisons average the repeats of a prompt before pairing)" if reps > 1 else
            "each prompt ran once, so no clustering of repeats is needed")),
        ("Comparisons", f"each model vs {baseline} ({source})" if baseline else "all pairs"),
        ("Tests", ", ".join(tests) or "none (nothing to compare)"),
        ("Multiple comparisons", f"{corr}, per metric"),
        ("Significance level", f"alpha = {comp.alpha:g}"),
        ("Confidence level", f"{comp.confidence:.0%}"),
        ("Interval methods", "; ".join(kpi.methods()) or "none"),
        ("Resamples and seed", f"{res}; seed {o.seed}"),
        ("Recommendation rule", analysis.RECOMMEND_RULE),
        ("Cost assumptions", "; ".join(costs.assumptions)),
        ("Price snapshot", f"{costs.price_snapshot}; prices as of " + (
            ", ".join(sorted({p.price_date for p in costs.prices.values() if p.price_date})) or "the overrides file")),
    )


def _pkg(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def environment_rows(run: Any) -> tuple[tuple[str, str], ...]:
    man = redact(run.manifest or {})
    spec = run.spec
    g = spec.generation
    pkgs = ", ".join(f"{k} {v}" for k, v in (man.get("packages") or {}).items() if v)
    la = man.get("load_average")
    rows = [
        ("Product version", core.__version__),
        ("Python", man.get("python")), ("OS", man.get("os")), ("Platform", man.get("platform")),
        ("CPU", man.get("cpu")),
        ("Cores (logical / physical)", f"{man.get('cores_logical')} / {man.get('cores_physical')}" if man.get("cores_logical") else None),
        ("Memory (GB)", man.get("memory_gb")), ("Accelerator", man.get("accelerator") or "none"),
        ("Device", man.get("device") or spec.device), ("Git commit", man.get("git_commit")),
        ("Load average at start", ", ".join(number(x) for x in la) if isinstance(la, list) else None),
        ("Packages", pkgs),
        ("Prompt set", f"{run.prompt_set} (version {run.prompt_set_hash})" + (f", first {spec.limit} items" if spec.limit else "")),
        ("Repeats / seed", f"{spec.repeats} / {spec.seed}"),
        ("Generation", f"max_new_tokens={g.max_new_tokens}, temperature={g.temperature:g}, top_p={g.top_p:g}"),
        ("Limits", f"timeout {spec.timeout_s:g} s per sample; {spec.max_consecutive_failures} consecutive failures skip a model; "
                   f"concurrency {spec.concurrency}"),
        ("Report made with", f"plotly {_pkg('plotly')}, matplotlib {_pkg('matplotlib')}, fpdf2 {_pkg('fpdf2')}, "
                             f"genai-prices {_pkg('genai-prices')}"),
    ]
    return tuple((k, str(v)) for k, v in rows if v not in (None, "", "None"))


def model_table(store: Store, run: Any, swept: frozenset[str] = frozenset()) -> Table:
    """The run's models; `swept`: those with throughput sweep rows, whose status without a run_models row
    (a sweep-only run) is 'swept', not 'not run'."""
    rm = store.run_models_df(run.run_id).set_index("model")
    versions = (run.manifest or {}).get("model_versions") or {}
    rows = []
    for m in run.spec.models:
        r = rm.loc[m] if m in rm.index else None

        def get(col: str, r: Any = r) -> Any:
            v = None if r is None else r.get(col)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        rows.append((m, str(versions.get(m) or get("model_version") or DASH), str(get("backend") or DASH),
                     str(get("device") or DASH), str(get("dtype") or DASH), fmt_value(get("params"), "count"),
                     fmt_value(get("weights_mb"), "MB"), fmt_value(get("load_time_s"), "s"),
                     str(get("status") or ("swept" if m in swept else "not run"))))
    return Table(("Model", "Version", "Backend", "Device", "Dtype", "Parameters", "Weights", "Load time", "Status"),
                 tuple(rows), "Models", "", (False, False, False, False, False, True, True, True, False))


# =========================================================================== appendix


def appendix_items(store: Store, run: Any, n_items: int) -> list[AppendixItem]:
    if n_items <= 0:
        return []
    df = queries.appendix_rows(store, run.run_id, n_items, MAX_OUTPUT_CHARS)
    failed_items = list(dict.fromkeys(df.loc[df["failed"], "item_id"]))
    ok_items = list(dict.fromkeys(df.loc[~df["failed"], "item_id"]))
    n_failed = min(len(failed_items), max(n_items - len(ok_items), (n_items + 1) // 2))
    chosen = failed_items[:n_failed] + ok_items[: n_items - n_failed]
    prompts = _prompts(store, run)
    order = {m: i for i, m in enumerate(run.spec.models)}
    out = []
    for item in chosen:
        g = df[df["item_id"] == item].sort_values("model", key=lambda s: s.map(lambda m: order.get(m, len(order))))
        prompt, ref = prompts.get(str(item), ("(prompt text unavailable: no copy of the prompt-set version this run used is stored)", None))
        outputs = tuple(_output(r) for r in g.to_dict("records"))
        out.append(AppendixItem(str(item), str(g["category"].iloc[0] or ""), _cut(prompt), None if ref is None else _cut(ref),
                                outputs, bool(g["failed"].iloc[0])))
    return out


def _output(r: dict[str, Any]) -> Output:
    facts = [r["status"]]
    if _ok(r["latency_ms"]):
        facts.append(fmt_value(r["latency_ms"], "ms"))
    if _ok(r["quality"]):
        facts.append(f"quality {fmt_quality(r['quality'])}")
    passed = bool(r["passed"]) if isinstance(r["passed"], bool | int) and not pd.isna(r["passed"]) else None
    if passed is not None:
        facts.append("passed" if passed else "failed the check")
    if r["status"] != "ok":
        text = f"{r['error_kind'] or 'error'}: {r['error_message'] or ''}".strip()
        return Output(str(r["model"]), str(r["status"]), ", ".join(facts), _cut(text))
    text = r["output_text"] if isinstance(r["output_text"], str) else ""
    chars = r["output_chars"]
    return Output(str(r["model"]), "ok", ", ".join(facts), text, bool(_ok(chars) and chars > MAX_OUTPUT_CHARS), passed)


def _ok(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x is not pd.NA


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + " [...]"


def _prompts(store: Store, run: Any) -> dict[str, tuple[str, str | None]]:
    """item id -> (prompt, reference) of the run's own prompt-set version, when a copy of it is stored."""
    from core import prompts

    try:
        ps = prompts.run_set(store, run)
    except ValueError:
        return {}
    return {i.id: (i.prompt, i.reference) for i in ps.items} if ps is not None else {}
