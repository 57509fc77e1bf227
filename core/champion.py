"""The champion: the arm (run, model) the product measures others against, with its history.

    promote(store, arm, note=..., gate=...)  # appends a `promote` row with its evidence
    rollback(store, note=...)                # appends a `rollback` row restoring the previous champion
    current(store) -> Champion | None        # who reigns, promoted by which row, since which row
    history(store) -> list[Entry]            # every row, oldest first

The history (table champion_history) is append-only: no row is ever changed or removed. The
champions in force form a stack: a promotion pushes an arm, a rollback pops the current one and
restores the one promoted before it (a second rollback goes one further back). The setting
`champion` (the default baseline of Compare, `compare`, reports) holds the current champion's model
name and is written by the store with each row, so it is derived from the history; a database whose
setting held a model before the history existed gets a first `adopted` row for it (migration
0008_champion_history): a model name with no run, which a later promotion replaces.

Each row is mirrored to the MLflow Model Registry (core.registry), best effort: a failure is
recorded beside the row and never loses it.
"""
from __future__ import annotations

import getpass
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from core import queries
from core.arms import Arm
from core.queries.champion import champion_history
from core.redact import redact
from core.store import Store

ACTIONS = ("promote", "rollback", "adopted")
FAILING = {"fail", "failed", "failure"}


class ChampionError(ValueError):
    """A promotion or rollback that cannot be made: the message says why and what to do."""


@dataclass(frozen=True)
class Entry:
    """One row of the history."""

    seq: int
    at: datetime | None  # UTC; None for an adopted setting
    action: str  # promote | rollback | adopted
    run_id: str | None  # None for an adopted setting (a model name only)
    model: str
    actor: str | None
    note: str | None
    gate: dict[str, Any] | None
    evidence: dict[str, Any]
    restores: int | None  # rollback: the seq of the row whose champion it restores

    @property
    def arm(self) -> Arm | None:
        return Arm(self.run_id, self.model) if self.run_id else None

    @property
    def label(self) -> str:
        """RUN:MODEL, or the model alone for an adopted setting."""
        return str(self.arm) if self.arm else f"{self.model} (no run)"

    @property
    def gate_verdict(self) -> str | None:
        """The overall verdict of the gate result given as evidence (see gate_verdict)."""
        return gate_verdict(self.gate)


@dataclass(frozen=True)
class Champion:
    entry: Entry  # the row that promoted (or adopted) the champion
    since: Entry  # the row that made it current: the same row, or a later rollback

    @property
    def label(self) -> str:
        return self.entry.label


@dataclass(frozen=True)
class Change:
    """What promote or rollback did: the row appended, the champion it replaced, the MLflow mirror."""

    entry: Entry
    replaced: Entry | None
    mirror: Any  # core.registry.RegistryResult


# ---------------------------------------------------------------------------- reading


def history(store: Store) -> list[Entry]:
    """Every row of the champion's history, oldest first."""
    return [_entry(r) for r in champion_history(store).to_dict("records")]


def _entry(r: dict[str, Any]) -> Entry:
    def text(v: Any) -> str | None:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    restores = r.get("restores")
    at = r.get("changed_at")
    return Entry(int(r["seq"]), None if at is None or pd.isna(at) else pd.Timestamp(at).to_pydatetime(), str(r["action"]),
                 text(r.get("run_id")), str(r["model"]), text(r.get("actor")), text(r.get("note")),
                 json.loads(r["gate"]) if text(r.get("gate")) else None,
                 json.loads(r["evidence"]) if text(r.get("evidence")) else {},
                 None if restores is None or pd.isna(restores) else int(restores))


def _in_force(entries: list[Entry]) -> list[Entry]:
    """The stack of promotions in force, oldest first: promote/adopted push, rollback pops."""
    stack: list[Entry] = []
    for e in entries:
        if e.action == "rollback":
            stack = stack[:-1]
        else:
            stack.append(e)
    return stack


def current(store: Store, entries: list[Entry] | None = None) -> Champion | None:
    """The champion now (None when none was ever promoted, or every one was rolled back)."""
    entries = history(store) if entries is None else entries
    stack = _in_force(entries)
    return Champion(stack[-1], entries[-1]) if stack else None


