"""MLflow mirror of evaluation runs (issue 5). DuckDB is the record; MLflow is a best-effort copy.

    after_run_hooks()                      # the runner's hooks: mirror each finished run
    mirror_run(store, run_id)              # log one run now -> MirrorResult (never raises on MLflow errors)
    sync(store)                            # replay pending runs (python -m core sync-mlflow [RUN_ID])
    mlflow_ui_command(store)               # "mlflow ui --backend-store-uri sqlite:///..." for the dashboard
    display_uri(store)                     # the tracking store's address, credentials removed

Layout in MLflow: one experiment per prompt set (or a chosen name); one parent run per
evaluation run, tagged `llm_eval.run_id`; one child run per model. A sync first looks for
the parent carrying that tag and updates it, so replaying a run never duplicates it.

Where: --mlflow-uri, else $LLM_EVAL_MLFLOW_URI, else `sqlite:///<folder of the DuckDB
file>/mlflow.db` with artifacts in `mlartifacts/` beside it. $LLM_EVAL_MLFLOW=off turns the
automatic mirror off. A failed mirror marks the run `pending` and prints one warning line;
HTTP calls use short timeouts and one retry so an unreachable server costs seconds. What is
logged (params, metrics, tags, the KPIs under MLflow's names) is core.tracking_fields.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shlex
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

import core
from core import queries
from core.redact import redact, strip_userinfo
from core.store import Store
from core.tracking_fields import (  # noqa: F401 - MLFLOW_KPIS, best_quality_model, SERVING_METRICS: the mirror's API
    MLFLOW_KPIS,
    RENAMED_TAGS,
    SERVING_METRICS,
    TAG_MODEL,
    TAG_ROLE,
    TAG_RUN_ID,
    best_quality_model,
    kpis_for_mlflow,
    load_metrics,
    missing,
    model_params,
    numbers,
    run_metrics,
    run_params,
    run_tags,
)

ENV_URI = "LLM_EVAL_MLFLOW_URI"
ENV_SWITCH = "LLM_EVAL_MLFLOW"  # "off" disables the automatic mirror
ENV_EXPERIMENT = "LLM_EVAL_MLFLOW_EXPERIMENT"
HTTP_TIMEOUT_S = 3
HTTP_MAX_RETRIES = 1

SYNCED, PENDING, DISABLED = "synced", "pending", "disabled"
_TERMINAL = {"completed": "FINISHED", "cancelled": "KILLED", "failed": "FAILED", "interrupted": "KILLED"}
_LOCK = threading.RLock()  # MLflow's HTTP settings are process-wide environment variables


@dataclass(frozen=True)
class MirrorResult:
    run_id: str
    status: str  # synced | pending | disabled
    tracking_uri: str | None
    experiment: str | None = None
    experiment_id: str | None = None
    mlflow_run_id: str | None = None
    child_run_ids: dict[str, str] = field(default_factory=dict)
    created: bool = False  # a new parent run was created (False: an existing one was updated)
    message: str | None = None


# ---------------------------------------------------------------------------- settings


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "").strip().lower() not in {"off", "0", "false", "no", "disabled"}


def resolve_uri(store: Store, explicit: str | None = None) -> str:
    """--mlflow-uri, else $LLM_EVAL_MLFLOW_URI, else an SQLite store beside the DuckDB file."""
    if explicit:
        return explicit
    if os.environ.get(ENV_URI):
        return os.environ[ENV_URI]
    return "sqlite:///" + (Path(store.path).resolve().parent / "mlflow.db").as_posix()


def artifact_root(uri: str) -> str | None:
    """`mlartifacts/` beside a local SQLite store; None (the server decides) for anything else."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri[len("sqlite:///"):].split("?", 1)[0]).expanduser().resolve()
    return (db.parent / "mlartifacts").as_uri()


def mlflow_ui_command(store: Store, tracking_uri: str | None = None) -> str:
    """How to open the mirror: `mlflow ui --backend-store-uri ...`, or the server's address."""
    uri = resolve_uri(store, tracking_uri)
    if uri.startswith(("http://", "https://")):
        return f"open {strip_userinfo(uri)} in a browser"
    return f"mlflow ui --backend-store-uri {shlex.quote(uri)}"


def display_uri(store: Store, tracking_uri: str | None = None) -> str:
    """Where the mirror goes, with any credentials in the address removed (safe to show)."""
    return strip_userinfo(resolve_uri(store, tracking_uri))


# ---------------------------------------------------------------------------- hooks + sync


