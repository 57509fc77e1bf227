"""The regression gate: does a candidate arm (run, model) hold up against a baseline arm?

A rule is a metric, a comparison and a margin in the metric's own terms (grammar below). Each
rule is decided on the bound of the candidate-vs-baseline confidence interval (core.analysis.
compare_arms, the same tests and intervals as the Compare page): pass when the whole interval
keeps within the margin, fail when the whole interval is beyond it, inconclusive otherwise, with
the number of prompts a power calculation says would decide it. Rule grammar (one rule a line,
or one `--rule`):

    RULE   := METRIC OP NUMBER UNIT
    OP     := ">=" for a metric where higher is better, "<=" where lower is better
    quality >= -0.5           mean quality (0-10 points), candidate - baseline: lower bound >= -0.5 points
    human_rating >= -0.5      mean blind human rating (0-10 points, mean over raters; unrated answers left out), likewise
    pass_rate >= -2pp         pass rate, candidate - baseline: lower bound >= -2 percentage points
    mem_added <= 50MB         peak memory added per generation, candidate - baseline: upper bound <= 50 MB
    latency <= 1.10x          median latency, candidate / baseline (ratio of medians): upper bound <= 1.10
    ttft <= 1.2x, cost <= 1.2x, peak_rss <= 1.05x, tokens_per_s >= 0.9x (lower bound >= 0.9)
    error_rate <= 1%          the candidate's own error rate (share of attempted requests that failed):
                              pass when the interval's upper bound is <= 1%, fail when its lower bound is above

A margin allows the candidate to be at most that much worse; one that demands an improvement
(quality >= 0.5, latency <= 0.9x) or has the wrong unit is refused. A gate file is YAML:
`rules:` followed by a list of rule strings (data/gates/demo.yaml). Arms whose prompts cannot
be paired (core.arms: no shared prompt version) are refused: the gate decides nothing.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from scipy.special import ndtri

from core import queries
from core.analysis import RunComparison, compare_arms
from core.arms import Arm, check_arms, pairing
from core.compare import Comparison
from core.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SEED,
    Interval,
    MetricInfo,
    by_alias,
    metric_info,
    proportion_ci,
    required_sample_size,
    wilson_ci,
)
from core.store import Store
from core.textfmt import DASH, factor, percent, signed

DEMO_GATE = Path(__file__).resolve().parents[1] / "data" / "gates" / "demo.yaml"  # the example gate file
Outcome = Literal["pass", "fail", "inconclusive"]
RuleKind = Literal["difference", "ratio", "rate"]


class GateError(ValueError):
    """Bad gate input (a rule, a file, arms that cannot be paired): the message names the problem."""


@dataclass(frozen=True)
class _MetricRule:
    """The grammar's part of a rule's metric; what the metric is (column, direction, label, scale)
    is the metric registry's (core.stats.metric_registry)."""
    name: str  # the registry's metric (a samples column; error_rate: per model)
    kind: RuleKind
    units: tuple[str, ...]  # accepted unit suffixes ("" = none); the first is the canonical one
    example: str = ""

    @property
    def column(self) -> str:
        return self.name

    @property
    def metric(self) -> MetricInfo:
        return metric_info(self.name)

    @property
    def higher_is_better(self) -> bool:
        return not self.metric.lower_is_better

    @property
    def scale(self) -> float:
        """Value as written / scale = value in the metric's stored unit (pp and % of a fraction: 100)."""
        return self.metric.scale

    @property
    def label(self) -> str:
        """'median latency', 'mean quality', 'pass rate', 'error rate of the candidate'."""
        m = self.metric
        if self.kind == "rate":
            return f"{m.label} of the candidate"
        return f"{'median' if self.kind == 'ratio' else 'mean'} {m.label}" if not m.binary else m.label

    @property
    def short_unit(self) -> str:
        return self.metric.diff_unit  # points, pp, MB


_METRICS: dict[str, _MetricRule] = {  # the grammar's name (the registry's alias) -> rule
    r.metric.alias: r for r in (
        _MetricRule("quality", "difference", ("points", "", "pt", "pts"), "quality >= -0.5"),
        _MetricRule("human_rating", "difference", ("points", "", "pt", "pts"), "human_rating >= -0.5"),
        _MetricRule("passed", "difference", ("pp",), "pass_rate >= -2pp"),
        _MetricRule("mem_added_mb", "difference", ("MB", "mb", ""), "mem_added <= 50MB"),
        _MetricRule("latency_ms", "ratio", ("x",), "latency <= 1.10x"),
        _MetricRule("ttft_ms", "ratio", ("x",), "ttft <= 1.2x"),
        _MetricRule("decode_tps", "ratio", ("x",), "tokens_per_s >= 0.9x"),
        _MetricRule("local_cost", "ratio", ("x",), "cost <= 1.2x"),
        _MetricRule("peak_rss_mb", "ratio", ("x",), "peak_rss <= 1.05x"),
        _MetricRule("error_rate", "rate", ("%",), "error_rate <= 1%"),
    )
}
_METRICS["pass_rate"] = _METRICS.pop("passed")  # the grammar has always said pass_rate