def previous(store: Store, entries: list[Entry] | None = None) -> Entry | None:
    """The champion a rollback would restore (None: there is none)."""
    stack = _in_force(history(store) if entries is None else entries)
    return stack[-2] if len(stack) >= 2 else None


# ---------------------------------------------------------------------------- changing


def promote(store: Store, arm: Arm, *, note: str | None = None, gate: dict[str, Any] | None = None,
            actor: str | None = None, force: bool = False, mirror: bool = True, tracking_uri: str | None = None) -> Change:
    """Make `arm` the champion: checks the arm (a finished run that has successful results of the
    model), the gate result when given (an object; a failing verdict, or a gate on another
    candidate, refuses unless `force`), appends the row, then mirrors it to MLflow."""
    evidence = _evidence(store, arm)
    if gate is not None:
        check_gate(gate, arm, force)
    entries = history(store)
    now = current(store, entries)
    if now is not None and now.entry.arm == arm:
        raise ChampionError(f"{arm} is already the champion (since row {now.since.seq})")
    row = {"action": "promote", "run_id": arm.run_id, "model": arm.model, "note": _note(note), "actor": actor or who(),
           "gate": json.dumps(gate, default=str) if gate is not None else None, "evidence": json.dumps(evidence, default=str)}
    return _append(store, row, entries, now.entry if now else None, mirror, tracking_uri)


def rollback(store: Store, *, note: str | None = None, actor: str | None = None, mirror: bool = True,
             tracking_uri: str | None = None) -> Change:
    """Restore the champion promoted before the current one, as a new `rollback` row."""
    entries = history(store)
    now = current(store, entries)
    back = previous(store, entries)
    if now is None:
        raise ChampionError("there is no champion to roll back: promote one first "
                            "(`python -m core champion promote RUN:MODEL`)")
    if back is None:
        raise ChampionError(f"there is no previous champion to roll back to: {now.label} is the first one "
                            "in force (promote another arm instead)")
    row = {"action": "rollback", "run_id": back.run_id, "model": back.model, "note": _note(note),
           "actor": actor or who(), "evidence": json.dumps({"replaced": now.label, "replaced_row": now.entry.seq}),
           "restores": back.seq}
    return _append(store, row, entries, now.entry, mirror, tracking_uri)


def _append(store: Store, row: dict[str, Any], entries: list[Entry], replaced: Entry | None, mirror: bool,
            tracking_uri: str | None) -> Change:
    from core import registry  # MLflow is imported only when a mirror runs

    row = {**row, "changed_at": _utcnow()}
    seq = store.append_champion(row, row["model"], entries[-1].seq if entries else 0)
    entry = _entry({**row, "seq": seq})
    after = entries + [entry]
    result = (registry.mirror(store, entry, current(store, after), tracking_uri) if mirror
              else registry.not_mirrored(store, entry))
    return Change(entry, replaced, result)


def _utcnow() -> datetime:
    from core.store import now

    return now()


def _note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > 2000:
        raise ChampionError(f"the note is {len(note):,} characters long; keep it under 2,000")
    return note or None


def who(tool: str = "CLI") -> str:
    """The user and the tool, e.g. 'ana (CLI)'."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in a container: the tool alone
        return tool
    return f"{user} ({tool})"


# ---------------------------------------------------------------------------- evidence


def _evidence(store: Store, arm: Arm) -> dict[str, Any]:
    """What the promotion rests on: the run and the model as the run measured it."""
    try:
        run = store.get_run(arm.run_id)
    except KeyError:
        raise ChampionError(f"unknown run {arm.run_id!r}; list runs with `python -m core runs`") from None
    if arm.model not in run.spec.models:
        raise ChampionError(f"run {arm.run_id} has no model {arm.model!r} (it ran: {', '.join(run.spec.models)})")
    if run.status in ("running", "queued"):
        raise ChampionError(f"run {arm.run_id} is {run.status}: promote an arm of a finished run")
    if arm.model not in queries.ok_models(store, arm.run_id):
        raise ChampionError(f"{arm.model} has no successful result in run {arm.run_id}: nothing to promote")
    spec = redact(queries.manifest_model_specs(store, arm.run_id).get(arm.model) or {})
    return {"run_name": run.name, "run_status": run.status, "prompt_set": run.prompt_set,
            "prompt_set_hash": run.prompt_set_hash, "model_version": (run.manifest.get("model_versions") or {}).get(arm.model),
            "source": spec.get("base_url") or spec.get("source"), "revision": spec.get("revision"),
            "mlflow_run_id": run.mlflow_run_id if run.mlflow_status == "synced" else None}


def read_gate(text: str, name: str = "the gate file") -> dict[str, Any]:
    """A gate result (JSON object, e.g. `python -m core gate ... --json`) as a dict; ChampionError otherwise."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ChampionError(f"{name} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ChampionError(f"{name} holds a JSON {type(doc).__name__}; a gate result is a JSON object")
    return doc


