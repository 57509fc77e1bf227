"""What one comparison of two models on one metric found (Comparison: the test, effects with
intervals, equivalence, power) and how every view writes it: verdict (the plain-language
sentence), factor_text (a pair's headline factor), TEST_LABELS. core.compare computes the
comparisons; this module only reads them (it imports no other comparison code).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from core.stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    Equivalence,
    Interval,
    MetricInfo,
    Power,
    TestResult,
    format_number,
    metric_info,
)


@dataclass(frozen=True)
class Comparison:
    """Model a against model b on one metric. Effects are a - b (difference) and a / b (ratio)."""

    metric: str
    model_a: str
    model_b: str
    paired: bool
    pairing: str  # why paired or not
    test: TestResult
    n_a: int  # prompts with a value for a
    n_b: int
    n_pairs: int | None  # prompts compared pairwise (paired only)
    difference: Interval  # mean(a) - mean(b), per-prompt means
    ratio: Interval | None  # median(a) / median(b): ratio of medians (every run, on the prompts compared)
    cohen_d: float | None  # dz (paired) or pooled d
    cliffs_delta: float | None
    rank_biserial: float | None
    equivalence: Equivalence | None
    power: Power | None
    direction: Literal["a_higher", "b_higher", "equal", "unknown"]
    p_adjusted: float | None = None  # filled by pairwise()
    correction: str | None = None
    confidence: float = DEFAULT_CONFIDENCE
    notes: tuple[str, ...] = ()

    @property
    def p_value(self) -> float | None:
        return self.test.p_value

    @property
    def statistic(self) -> float | None:
        return self.test.statistic

    @property
    def p_final(self) -> float | None:
        """The adjusted p-value when there is one, else the raw p-value."""
        return self.p_adjusted if self.p_adjusted is not None else self.test.p_value

    def significant(self, alpha: float = DEFAULT_ALPHA) -> bool:
        return self.p_final is not None and self.p_final < alpha

    def better(self, alpha: float = DEFAULT_ALPHA) -> str | None:
        """The model that is significantly better, if the metric has a direction."""
        info = metric_info(self.metric)
        if info.lower_is_better is None or not self.significant(alpha) or not _effect_excludes_null(self):
            return None
        a_higher = self.direction == "a_higher"
        if self.direction not in ("a_higher", "b_higher"):
            return None
        return self.model_b if a_higher == info.lower_is_better else self.model_a


def primary_effect(c: Comparison) -> tuple[Interval | None, float]:
    """The effect the verdict reports and its no-difference value."""
    r = c.ratio
    if metric_info(c.metric).effect == "ratio" and r is not None and r.estimate is not None and r.estimate > 0:
        if not r.is_defined or r.low > 0:  # type: ignore[operator]
            return r, 1.0
    return c.difference, 0.0  # no usable ratio (zero or undefined medians): report the difference


def _effect_excludes_null(c: Comparison) -> bool:
    eff, null = primary_effect(c)
    return eff is not None and eff.is_defined and not (eff.low <= null <= eff.high)  # type: ignore[operator]


def direction_of(eff: Interval | None, null: float) -> Literal["a_higher", "b_higher", "equal", "unknown"]:
    if eff is None or eff.estimate is None:
        return "unknown"
    if eff.estimate > null:
        return "a_higher"
    return "b_higher" if eff.estimate < null else "equal"


# --------------------------------------------------------------------------- verdicts

_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
TEST_LABELS = {  # TestResult.test -> what a reader sees
    "wilcoxon": "Wilcoxon signed-rank", "paired-t": "paired t", "mcnemar-exact": "McNemar (exact)",
    "mcnemar-chi2": "McNemar (chi-square)", "mann-whitney": "Mann-Whitney U", "welch-t": "Welch t",
    "fisher-exact": "Fisher exact", "none": "no test",
}


def _p_text(c: Comparison) -> str:
    p = c.p_final
    if p is None:
        return "no p-value"
    text = "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
    if c.p_adjusted is not None and c.correction:
        text += f" after {_CORRECTION_NAMES.get(c.correction, c.correction)} correction"
    return text


RATIO_STATISTIC = "ratio of medians"  # what every headline 'Nx slower / faster' of a pair is (METHODS)


def _factor(f: float, like: float | None = None) -> str:
    """Two decimals below 1.5, one from there; `like`: take the precision of that number instead (an
    interval's ends are written as precisely as its estimate: '1.5x (1.50x-1.51x)' read as two scales)."""
    ref = f if like is None or not math.isfinite(like) else like
    return f"{f:.2f}" if ref < 1.5 else f"{f:.1f}"


def factor_text(f: float | None, like: float | None = None) -> str:
    """A ratio as every view writes a pair's headline factor: '4.9x', '1.23x', '0.204x'; `like`: the
    estimate whose precision an interval's ends share."""
    if f is None or not math.isfinite(f):
        return "n/a"
    ref = f if like is None or not math.isfinite(like) else like
    if ref < 1:  # three significant digits below 1; an end above 1 of such an interval: two decimals
        return f"{f:.3g}x" if f < 1 else f"{f:.2f}x"
    return f"{_factor(f, ref)}x"


def verdict(c: Comparison, alpha: float = DEFAULT_ALPHA) -> str:
    """A plain-language sentence from the numbers; claims a difference only when supported."""
    info = metric_info(c.metric)
    conf = f"{c.confidence * 100:g}% CI"
    if c.p_final is None:
        return f"{c.model_a} vs {c.model_b}: not enough data to compare {info.label} ({c.test.note or 'no test'})"
    eff, null = primary_effect(c)
    if not c.significant(alpha):
        eq = c.equivalence
        if eq is not None and eq.equivalent and eq.p_value is not None:
            unit = f" {info.diff_unit}" if info.diff_unit else ""
            m = format_number(eq.margin * info.scale)
            tp = "p < 0.001" if eq.p_value < 0.001 else f"p = {eq.p_value:.2g}"
            return f"no meaningful difference in {info.label} between {c.model_a} and {c.model_b} (within ±{m}{unit}, TOST {tp})"
        return f"no significant difference in {info.label} between {c.model_a} and {c.model_b} ({_p_text(c)})"
    if not _effect_excludes_null(c):
        return (
            f"a difference in {info.label} between {c.model_a} and {c.model_b} is detected ({_p_text(c)}), "
            f"but its size is uncertain: {_effect_text(c, eff, null, info, conf)}"
        )
    return _claim(c, eff, null, info, conf)  # type: ignore[arg-type]


def _effect_text(c: Comparison, eff: Interval | None, null: float, info: MetricInfo, conf: str) -> str:
    if eff is None or not eff.is_defined:
        return "no interval"
    if null == 1.0:
        return (f"{c.model_a}/{c.model_b} ratio of medians {factor_text(eff.estimate)} "  # type: ignore[arg-type]
                f"({conf} {factor_text(eff.low, eff.estimate)}-{factor_text(eff.high, eff.estimate)})")  # type: ignore[arg-type]
    s = info.scale
    return f"{c.model_a} - {c.model_b} = {format_number(eff.estimate * s)} ({conf} {format_number(eff.low * s)} to {format_number(eff.high * s)})"  # type: ignore[operator]


def _claim(c: Comparison, eff: Interval, null: float, info: MetricInfo, conf: str) -> str:
    a_high = eff.estimate > null  # type: ignore[operator]
    x, y = (c.model_a, c.model_b) if a_high else (c.model_b, c.model_a)
    if null == 1.0:
        f, lo, hi = (eff.estimate, eff.low, eff.high) if a_high else (1 / eff.estimate, 1 / eff.high, 1 / eff.low)  # type: ignore[operator]
        head = info.phrase.format(x=x, y=y, f=_factor(f), label=info.label, d="")
        return f"{head} ({RATIO_STATISTIC}; {conf} {factor_text(lo, f)}-{factor_text(hi, f)}, {_p_text(c)})"
    s = info.scale
    d, lo, hi = (eff.estimate * s, eff.low * s, eff.high * s) if a_high else (-eff.estimate * s, -eff.high * s, -eff.low * s)  # type: ignore[operator]
    phrase = info.phrase if info.effect == "difference" else "{x} has {d} " + info.unit + " higher {label} than {y}"
    head = phrase.format(x=x, y=y, d=format_number(d), f="", label=info.label)
    return f"{head} ({conf} {format_number(lo)}-{format_number(hi)}, {_p_text(c)})"