def _rule_name(name: str) -> str:
    """The grammar's name a typed one means: pass_rate, latency, ... (passed, latency_ms, decode too)."""
    if name in _METRICS:
        return name
    info = by_alias(name)
    alias = info.alias if info else name
    return "pass_rate" if alias == "passed" else alias


_RULE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=)\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*([A-Za-z%]*)\s*$")


@dataclass(frozen=True)
class Rule:
    text: str  # as written
    metric: str  # the grammar's name (quality, pass_rate, latency, ...)
    column: str  # the sample column compared (error_rate: none)
    kind: RuleKind
    op: Literal[">=", "<="]
    threshold: float  # in the metric's stored unit: points, a fraction (pass rate, error rate), a factor, MB

    @property
    def info(self) -> _MetricRule:
        return _METRICS[self.metric]


def parse_rule(text: str) -> Rule:
    """One rule of the grammar in the module docstring; GateError naming what is wrong."""
    m = _RULE.match(str(text))
    if not m:
        raise GateError(f"a rule is METRIC >= or <= NUMBER UNIT, e.g. 'quality >= -0.5' or 'latency <= 1.10x'; got {text!r}")
    name, op, number, unit = m.group(1).lower(), m.group(2), float(m.group(3)), m.group(4)
    name = _rule_name(name)
    if name not in _METRICS:
        raise GateError(f"unknown metric {m.group(1)!r} in rule {text!r}; use one of: {', '.join(_METRICS)}")
    info = _METRICS[name]
    if unit not in info.units:
        want = "a factor of the baseline (x)" if info.units[0] == "x" else f"{info.units[0]!r}"
        raise GateError(f"rule {text!r}: {name} margins are in {want}, not {unit or 'a bare number'!r}; "
                        f"e.g. {info.example!r}")
    _check_sign(text, name, info, op, number)
    return Rule(str(text).strip(), name, info.column, info.kind, op, number / info.scale)  # type: ignore[arg-type]


def _check_sign(text: str, name: str, info: _MetricRule, op: str, value: float) -> None:
    want = ">=" if info.higher_is_better else "<="
    if op != want:
        raise GateError(f"rule {text!r}: {name} is {'higher' if info.higher_is_better else 'lower'}-is-better, so a rule "
                        f"bounds it with {want}, e.g. {info.example!r}")
    bad = {
        "difference": value > 0 if info.higher_is_better else value < 0,
        "ratio": value <= 0 or (value > 1 if info.higher_is_better else value < 1),
        "rate": not 0 <= value <= 100,
    }[info.kind]
    if bad:
        what = ("an error-rate limit is a percentage between 0% and 100%" if info.kind == "rate" else
                "the margin says how much worse the candidate may be than the baseline, so it cannot demand an "
                "improvement (or be a non-positive factor)")
        raise GateError(f"rule {text!r}: margin of the wrong sign: {what}; e.g. {info.example!r}")


def load_rules(path: str | Path) -> list[Rule]:
    """The rules of a gate file: YAML with `rules:`, a list of rule strings."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateError(f"gate file {str(p)!r} not found") from None
    except yaml.YAMLError as exc:
        raise GateError(f"gate file {p.name!r} is not valid YAML: {exc}") from None
    return rules_from_yaml(doc, p.name)


def rules_from_text(text: str, source: str = "the gate rules") -> list[Rule]:
    """Rules from YAML text (the dashboard's text area)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GateError(f"{source} is not valid YAML: {exc}") from None
    return rules_from_yaml(doc, source)


def rules_from_yaml(doc: Any, source: str) -> list[Rule]:
    items = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(r, str) for r in items):
        raise GateError(f"{source}: expected `rules:` followed by a list of rule strings, e.g.\n"
                        "rules:\n  - quality >= -0.5\n  - latency <= 1.10x")
    return [parse_rule(r) for r in items]


# =========================================================================== decisions


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    outcome: Outcome
    statistic: str  # what the interval is, in words
    interval: Interval | None  # candidate vs baseline (difference or ratio), or the candidate's error rate
    bound: Literal["lower", "upper"]  # the bound the rule is decided on
    n_prompts: int  # prompts behind the interval (paired prompts; error rate: the candidate's prompts)
    prompts_needed: int | None  # inconclusive: about how many prompts would decide it (80% power)
    sentence: str


