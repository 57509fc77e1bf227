"""MLflow Model Registry mirror of the champion (core.champion). DuckDB is the record; this is a copy.

One registered model (`llm-eval-champion`, or $LLM_EVAL_MLFLOW_REGISTERED_MODEL) holds one version
per promoted arm (run, model): its source is the model's source (Hugging Face id, local folder or
server URL, credentials removed), its tags point to the evaluation run (run id, the run's MLflow
run id when mirrored, prompt set and version, gate verdict, history row). The `champion` alias
moves to the version of the arm in force after each promotion or rollback. The tracking store is
core.tracking's (same URI rules, same $LLM_EVAL_MLFLOW=off switch). Best effort: any MLflow
failure is recorded in the store's champion_mirror table and returned, never raised.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import tracking
from core.redact import strip_userinfo
from core.store import Store

if TYPE_CHECKING:
    from core.champion import Champion, Entry

ENV_REGISTERED_MODEL = "LLM_EVAL_MLFLOW_REGISTERED_MODEL"
DEFAULT_REGISTERED_MODEL = "llm-eval-champion"
ALIAS = "champion"
SYNCED, PENDING, DISABLED, SKIPPED = "synced", "pending", "disabled", "skipped"


@dataclass(frozen=True)
class RegistryResult:
    seq: int
    status: str  # synced | pending (failed: replay with `champion sync`) | disabled | skipped
    registered_model: str | None
    version: str | None  # the version the alias points to now
    message: str | None

    @property
    def text(self) -> str:
        if self.status == SYNCED:
            return f"MLflow: alias '{ALIAS}' of {self.registered_model} -> version {self.version}"
        return f"MLflow: {self.status} ({self.message})"


def registered_model_name() -> str:
    return os.environ.get(ENV_REGISTERED_MODEL) or DEFAULT_REGISTERED_MODEL


def not_mirrored(store: Store, entry: Entry) -> RegistryResult:
    return _record(store, RegistryResult(entry.seq, SKIPPED, None, None, "mirror not requested"))


def mirror(store: Store, entry: Entry, champ: Champion | None, tracking_uri: str | None = None) -> RegistryResult:
    """Point the `champion` alias at `champ`, the champion in force after history row `entry`
    (core.champion decides it), registering its version when new; record the outcome beside
    the row; never raise."""
    name = registered_model_name()
    if not tracking.enabled():
        return _record(store, RegistryResult(entry.seq, DISABLED, name, None, f"${tracking.ENV_SWITCH}=off"))
    uri = tracking.resolve_uri(store, tracking_uri)
    try:
        with tracking._LOCK, tracking._quiet_client_env():
            version = _apply(store, uri, name, champ.entry if champ else None)
    except Exception as exc:  # noqa: BLE001 - server down, bad URI, permissions: the history row stays
        return _record(store, RegistryResult(entry.seq, PENDING, name, None, f"{strip_userinfo(uri)}: {tracking._one_line(exc)}"))
    if version is None:
        why = "no champion in force" if champ is None else f"{champ.label} has no run to register"
        return _record(store, RegistryResult(entry.seq, SKIPPED, name, None, f"{why}: alias '{ALIAS}' removed"))
    return _record(store, RegistryResult(entry.seq, SYNCED, name, version, None))


def _record(store: Store, r: RegistryResult) -> RegistryResult:
    store.record_champion_mirror(r.seq, r.status, r.registered_model, r.version, r.message)
    return r


def _apply(store: Store, uri: str, name: str, champ: Entry | None) -> str | None:
    """Move the alias to champ's version (registered now when missing); None: alias removed."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, tags={"llm_eval.role": "champion"},
                                       description="The champion of llm-eval: one version per promoted arm (run, model); "
                                                   f"alias '{ALIAS}' is the champion in force.")
    if champ is None or champ.arm is None:
        if ALIAS in client.get_registered_model(name).aliases:
            client.delete_registered_model_alias(name, ALIAS)
        return None
    version = _find_version(client, name, champ) or _register(client, store, name, champ)
    client.set_registered_model_alias(name, ALIAS, version)
    client.set_registered_model_tag(name, "llm_eval.champion", str(champ.arm))
    return version


def _find_version(client, name: str, champ: Entry) -> str | None:  # noqa: ANN001 - MlflowClient
    q = tracking._quote
    found = client.search_model_versions(f"name = '{q(name)}' AND tags.`llm_eval.run_id` = '{q(champ.run_id or '')}'"
                                         f" AND tags.`llm_eval.model` = '{q(champ.model)}'")
    return str(min(int(v.version) for v in found)) if found else None


def _register(client, store: Store, name: str, champ: Entry) -> str:  # noqa: ANN001 - MlflowClient
    ev = champ.evidence
    mlflow_run = _existing_run(client, ev.get("mlflow_run_id"))
    tags = {"llm_eval.run_id": champ.run_id, "llm_eval.model": champ.model, "llm_eval.arm": str(champ.arm),
            "llm_eval.prompt_set": ev.get("prompt_set"), "llm_eval.prompt_set_hash": ev.get("prompt_set_hash"),
            "llm_eval.model_version": ev.get("model_version"), "llm_eval.mlflow_run_id": ev.get("mlflow_run_id"),
            "llm_eval.gate": champ.gate_verdict, "llm_eval.history_row": str(champ.seq),
            "llm_eval.gate_result": json.dumps(champ.gate, default=str)[:5000] if champ.gate else None}
    source = strip_userinfo(str(ev.get("source") or f"llm-eval://{champ.run_id}/{champ.model}"))
    desc = (f"{champ.model} as measured in evaluation run {champ.run_id} (prompt set {ev.get('prompt_set')}); "
            f"promoted by {champ.actor or '?'}" + (f": {champ.note}" if champ.note else ""))
    v = client.create_model_version(name, source, run_id=mlflow_run, description=desc,
                                    tags={k: str(val) for k, val in tags.items() if val is not None})
    return str(v.version)


def _existing_run(client, run_id: str | None) -> str | None:  # noqa: ANN001
    """The run id when the tracking store has it (a version may only link to a run it knows)."""
    if not run_id:
        return None
    try:
        client.get_run(run_id)
    except Exception:  # noqa: BLE001 - mirrored to another server, or deleted
        return None
    return run_id