def after_run_hooks(tracking_uri: str | None = None, experiment: str | None = None, announce: bool = False) -> list[Callable[[str, Store], None]]:
    """The runner's after-run hooks: mirror the run; never raise, warn once on failure."""

    def mirror_hook(run_id: str, store: Store) -> None:
        try:
            if not enabled():
                store.set_mlflow(run_id, DISABLED, message=f"${ENV_SWITCH}=off")
                return
            res = mirror_run(store, run_id, tracking_uri, experiment)
            if res.status == PENDING:
                hint = f"python -m core sync-mlflow {run_id} --db {shlex.quote(str(store.path))}"
                hint += f" --mlflow-uri {shlex.quote(tracking_uri)}" if tracking_uri else ""
                hint += f" --mlflow-experiment {shlex.quote(experiment)}" if experiment else ""
                print(f"warning: MLflow mirror failed ({res.message}); run {run_id} is stored and marked pending: "
                      f"replay with `{hint}`", file=sys.stderr, flush=True)
            elif announce:
                print(f"mlflow: run {res.mlflow_run_id} in experiment {res.experiment!r} "
                      f"(open with: {mlflow_ui_command(store, tracking_uri)})", flush=True)
        except Exception as exc:  # noqa: BLE001 - the mirror must never break a finished run
            print(f"warning: MLflow mirror of run {run_id} failed: {_one_line(exc)}", file=sys.stderr, flush=True)

    return [mirror_hook]


def sync(store: Store, run_id: str | None = None, tracking_uri: str | None = None, experiment: str | None = None,
         include_all: bool = False) -> list[MirrorResult]:
    """Replay the given run, or every pending one (include_all: every run not yet synced).

    Runs still in progress are left alone; the first failure stops the replay (the server is
    most likely down, and the remaining runs stay pending).
    """
    if run_id:
        store.get_run(run_id)  # KeyError with a hint for an unknown id
        return [mirror_run(store, run_id, tracking_uri, experiment)]
    df = store.runs_df()
    if df.empty:
        return []
    state = df["mlflow_status"].fillna("")
    todo = df[(state != SYNCED) if include_all else (state == PENDING)]
    todo = todo[todo["status"] != "running"].sort_values("created_at")
    results = []
    for rid in todo["run_id"]:
        results.append(mirror_run(store, rid, tracking_uri, experiment))
        if results[-1].status != SYNCED:
            break
    return results


def mirror_run(store: Store, run_id: str, tracking_uri: str | None = None, experiment: str | None = None) -> MirrorResult:
    """Log one run (parent + one child per model + artifacts); idempotent; marks the store row.

    MLflow failures are returned as a `pending` result, never raised.
    """
    uri = resolve_uri(store, tracking_uri)
    state: dict[str, str] = {}
    try:
        with _LOCK, _quiet_client_env():
            res = _mirror(store, run_id, uri, experiment, state)
    except Exception as exc:  # noqa: BLE001 - server down, bad URI, permissions: the run stays pending
        msg = f"{strip_userinfo(uri)}: {_one_line(exc)}"
        store.set_mlflow(run_id, PENDING, mlflow_run_id=state.get("parent"), message=msg)
        return MirrorResult(run_id, PENDING, uri, mlflow_run_id=state.get("parent"), message=msg)
    store.set_mlflow(run_id, SYNCED, res.mlflow_run_id,
                     message=f"experiment {res.experiment!r} (id {res.experiment_id}) at {strip_userinfo(uri)}")
    return res


# ---------------------------------------------------------------------------- the mirror


def _mirror(store: Store, run_id: str, uri: str, experiment: str | None, state: dict[str, str]) -> MirrorResult:
    from mlflow import MlflowClient

    row = store.get_run(run_id)
    times = queries.run_times(store, run_id)
    client = MlflowClient(tracking_uri=uri)
    name = experiment or os.environ.get(ENV_EXPERIMENT) or row.prompt_set
    exp_id = _experiment_id(client, name, artifact_root(uri))
    parent = _find_parent(client, row, exp_id)
    created = parent is None
    start_ms, end_ms = _ms(times["created_at"]), _ms(times["finished_at"])
    if created:
        parent = client.create_run(exp_id, start_time=start_ms, run_name=row.name or run_id,
                                   tags={TAG_RUN_ID: run_id, TAG_ROLE: "parent"})
    pid, exp_id = parent.info.run_id, parent.info.experiment_id
    state["parent"] = pid
    kpis = kpis_for_mlflow(store, run_id)
    models = {r["model"]: r for r in store.run_models_df(run_id).to_dict("records")}
    _log(client, parent, run_params(row, models), run_metrics(row, kpis), run_tags(row, kpis))
    for old in RENAMED_TAGS & set(parent.data.tags):  # "champion" now means only the promoted arm (core.registry)
        client.delete_tag(pid, old)
    children = {r.data.tags.get(TAG_MODEL): r for r in client.search_runs(
        [exp_id], filter_string=f"tags.`mlflow.parentRunId` = '{pid}'", max_results=1000)}
    child_ids = {}
    for model in row.spec.models:
        child = children.get(model) or client.create_run(
            exp_id, start_time=start_ms, run_name=model,
            tags={"mlflow.parentRunId": pid, TAG_RUN_ID: run_id, TAG_ROLE: "child", TAG_MODEL: model})
        mrow = models.get(model, {})
        _log(client, child, model_params(row, model, mrow), {**kpis.get(model, {}), **load_metrics(mrow, kpis.get(model))},
             {TAG_RUN_ID: run_id, TAG_MODEL: model, "llm_eval.model_status": "not run" if missing(mrow.get("status")) else str(mrow["status"])})
        _terminate(client, child.info.run_id, row.status, end_ms)
        child_ids[model] = child.info.run_id
    _log_artifacts(client, pid, store, row)
    _terminate(client, pid, row.status, end_ms)
    exp = client.get_experiment(exp_id)
    return MirrorResult(run_id, SYNCED, uri, exp.name, exp_id, pid, child_ids, created)


