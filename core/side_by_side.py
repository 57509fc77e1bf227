"""Two arms' outputs prompt by prompt: which prompts pair, their text, a page of them, a CSV.

Arms follow core.arms: prompts pair by item id when the arms ran one prompt-set version; with
two versions only the items whose content is unchanged pair (the changed ones are listed and
left out); arms that share no prompt have nothing to show side by side. Prompt text and
reference come from each run's own prompt-set version (core.prompts.run_set). Filtering and
paging run in DuckDB (core.queries.side_by_side); the word diff is core.textdiff.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core import arms as A
from core import prompts
from core.queries import side_by_side as Q
from core.store import Store

Filter = Q.Filter
SHOW, SHOW_HELP = Q.SHOW, Q.SHOW_HELP
CSV_COLUMNS = {
    "item_id": "item", "category": "category", "prompt": "prompt", "reference": "reference",
    "a_output": "A output", "a_status": "A status", "a_error": "A error", "a_quality": "A quality (0-10)",
    "a_passed": "A passed", "a_scores": "A scorers (0-1, JSON)", "a_latency_ms": "A latency (ms)",
    "b_output": "B output", "b_status": "B status", "b_error": "B error", "b_quality": "B quality (0-10)",
    "b_passed": "B passed", "b_scores": "B scorers (0-1, JSON)", "b_latency_ms": "B latency (ms)",
}


@dataclass(frozen=True)
class Plan:
    """How two arms' prompts line up, and the prompts' text."""
    arm_a: A.Arm
    arm_b: A.Arm
    pairing: A.Pairing
    items: Q.Items

    @property
    def pairs_nothing(self) -> bool:
        return self.pairing.kind == "unpaired"


@dataclass(frozen=True)
class Page:
    rows: pd.DataFrame  # core.queries.side_by_side.COLUMNS, one row per prompt
    total: int  # prompts that match the filters (all pages)
    offset: int


def plan(store: Store, arm_a: A.Arm, arm_b: A.Arm) -> Plan:
    """ArmError naming the problem for an unknown run or model, or twice the same arm."""
    A.check_arms(store, [arm_a, arm_b])
    how = A.pairing(store, [arm_a, arm_b])
    ps = prompts.run_set(store, store.get_run(arm_a.run_id))
    known = [i for i in ps.items if how.kind != "changed-items" or i.id in set(how.shared)] if ps is not None else []
    items = Q.Items(tuple(i.id for i in known), tuple(i.prompt for i in known), tuple(i.reference for i in known),
                    only_listed=how.kind == "changed-items")
    return Plan(arm_a, arm_b, how, items)


def _key(arm: A.Arm) -> tuple[str, str]:
    return (arm.run_id, arm.model)


def page(store: Store, p: Plan, filt: Filter = Filter(), *, size: int = 10, number: int = 1) -> Page:
    """Page `number` (from 1) of `size` prompts that match `filt`; nothing for unpaired arms."""
    if p.pairs_nothing:
        return Page(pd.DataFrame(columns=list(Q.COLUMNS)), 0, 0)
    offset = max(0, (int(number) - 1) * int(size))
    rows, total = Q.paired_outputs(store, _key(p.arm_a), _key(p.arm_b), p.items, filt, limit=size, offset=offset)
    return Page(rows, total, offset)


def categories(store: Store, p: Plan) -> list[str]:
    return Q.arm_categories(store, [_key(p.arm_a), _key(p.arm_b)])


def export_frame(store: Store, p: Plan, filt: Filter = Filter()) -> pd.DataFrame:
    """Every prompt that matches `filt` (not one page), columns named for a reader; the first two
    columns name the arms (model@run)."""
    if p.pairs_nothing:
        rows = pd.DataFrame(columns=list(CSV_COLUMNS))
    else:
        rows, _ = Q.paired_outputs(store, _key(p.arm_a), _key(p.arm_b), p.items, filt, limit=None)
    out = rows[list(CSV_COLUMNS)].rename(columns=CSV_COLUMNS)
    out.insert(0, "B arm", p.arm_b.label)
    out.insert(0, "A arm", p.arm_a.label)
    return out


def export_csv(store: Store, p: Plan, filt: Filter = Filter()) -> bytes:
    """export_frame as UTF-8 CSV (texts exactly as stored)."""
    return export_frame(store, p, filt).to_csv(index=False).encode("utf-8")
