"""What the MLflow mirror (core.tracking) logs for an evaluation run: the parent run's params,
metrics and tags, each model's params and load/serving metrics, and the per-model KPIs under the
names MLflow has always shown (from the metric registry; values from the one KPI aggregate,
core.queries.aggregate). Pure data shaping: no MLflow import here."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

import core
from core import queries
from core.redact import redact
from core.stats.metric_registry import mlflow_kpis
from core.store import Store

TAG_RUN_ID, TAG_ROLE, TAG_MODEL = "llm_eval.run_id", "llm_eval.role", "llm_eval.model"


# ---------------------------------------------------------------------------- KPIs


# MLflow metric name -> KPI name (core.analysis.kpis), from the metric registry: the names MLflow has always
# shown, the values the KPI table, the CLI and the reports show (one aggregate, core.queries.aggregate).
MLFLOW_KPIS = mlflow_kpis()


def kpis_for_mlflow(store: Store, run_id: str) -> dict[str, dict[str, float]]:
    """Per-model KPIs as MLflow metrics (None/NaN dropped): the KPI table's aggregate and its
    rate definitions (error_rate of attempted requests), under the names of MLFLOW_KPIS."""
    out = {}
    for r in queries.aggregate(store, run_id).to_dict("records"):
        v = {**r, **queries.aggregate_rates(r)}
        out[str(r["model"])] = numbers({name: v.get(kpi) for name, kpi in MLFLOW_KPIS.items()})
    return out


def best_quality_model(kpis: dict[str, dict[str, float]]) -> str | None:
    """Highest mean quality (ties: lower median latency); without quality, the fastest model. Not the
    champion: that is the arm promoted by hand (core.champion, mirrored to the Model Registry)."""
    ok = {m: k for m, k in kpis.items() if k.get("ok", 0) > 0}
    if not ok:
        return None
    if any("quality_mean" in k for k in ok.values()):
        return max(ok, key=lambda m: (ok[m].get("quality_mean", -math.inf), -ok[m].get("latency_ms_median", math.inf)))
    return min(ok, key=lambda m: ok[m].get("latency_ms_median", math.inf))


# ---------------------------------------------------------------------------- what is logged


def run_params(row, models: dict[str, dict]) -> dict[str, Any]:  # noqa: ANN001 - core.store.RunRow
    spec, man = row.spec, row.manifest
    versions = man.get("model_versions", {})
    dtypes = sorted({str(m["dtype"]) for m in models.values() if not missing(m.get("dtype"))})
    out: dict[str, Any] = {
        "models": ",".join(spec.models),
        "prompt_set": row.prompt_set,
        "prompt_set_hash": row.prompt_set_hash,
        "n_items": man.get("n_items"),
        "limit": spec.limit,
        "repeats": spec.repeats,
        "seed": spec.seed,
        "device": man.get("device") or spec.device,
        "device_requested": spec.device,
        "dtype": ",".join(dtypes) or None,
        "timeout_s": spec.timeout_s,
        "memory_budget_gb": spec.memory_budget_gb,
        "max_consecutive_failures": spec.max_consecutive_failures,
        "concurrency": spec.concurrency,
        "accelerator": man.get("accelerator"),
        "python": man.get("python"),
        "cpu": man.get("cpu"),
        "os": man.get("os"),
    }
    out.update({f"generation.{k}": v for k, v in spec.to_dict()["generation"].items()})
    out.update({f"model_version.{m}": versions.get(m) for m in spec.models})
    out.update({f"dtype.{m}": models.get(m, {}).get("dtype") for m in spec.models})
    out.update({f"pkg.{k}": v for k, v in (man.get("packages") or {}).items()})
    return out


def model_params(row, model: str, mrow: dict) -> dict[str, Any]:  # noqa: ANN001
    spec = row.spec
    mspec = redact((row.manifest.get("models") or {}).get(model, {}))
    out = {
        "model": model,
        "model_version": (row.manifest.get("model_versions") or {}).get(model) or mrow.get("model_version"),
        "kind": mspec.get("kind"),
        "source": mspec.get("source"),
        "revision": mspec.get("revision"),
        "served_model": mspec.get("served_model"),
        "api_key_env": mspec.get("api_key_env"),  # the variable's name, never its value
        "endpoint": mrow.get("endpoint"),  # HTTP: the base URL without user info or query
        "endpoint_kind": mspec.get("endpoint") if mspec.get("kind") == "http" else None,
        "memory": mrow.get("memory_note"),  # HTTP: why memory is not recorded (never logged as zero)
        "concurrency": mrow.get("concurrency"),
        "goodput_ttft_ms": mrow.get("goodput_ttft_ms"),
        "goodput_latency_ms": mrow.get("goodput_latency_ms"),
        "backend": mrow.get("backend"),
        "device": mrow.get("device"),
        "dtype": mrow.get("dtype"),
        "fallback": mrow.get("fallback"),
        "params": None if missing(mrow.get("params")) else int(mrow["params"]),
        "prompt_set": row.prompt_set,
        "prompt_set_hash": row.prompt_set_hash,
        "seed": spec.seed,
        "repeats": spec.repeats,
    }
    out.update({f"generation.{k}": v for k, v in spec.to_dict()["generation"].items()})
    return {k: v for k, v in out.items() if not missing(v)}


RENAMED_TAGS = {"llm_eval.champion", "llm_eval.champion_basis"}  # now llm_eval.best_quality_model(_basis)
SERVING_METRICS = ("requests_per_s", "output_tps", "goodput", "serving_wall_s")  # HTTP models (run_models columns)


def load_metrics(mrow: dict, kpis: dict[str, float] | None = None) -> dict[str, float]:
    """Load and cold-start metrics; for HTTP models also the serving ones (request throughput, output
    tokens/s across requests, goodput) under `serving.*`. Memory as core.analysis.kpis defines it:
    model_footprint_mb (what the loaded model holds) and memory_needed_mb (footprint + the largest
    peak a generation added, mem_added_mb_max); neither is logged when not recorded."""
    out = numbers({k: mrow.get(k) for k in ("load_time_s", "load_rss_mb", "model_footprint_mb", "cold_latency_ms",
                                             "weights_mb")})
    if "model_footprint_mb" in out and "mem_added_mb_max" in (kpis or {}):
        out["memory_needed_mb"] = out["model_footprint_mb"] + kpis["mem_added_mb_max"]  # type: ignore[index]
    out.update(numbers({f"serving.{k}": mrow.get(k) for k in SERVING_METRICS}))
    return out


def run_metrics(row, kpis: dict[str, dict[str, float]]) -> dict[str, float]:  # noqa: ANN001
    n = sum(k.get("n", 0) for k in kpis.values())
    ok = sum(k.get("ok", 0) for k in kpis.values())
    return {"samples_planned": row.planned, "samples_stored": n, "samples_ok": ok, "samples_not_ok": n - ok}


def run_tags(row, kpis: dict[str, dict[str, float]]) -> dict[str, str | None]:  # noqa: ANN001
    return {
        TAG_RUN_ID: row.run_id,
        TAG_ROLE: "parent",
        "llm_eval.run_status": row.status,
        "llm_eval.best_quality_model": best_quality_model(kpis),
        "llm_eval.best_quality_model_basis": "highest mean quality (ties: lower median latency)",
        "llm_eval.product_version": core.__version__,
        "llm_eval.prompt_set": row.prompt_set,
        "mlflow.source.git.commit": row.manifest.get("git_commit"),
    }


def missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def numbers(d: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[k] = f
    return out
