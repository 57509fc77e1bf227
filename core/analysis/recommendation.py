"""The recommendation: the model to ship and a plain-language why (RECOMMEND_RULE).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

import core.analysis.costs as C
from core.analysis.comparison import RunComparison, compare_run
from core.analysis.rules import best_quality
from core.analysis.to_json import finite, jsonable
from core.compare import Comparison
from core.stats import DEFAULT_ALPHA
from core.store import Store
from core.textfmt import sig3


@dataclass(frozen=True)
class Recommendation:
    run_id: str
    model: str | None
    why: str
    rule: str
    efficient: tuple[str, ...]  # Pareto-efficient models (quality, latency, cost, memory)
    considered: tuple[str, ...]  # the contenders: the best-quality model, then those not significantly below it

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "llm-eval/recommendation/v1", **jsonable(self)}


_CORRECTION = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


RECOMMEND_RULE = (
    "among the Pareto-efficient models (quality up; latency, cost and memory down), take the best mean "
    "quality; every efficient model whose quality is not significantly lower (quality comparison, adjusted "
    "p >= alpha, or no test possible) is a contender, and the contenders go to the lowest median latency "
    "when that model is significantly faster than each other contender (latency comparison). Without quality "
    "scores every efficient model is a contender. No model is recommended when none passed a scored check, "
    "when the pick passed none, or when the evidence cannot separate the contenders."
)


def recommend(
    store: Store,
    run_id: str,
    *,
    comparison: RunComparison | None = None,
    alpha: float = DEFAULT_ALPHA,
    settings: C.CostSettings | None = None,
) -> Recommendation:
    """The model to ship, with a plain-language why (rule: RECOMMEND_RULE); model None, and why,
    when nothing passed or the evidence cannot separate the contenders."""
    comp = comparison or compare_run(store, run_id, metrics=("quality",), use_champion=False, alpha=alpha, settings=settings)
    t = comp.pareto_table.set_index("model")
    efficient = tuple(p.model for p in comp.pareto if p.efficient)
    if not efficient:
        return Recommendation(run_id, None, "no model completed a request in this run, so none can be recommended",
                              RECOMMEND_RULE, (), ())
    lat = {m: t.loc[m, "latency_ms"] if finite(t.loc[m, "latency_ms"]) is not None else math.inf for m in efficient}
    scored = [m for m in efficient if finite(t.loc[m, "quality"]) is not None]
    ctx = _RecContext(store, run_id, comp, t, lat, alpha, settings, efficient)
    if not scored:
        return ctx.decide(list(efficient), "no quality scores in this run")
    best = best_quality({m: t.loc[m, "quality"] for m in scored}, lat)
    if all(ctx.passed(m) == 0 for m in t.index if finite(t.loc[m, "quality"]) is not None):
        return ctx.result(None, f"no model passed a single scored check (best mean quality {ctx.quality(best)}), "
                                "so none can be recommended", (best,))
    lower = {m for m in scored if m != best and _lower(comp.find("quality", best, m), m, alpha)}
    return ctx.decide([best, *(m for m in scored if m != best and m not in lower)], "")


@dataclass(frozen=True, eq=False)
class _RecContext:
    """What recommend's steps share: the comparison, the Pareto table and median latencies."""

    store: Store
    run_id: str
    comp: RunComparison
    table: pd.DataFrame
    lat: Mapping[str, float]
    alpha: float
    settings: C.CostSettings | None
    efficient: tuple[str, ...]

    def result(self, model: str | None, why: str, considered: Sequence[str]) -> Recommendation:
        return Recommendation(self.run_id, model, why, RECOMMEND_RULE, self.efficient, tuple(considered))

    def passed(self, m: str) -> int | None:
        """Scored requests of m that passed (None: not known, or m has no quality scores)."""
        if "passed" not in self.table.columns or finite(self.table.loc[m, "quality"]) is None:
            return None
        v = finite(self.table.loc[m, "passed"])
        return None if v is None else int(v)

    def quality(self, m: str) -> str:
        return f"{self.table.loc[m, 'quality']:.2f}/10"

    def decide(self, contenders: list[str], no_quality: str) -> Recommendation:
        """contenders[0] is the best (quality) when scored; the pick is the fastest, when it passed
        a scored check and is significantly faster than each other contender."""
        pick = min(contenders, key=lambda m: self.lat[m])
        ties = self._ties(contenders) if not no_quality and len(contenders) > 1 else ""
        cannot = f"the evidence cannot separate {_and(contenders)}: {ties or no_quality}, and "
        if self.passed(pick) == 0:
            return self.result(None, (cannot + f"{pick}, the fastest of them," if ties else
                                      f"{pick} has the best mean quality ({self.quality(pick)}) but")
                               + " passed none of its scored checks, so none can be recommended", contenders)
        if len(contenders) == 1:
            return self.result(pick, self._alone(pick, no_quality), contenders)
        faster = self._latency(pick, [m for m in contenders if m != pick])
        unclear = [m for m, c in faster.items() if not _lower(c, pick, self.alpha)]
        if unclear:
            return self.result(None, cannot + f"{pick}'s median latency ({sig3(self.lat[pick], 'n/a')} ms) is not significantly "
                               "below " + ", ".join(f"{m}'s ({sig3(self.lat[m], 'n/a')} ms; {_p(faster[m])})" for m in unclear)
                               + ", so none can be recommended; more prompts may tell them apart", contenders)
        return self.result(pick, f"{pick}: {ties or no_quality}, and {pick} is significantly faster than " + ", ".join(
            f"{m} ({sig3(self.lat[pick], 'n/a')} ms vs {sig3(self.lat[m], 'n/a')} ms median latency; {_p(c)})" for m, c in faster.items()),
            contenders)

    def _alone(self, pick: str, no_quality: str) -> str:
        if no_quality:
            return f"{pick}: {no_quality}; the only Pareto-efficient model, at a median latency of {sig3(self.lat[pick], 'n/a')} ms"
        return (f"{pick} has the best mean quality ({self.quality(pick)}) among the Pareto-efficient models "
                f"({', '.join(self.efficient)}), at a median latency of {sig3(self.lat[pick], 'n/a')} ms"
                + ("; every other efficient model scores significantly lower" if len(self.efficient) > 1 else ""))

    def _ties(self, contenders: list[str]) -> str:
        best, rest = contenders[0], contenders[1:]
        return (f"{best} has the best mean quality ({self.quality(best)}), but "
                + ", ".join(f"{m} ({self.quality(m)}; {_p(self.comp.find('quality', best, m))})" for m in rest)
                + (" is" if len(rest) == 1 else " are") + " not significantly lower")

    def _latency(self, pick: str, others: list[str]) -> dict[str, Comparison | None]:
        found = {m: self.comp.find("latency", pick, m) for m in others}
        if any(c is None for c in found.values()):  # the comparison passed in had no latency tests for these
            extra = compare_run(self.store, self.run_id, metrics=("latency",), models=[pick, *others], baseline=pick,
                                use_champion=False, alpha=self.alpha, settings=self.settings)
            found = {m: c or extra.find("latency", pick, m) for m, c in found.items()}
        return found


def _lower(c: Comparison | None, m: str, alpha: float) -> bool:
    """True when the comparison shows m significantly lower than the other model."""
    if c is None or not c.significant(alpha):
        return False
    return (c.direction, m) in (("a_higher", c.model_b), ("b_higher", c.model_a))


def _p(c: Comparison | None) -> str:
    """'p = 0.031 after Holm correction', or why there is no p-value."""
    if c is None or c.p_final is None:
        return "too little data for a test"
    corr = f" after {_CORRECTION.get(c.correction, c.correction)} correction" if c.correction else ""
    return f"p = {c.p_final:.2g}{corr}"


def _and(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