def _experiment_id(client, name: str, artifact_location: str | None) -> str:  # noqa: ANN001 - MlflowClient
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location,
                                        tags={"llm_eval.product_version": core.__version__})
    except MlflowException:  # created meanwhile by another process
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _find_parent(client, row, exp_id: str):  # noqa: ANN001, ANN202
    """The parent run already mirroring this evaluation run (any experiment), or None."""
    from mlflow.exceptions import MlflowException

    if row.mlflow_run_id:
        try:
            run = client.get_run(row.mlflow_run_id)
            if run.data.tags.get(TAG_RUN_ID) == row.run_id and run.info.lifecycle_stage == "active":
                return run
        except MlflowException:
            pass  # another server, or deleted there: search by tag
    ids = [exp_id] + [e.experiment_id for e in client.search_experiments() if e.experiment_id != exp_id]
    found = client.search_runs(ids, filter_string=f"tags.`{TAG_RUN_ID}` = '{_quote(row.run_id)}' "
                                                  f"AND tags.`{TAG_ROLE}` = 'parent'", max_results=10)
    return min(found, key=lambda r: r.info.start_time or 0) if found else None


def _log(client, run, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str]) -> None:  # noqa: ANN001
    """Log what is new: params once (MLflow params are immutable), metrics only when changed."""
    from mlflow.entities import Metric, Param, RunTag

    have_p, have_m = run.data.params, run.data.metrics
    ts = int(datetime.now(timezone.utc).timestamp() * 1000)
    p = [Param(_key(k), _text(v, 6000)) for k, v in params.items() if not missing(v) and _key(k) not in have_p]
    m = [Metric(_key(k), float(v), ts, 0) for k, v in numbers(metrics).items()
         if not (_key(k) in have_m and math.isclose(have_m[_key(k)], float(v), rel_tol=1e-9, abs_tol=1e-12))]
    t = [RunTag(_key(k), _text(v, 8000)) for k, v in tags.items() if not missing(v)]
    if not (p or m or t):
        return
    for i in range(0, max(len(p), len(t), 1), 100):
        client.log_batch(run.info.run_id, metrics=m if i == 0 else [], params=p[i:i + 100], tags=t[i:i + 100])


def _log_artifacts(client, mlflow_run_id: str, store: Store, row) -> None:  # noqa: ANN001
    with tempfile.TemporaryDirectory(prefix="llm_eval_mlflow_") as tmp:
        folder = Path(tmp)
        store.samples_df(row.run_id).to_parquet(folder / "samples.parquet", index=False)
        manifest = {"run_id": row.run_id, "name": row.name, "status": row.status, "spec": row.spec.to_dict(),
                    "manifest": row.manifest}
        (folder / "manifest.json").write_text(json.dumps(redact(manifest), indent=2, default=str))
        html = _report_html(store, row.run_id)
        if html is not None:
            (folder / "report.html").write_text(html)
        client.log_artifacts(mlflow_run_id, str(folder))


def _report_html(store: Store, run_id: str) -> str | None:
    try:
        from core.reports import render_html
    except ImportError:
        return None  # reports not built yet
    return render_html(store, run_id)


def _terminate(client, mlflow_run_id: str, status: str, end_ms: int | None) -> None:  # noqa: ANN001
    if status in _TERMINAL:
        client.set_terminated(mlflow_run_id, _TERMINAL[status], end_time=end_ms)


# ---------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _quiet_client_env() -> Iterator[None]:
    """Short HTTP timeout, one retry, and no MLflow/alembic/urllib3 chatter (user settings win)."""
    import mlflow  # noqa: F401 - first, so its logging setup does not undo the levels set here

    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(HTTP_TIMEOUT_S), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(HTTP_MAX_RETRIES),
              "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
    added = [k for k in wanted if k not in os.environ]
    loggers = {name: logging.getLogger(name) for name in ("mlflow", "alembic", "urllib3", "sqlalchemy")}
    levels = {name: lg.level for name, lg in loggers.items()}
    for k in added:
        os.environ[k] = wanted[k]
    for lg in loggers.values():
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for k in added:
            os.environ.pop(k, None)
        for name, lg in loggers.items():
            lg.setLevel(levels[name])


def _one_line(exc: BaseException, limit: int = 240) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return strip_userinfo(text if len(text) <= limit else text[: limit - 3] + "...")


def _key(name: str) -> str:
    return re.sub(r"[^\w.\- /]", "_", name)[:250]


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text[:limit]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _ms(ts: Any) -> int | None:
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and math.isnan(ts)):
        return None
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")  # the store keeps naive UTC timestamps
    return int(t.timestamp() * 1000)