def gate_verdict(gate: dict[str, Any] | None) -> str | None:
    """The overall verdict a gate result states (`verdict`, `outcome`, `status`, `result`, or `passed`)."""
    if not gate:
        return None
    for key in ("verdict", "outcome", "status", "result"):
        if isinstance(gate.get(key), str):
            return gate[key].strip().lower()
    if isinstance(gate.get("passed"), bool):
        return "pass" if gate["passed"] else "fail"
    return None


def check_gate(gate: dict[str, Any], arm: Arm, force: bool = False) -> None:
    """Refuse a failing gate or one that judged another candidate, unless `force`."""
    if force:
        return
    verdict = gate_verdict(gate)
    if verdict in FAILING:
        raise ChampionError(f"the gate result says {verdict!r}: a failing gate is no evidence for promoting {arm} "
                            "(fix the regression, or force it)")
    cand = gate.get("candidate")
    if isinstance(cand, dict):
        cand = f"{cand.get('run_id') or cand.get('run')}:{cand.get('model')}"
    if isinstance(cand, str) and cand not in (str(arm), arm.label):
        raise ChampionError(f"the gate result judged candidate {cand!r}, not {arm}")


# ---------------------------------------------------------------------------- display


def promotable(store: Store) -> dict[str, list[str]]:
    """run id -> the models it can promote (finished runs with successful results), newest run first."""
    from core.queries.champion import promotable as rows

    out: dict[str, list[str]] = {}
    for r in rows(store).to_dict("records"):
        out.setdefault(str(r["run_id"]), []).append(str(r["model"]))
    return out


def history_frame(store: Store) -> pd.DataFrame:
    """The history for a table, newest first: when (UTC), action, arm, by, note, evidence, gate, MLflow."""
    from core.queries.champion import champion_mirror

    entries = history(store)
    mirrors = {int(r["seq"]): r for r in champion_mirror(store).to_dict("records")}
    rows = [{"row": e.seq, "when (UTC)": e.at.replace(microsecond=0) if e.at else None, "action": e.action, "arm": e.label,
             "by": e.actor or "", "note": e.note or "", "evidence": evidence_text(e), "gate": gate_verdict(e.gate) or "-",
             "MLflow": _mirror_text(mirrors.get(e.seq))}
            for e in reversed(entries)]
    return pd.DataFrame(rows, columns=["row", "when (UTC)", "action", "arm", "by", "note", "evidence", "gate", "MLflow"])


def evidence_text(e: Entry) -> str:
    ev = e.evidence
    if e.action == "rollback":
        return f"restores row {e.restores}; replaces {ev.get('replaced', '?')}"
    if e.action == "adopted":
        return "the champion setting found when the history began"
    parts = [f"run {e.run_id}", f"prompt set {ev.get('prompt_set')} ({str(ev.get('prompt_set_hash') or '')[:12]})"]
    if ev.get("model_version"):
        parts.append(f"model version {str(ev['model_version'])[:12]}")
    return "; ".join(parts)


def _mirror_text(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    if m["status"] == "synced":
        return f"synced: {m['registered_model']} v{m['version']}"
    return f"{m['status']}: {m.get('message') or ''}".strip()


def sync(store: Store, tracking_uri: str | None = None):  # noqa: ANN201 - core.registry.RegistryResult | None
    """Replay the MLflow mirror for the current state of the history (after a failure); None: no history."""
    from core import registry

    entries = history(store)
    return registry.mirror(store, entries[-1], current(store, entries), tracking_uri) if entries else None
