"""Position bias of a pairwise judge asked in both orders: the share of order-dependent verdicts,
and the preferences that remain once such verdicts count as ties."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.stats.basics import DEFAULT_CONFIDENCE, Interval
from core.stats.intervals import wilson_ci

OUTCOMES = ("A", "B", "tie")
_COLUMNS = ("prompt", "model_a", "model_b", "outcome")
_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def preference_frame(preferences: Any) -> pd.DataFrame:
    """Validated preferences (prompt, model_a, model_b, outcome) from a DataFrame or rows."""
    df = preferences if isinstance(preferences, pd.DataFrame) else pd.DataFrame(list(preferences), columns=None)
    if df.empty:
        raise ValueError("no preferences given: need rows with prompt, model_a, model_b and outcome")
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"preferences need columns {', '.join(_COLUMNS)} (missing: {', '.join(missing)})")
    df = df[list(_COLUMNS)].copy()
    bad = df.loc[~df["outcome"].isin(OUTCOMES), "outcome"]
    if len(bad):
        raise ValueError(f"unknown outcome {bad.iloc[0]!r} in {len(bad)} preference(s): use 'A', 'B' or 'tie'")
    same = df["model_a"] == df["model_b"]
    if same.any():
        raise ValueError(f"a model compared with itself ({df.loc[same, 'model_a'].iloc[0]!r}): each preference needs two models")
    return df


@dataclass(frozen=True)
class PositionBias:
    """A judge's verdicts on both orders of each (prompt, pair).

    preferences: one row per pair asked in both orders (prompt, model_a, model_b, outcome),
    outcome "tie" where the verdict depended on the order; share: order-dependent pairs over
    pairs asked in both orders (Wilson interval); favoured_first / favoured_second: of those,
    how many chose the answer shown first (second) both times."""

    preferences: pd.DataFrame
    n_pairs: int
    n_order_dependent: int
    share: Interval
    favoured_first: int
    favoured_second: int
    n_incomplete: int  # pairs with a verdict in one order only (left out)


def resolve_both_orders(calls: Any, confidence: float = DEFAULT_CONFIDENCE) -> PositionBias:
    """Judge calls, one row each (prompt, model_a = the answer shown first, model_b, outcome as
    shown), paired by (prompt, the two models); the later call of an order wins. A pair whose
    verdicts agree keeps it; one whose verdicts differ (a tie in one order included) is a tie."""
    df = preference_frame(calls)
    rows, first, second, incomplete = [], 0, 0, 0
    seen: dict[tuple, dict[tuple, str]] = {}
    for p, a, b, o in df.itertuples(index=False):
        seen.setdefault((p, frozenset((a, b))), {})[(a, b)] = o
    dependent = 0
    for (prompt, _pair), verdicts in seen.items():
        if len(verdicts) < 2:
            incomplete += 1
            continue
        (a, b), (b2, a2) = list(verdicts)
        ab, ba = verdicts[(a, b)], verdicts[(b2, a2)]
        if ab == _SWAP[ba]:
            rows.append((prompt, a, b, ab))
            continue
        dependent += 1
        first += ab == "A" and ba == "A"
        second += ab == "B" and ba == "B"
        rows.append((prompt, a, b, "tie"))
    n = len(rows)
    share = wilson_ci(dependent, n, confidence)
    return PositionBias(pd.DataFrame(rows, columns=list(_COLUMNS)), n, dependent, share, first, second, incomplete)