@dataclass(frozen=True)
class GateResult:
    baseline: Arm
    candidate: Arm
    results: tuple[RuleResult, ...]
    inconclusive: Literal["fail", "pass"]  # what an inconclusive rule counts as
    confidence: float
    pairing_note: str

    @property
    def passed(self) -> bool:
        bad = {"fail"} | ({"inconclusive"} if self.inconclusive == "fail" else set())
        return not any(r.outcome in bad for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        return {k: sum(r.outcome == k for r in self.results) for k in ("pass", "fail", "inconclusive")}

    def to_dict(self) -> dict[str, Any]:
        from core.analysis import interval_dict

        return {
            "schema": "llm-eval/gate/v1", "baseline": str(self.baseline), "candidate": str(self.candidate),
            "passed": self.passed, "inconclusive_counts_as": self.inconclusive, "confidence": self.confidence,
            "pairing": self.pairing_note, "counts": self.counts(),
            "rules": [{"rule": r.rule.text, "metric": r.rule.metric, "outcome": r.outcome, "statistic": r.statistic,
                       "threshold": r.rule.threshold, "bound": r.bound,
                       "interval": interval_dict(r.interval) if r.interval is not None else None,
                       "n_prompts": r.n_prompts, "prompts_needed": r.prompts_needed, "sentence": r.sentence}
                      for r in self.results],
        }


def run_gate(store: Store, baseline: Arm, candidate: Arm, rules: Sequence[Rule], *,
             inconclusive: Literal["fail", "pass"] = "fail", confidence: float = DEFAULT_CONFIDENCE,
             seed: int = DEFAULT_SEED) -> GateResult:
    """Decide every rule for the candidate against the baseline (module docstring)."""
    if not rules:
        raise GateError("no rules: give a gate file (--rules) or at least one --rule")
    if inconclusive not in ("fail", "pass"):
        raise GateError(f"inconclusive counts as 'fail' or 'pass', not {inconclusive!r}")
    check_arms(store, [baseline, candidate])
    how = pairing(store, [baseline, candidate])
    if how.kind == "unpaired":
        raise GateError(f"no paired prompts: the gate decides nothing ({how.note})")
    cols = list(dict.fromkeys(r.column for r in rules if r.kind != "rate"))
    comp = compare_arms(store, [candidate, baseline], metrics=cols, baseline=baseline, confidence=confidence,
                        seed=seed) if cols else None
    results = tuple(_decide_rate(store, candidate, r, confidence, seed) if r.kind == "rate"
                    else _decide_comparison(comp, candidate, baseline, r) for r in rules)  # type: ignore[arg-type]
    note = comp.pairing.note if comp is not None and comp.pairing is not None else how.note
    return GateResult(baseline, candidate, results, inconclusive, confidence, note)


def _decide_comparison(comp: RunComparison, cand: Arm, base: Arm, rule: Rule) -> RuleResult:
    c = comp.find(rule.column, cand.label, base.label)
    if c is None:
        raise GateError(f"rule {rule.text!r}: {rule.info.label} has no values for both arms, so the rule cannot be decided")
    if not c.paired:
        raise GateError(f"no paired prompts for {rule.info.label}: the gate decides nothing ({c.pairing})")
    iv = c.ratio if rule.kind == "ratio" else c.difference
    what = ("ratio of medians, candidate / baseline" if rule.kind == "ratio" else
            f"difference of means, candidate - baseline ({_unit(rule)})")
    bound: Literal["lower", "upper"] = "lower" if rule.info.higher_is_better else "upper"
    n = int(c.n_pairs or 0)
    if iv is None or not iv.is_defined:
        why = (iv.note if iv is not None else "") or "no interval"
        return RuleResult(rule, "inconclusive", what, iv, bound, n, None, f"{rule.text}: inconclusive, {why}")
    outcome = _outcome(iv, rule.threshold, rule.info.higher_is_better)
    need = _prompts_needed(c, iv, rule) if outcome == "inconclusive" else None
    return RuleResult(rule, outcome, what, iv, bound, n, need, _sentence(rule, outcome, iv, bound, n, need, what))


def _outcome(iv: Interval, threshold: float, higher_is_better: bool) -> Outcome:
    lo, hi = float(iv.low), float(iv.high)  # type: ignore[arg-type]
    if higher_is_better:
        return "pass" if lo >= threshold else "fail" if hi < threshold else "inconclusive"
    return "pass" if hi <= threshold else "fail" if lo > threshold else "inconclusive"


def _prompts_needed(c: Comparison, iv: Interval, rule: Rule) -> int | None:
    """Prompts for a paired t test (80% power, alpha = 1 - confidence) to tell the observed
    effect from the margin: the SD of per-prompt differences for a difference; for a ratio, the
    SD implied by the interval's half-width on the log scale (normal approximation)."""
    n = int(c.n_pairs or 0)
    alpha = 1 - iv.confidence
    if rule.kind == "ratio":
        if min(iv.low, iv.high, iv.estimate, rule.threshold) <= 0 or n < 2:  # type: ignore[type-var]
            return None
        z = float(ndtri(1 - alpha / 2))
        sd = (math.log(iv.high) - math.log(iv.low)) / 2 * math.sqrt(n) / z  # type: ignore[arg-type]
        gap = abs(math.log(iv.estimate) - math.log(rule.threshold))  # type: ignore[arg-type]
    else:
        sd = c.power.sd if c.power is not None else None
        gap = abs(float(iv.estimate) - rule.threshold)  # type: ignore[arg-type]
    if not sd or sd <= 0 or gap <= 0:
        return None
    need = required_sample_size(gap, sd, alpha=alpha).n
    return None if need is None else max(need, n + 1)


def _decide_rate(store: Store, cand: Arm, rule: Rule, confidence: float, seed: int) -> RuleResult:
    df = queries.fetch(store, cand.run_id, models=[cand.model], columns=["item_id", "status"])
    df = df[df["status"].isin(["ok", "error", "timeout"])]  # attempted requests
    what = "error rate of the candidate (share of attempted requests that failed)"
    n = int(df["item_id"].nunique())
    if df.empty:
        return RuleResult(rule, "inconclusive", what, None, "upper", 0, None, f"{rule.text}: inconclusive, no attempted requests")
    iv = proportion_ci((df["status"] != "ok").to_numpy(float), df["item_id"].to_numpy(), confidence=confidence, seed=seed)
    outcome = _outcome(iv, rule.threshold, False)
    need = _rate_prompts(float(iv.estimate), rule.threshold, n, confidence) if outcome == "inconclusive" else None  # type: ignore[arg-type]
    return RuleResult(rule, outcome, what, iv, "upper", n, need, _sentence(rule, outcome, iv, "upper", n, need, what))


def _rate_prompts(rate: float, limit: float, n: int, confidence: float) -> int | None:
    """Fewest prompts at which the Wilson interval around the observed rate clears the limit."""
    if rate == limit:
        return None

    def decided(k: int) -> bool:
        iv = wilson_ci(int(round(rate * k)), k, confidence)
        return iv.high <= limit if rate < limit else iv.low > limit  # type: ignore[operator]

    hi = max(n, 1)
    while not decided(hi):
        if hi > 10**8:
            return None
        hi *= 2
    lo = max(n, 1)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decided(mid) else (mid + 1, hi)
    return max(lo, n + 1)


# =========================================================================== words


def _unit(rule: Rule) -> str:
    u = rule.info.short_unit
    return "percentage points" if u == "pp" else u


def fmt_threshold(rule: Rule) -> str:
    v = rule.threshold * rule.info.scale
    suffix = {"ratio": "x", "rate": "%"}.get(rule.kind) or " " + rule.info.short_unit
    return f"{v:+g}{suffix}" if rule.kind == "difference" else f"{v:g}{suffix}"


def fmt_value(rule: Rule, x: float | None, unit: bool = True) -> str:
    """A rule's statistic as the gate writes it: '1.1x', '0.50%', '+0.25 points' (DASH when missing)."""
    if x is None or not np.isfinite(x):
        return DASH
    v = x * rule.info.scale
    if rule.kind == "ratio":
        return factor(v)
    if rule.kind == "rate":
        return percent(v, 2)
    return f"{signed(v)} {rule.info.short_unit}" if unit else signed(v)


def interval_text(r: RuleResult) -> str:
    iv = r.interval
    if iv is None or not iv.is_defined:
        return "no interval"
    f = lambda x: fmt_value(r.rule, x, unit=False)  # noqa: E731
    unit = f" {r.rule.info.short_unit}" if r.rule.kind == "difference" else ""
    return f"{f(iv.estimate)} [{f(iv.low)}, {f(iv.high)}]{unit}"


def _sentence(rule: Rule, outcome: Outcome, iv: Interval, bound: str, n: int, need: int | None, what: str) -> str:
    b = iv.low if bound == "lower" else iv.high
    head = (f"{rule.text}: {outcome}; {what} {fmt_value(rule, iv.estimate)}, {iv.confidence:.0%} CI "
            f"{fmt_value(rule, iv.low)} to {fmt_value(rule, iv.high)} over {n:,} prompts; {bound} bound "
            f"{fmt_value(rule, b)} vs the margin {fmt_threshold(rule)}")
    if outcome == "inconclusive":
        head += (f"; about {need:,} prompts would decide it (80% power)" if need else
                 "; the estimate sits on the margin, so no number of prompts is sure to decide it")
    return head
