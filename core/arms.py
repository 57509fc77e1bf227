"""Arms: a model as measured in one run, compared with arms of other runs.

An arm is (run, model). Arms from different runs are paired by prompt when their prompt sets
agree on a prompt: the same version (content hash) pairs every shared item; with the same item
ids but another version, an item whose content (prompt, system prompt, reference, scorers)
changed is listed and left out of the comparison, the rest are paired; with no shared items
the arms are compared unpaired (core.compare decides from the overlap and says so).

`load_arms` returns one sample frame in which the `model` column holds each arm's label
(`model@run`), so every in-run tool (core.compare.pairwise, effect sizes, Holm/BH, TOST,
power, Pareto) works on arms unchanged. No SQL here: reads go through core.queries.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core import prompts, queries
from core.store import Store

PairingKind = Literal["same-version", "changed-items", "unpaired"]


class ArmError(ValueError):
    """An arm that cannot be compared (unknown run or model, malformed text): the message says why."""


@dataclass(frozen=True)
class Arm:
    run_id: str
    model: str

    @property
    def label(self) -> str:
        """How the arm is named in tables, charts and verdicts: model@run."""
        return f"{self.model}@{self.run_id}"

    def __str__(self) -> str:
        return f"{self.run_id}:{self.model}"


def parse_arm(text: str) -> Arm:
    """'RUN:MODEL' (the first colon separates them) as an Arm."""
    run_id, sep, model = str(text).strip().partition(":")
    if not sep or not run_id.strip() or not model.strip():
        raise ArmError(f"an arm is RUN:MODEL (a run id, a colon, a model of that run); got {text!r}")
    return Arm(run_id.strip(), model.strip())


@dataclass(frozen=True)
class Pairing:
    kind: PairingKind
    shared: tuple[str, ...]  # item ids compared prompt by prompt
    changed: tuple[str, ...]  # item ids whose content differs between the arms' versions (left out)
    note: str  # the sentence a page or report shows


@dataclass(frozen=True)
class ArmData:
    arms: tuple[Arm, ...]
    frame: pd.DataFrame  # sample rows of every arm; `model` holds Arm.label
    pairing: Pairing

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.arms]


def check_arms(store: Store, arms: Sequence[Arm]) -> None:
    """ArmError naming the problem: fewer than two arms, a repeated arm, an unknown run or a
    model the run did not plan."""
    if len(arms) < 2:
        raise ArmError("compare at least two arms (RUN:MODEL)")
    if len(set(arms)) < len(arms):
        raise ArmError(f"an arm is listed twice: {', '.join(str(a) for a in arms)}")
    for arm in arms:
        try:
            run = store.get_run(arm.run_id)
        except KeyError:
            raise ArmError(f"unknown run {arm.run_id!r} in arm {arm}; list runs with `python -m core runs`") from None
        planned = run.spec.models
        if arm.model not in planned:
            raise ArmError(f"run {arm.run_id} has no model {arm.model!r} (it ran: {', '.join(planned)})")


def _fingerprints(store: Store, run_id: str) -> dict[str, str] | None:
    """item id -> a hash of what defines the item (prompt, system, reference, scorers) in the
    run's own prompt-set version; None when that version is no longer stored."""
    ps = prompts.run_set(store, store.get_run(run_id))
    if ps is None:
        return None
    out = {}
    for item in ps.items:
        body = json.dumps([item.prompt, item.system, item.reference, [s.model_dump() for s in item.scorers]],
                          sort_keys=True, default=str)
        out[item.id] = hashlib.sha256(body.encode()).hexdigest()
    return out


def pairing(store: Store, arms: Sequence[Arm]) -> Pairing:
    """How the arms' prompts line up (see the module docstring)."""
    runs = {a.run_id: store.get_run(a.run_id) for a in arms}
    if len({r.prompt_set_hash for r in runs.values()}) == 1:
        ids = _fingerprints(store, arms[0].run_id)
        shared = tuple(sorted(ids)) if ids is not None else ()
        return Pairing("same-version", shared, (), "paired by prompt: every arm ran the same prompt-set version")
    prints = {rid: _fingerprints(store, rid) for rid in runs}
    if any(p is None for p in prints.values()):
        gone = ", ".join(rid for rid, p in prints.items() if p is None)
        return Pairing("unpaired", (), (), f"unpaired: the prompt-set version of run {gone} is no longer stored, so "
                                           "its prompts cannot be matched to the other arms'")
    common = set.intersection(*(set(p) for p in prints.values()))  # type: ignore[arg-type]
    same = sorted(i for i in common if len({p[i] for p in prints.values()}) == 1)  # type: ignore[index]
    changed = sorted(common - set(same))
    if not same:
        why = "no prompt is shared" if not common else "every shared prompt changed between the versions"
        return Pairing("unpaired", (), tuple(changed), f"unpaired: the arms ran different prompt sets ({why}); "
                                                       "the tests compare the two samples as independent")
    note = f"paired by prompt on {_prompts(len(same))} shared by every arm"
    if changed:
        note += (f"; {_prompts(len(changed))} changed between the prompt-set versions and "
                 f"{'is' if len(changed) == 1 else 'are'} left out")
    return Pairing("changed-items", tuple(same), tuple(changed), note)


def _prompts(n: int) -> str:
    return f"{n:,} prompt{'' if n == 1 else 's'}"


def load_arms(store: Store, arms: Sequence[Arm], columns: Sequence[str]) -> ArmData:
    """The arms' sample rows (`columns` of the samples table, plus `passed` as 0/1) in one frame
    whose `model` column holds each arm's label; changed items are dropped; unpaired arms get
    item ids of their own so that nothing is paired by accident."""
    arms = tuple(arms)
    check_arms(store, arms)
    how = pairing(store, arms)
    cols = list(dict.fromkeys(["model", "item_id", "seq", "status", *columns]))
    cols = [c for c in cols if c != "passed"]
    parts = []
    for arm in arms:
        df = queries.fetch(store, arm.run_id, models=[arm.model], columns=cols)
        if how.kind == "changed-items":
            df = df[df["item_id"].isin(how.shared)]
        elif how.kind == "unpaired":
            df = df.assign(item_id=arm.label + "/" + df["item_id"].astype(str))
        parts.append(df.assign(model=arm.label, run_id=arm.run_id))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*cols, "passed", "run_id"])
    if how.kind == "same-version":  # count the prompts every arm has rows for (a run may be partial)
        common = sorted(set.intersection(*(set(map(str, p["item_id"])) for p in parts)))
        how = dataclasses.replace(how, shared=tuple(common), note=f"paired by prompt on {len(common):,} prompts: "
                                                                  "every arm ran the same prompt-set version")
    return ArmData(arms, frame, how)
