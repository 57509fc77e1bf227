"""Judge rubrics: plain-text templates, their checks, their hash, and parsing the judge's answer.

A rubric is data/rubrics/<name>.md or inline text. Placeholders {prompt}, {reference}, {answer},
{scale_min}, {scale_max} (pairwise: {answer_a}, {answer_b}) are substituted literally in one pass,
never with str.format: answers contain braces. The rubric hash is sha256 of the template text.

Pure Python (no model, no store): the prompt-set loader checks judge specs with it, so a rubric
without its placeholders is refused when the set loads, before anything runs.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from core import config

RUBRICS_DIR = config.DATA_DIR / "rubrics"
PLACEHOLDERS = ("prompt", "reference", "answer", "scale_min", "scale_max", "answer_a", "answer_b")
_PLACEHOLDER_RE = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCORE_RE = re.compile(r"(?im)^\s*score\s*[:=]\s*(-?\d+(?:\.\d+)?)")
PREFERENCE_RE = re.compile(r"(?im)^\s*preferred\s*[:=]\s*(a|b|tie)\b")
DEFAULT_SCALE = (0.0, 10.0)
MAX_RUBRIC_CHARS = 20_000

Preference = Literal["A", "B", "tie"]


class RubricError(ValueError):
    """A rubric or a judge scorer's params were refused; the message says how to fix it."""


class JudgeParseError(ValueError):
    """The judge's answer holds no usable verdict (no `Score: N` line, or N outside the scale)."""


def bundled_rubrics(folder: Path = RUBRICS_DIR) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.md"))


def load_rubric(name_or_text: str, folder: Path = RUBRICS_DIR) -> str:
    """The template: the text of data/rubrics/<name>.md for a bare name, else the text itself (inline)."""
    if not isinstance(name_or_text, str) or not name_or_text.strip():
        raise RubricError('judge scorer: params.rubric is required: a rubric name (e.g. "correctness") or inline text')
    if _NAME_RE.match(name_or_text.strip()) and "{" not in name_or_text:
        path = folder / f"{name_or_text.strip()}.md"
        if not path.is_file():
            raise RubricError(f"unknown rubric {name_or_text.strip()!r}; bundled rubrics: "
                              f"{', '.join(bundled_rubrics(folder)) or 'none'} (or give the template text inline)")
        return path.read_text(encoding="utf-8")
    if len(name_or_text) > MAX_RUBRIC_CHARS:
        raise RubricError(f"inline rubric is {len(name_or_text):,} characters, above the limit of {MAX_RUBRIC_CHARS:,}")
    return name_or_text


def rubric_hash(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def check_template(template: str, *, reference: bool = False, pairwise: bool = False) -> None:
    """Refuse a template that lacks a placeholder the judge needs ({answer}; {reference} with reference: true;
    pairwise: {answer_a} and {answer_b})."""
    found = set(_PLACEHOLDER_RE.findall(template))
    need = ["answer_a", "answer_b"] if pairwise else ["answer"]
    need += ["reference"] if reference else []
    missing = [n for n in need if n not in found]
    if missing:
        listed = ", ".join("{" + n + "}" for n in missing)
        raise RubricError(f"rubric lacks the placeholder{'s' * (len(missing) > 1)} {listed}: without "
                          f"{'them' if len(missing) > 1 else 'it'} the judge would not see what it grades; add "
                          f"{'them' if len(missing) > 1 else 'it'} to the template")


def parse_scale(value: Any) -> tuple[float, float]:
    if value is None:
        return DEFAULT_SCALE
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)):
        raise RubricError(f"judge scorer: params.scale must be two numbers [min, max], e.g. [0, 10]; got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if lo >= hi:
        raise RubricError(f"judge scorer: params.scale must have min < max; got {value!r}")
    return lo, hi


def check_judge_params(params: Mapping[str, Any]) -> None:
    """The static checks of a judge scorer's params (the judge model's existence is checked at run start)."""
    allowed = {"model", "rubric", "scale", "reference", "max_new_tokens"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise RubricError(f"judge scorer: unknown params {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RubricError('judge scorer: params.model is required: the catalog name of the judge model, e.g. "demo-judge"')
    if not isinstance(params.get("reference", False), bool):
        raise RubricError("judge scorer: params.reference must be true or false")
    n = params.get("max_new_tokens", 16)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1024:
        raise RubricError("judge scorer: params.max_new_tokens must be a whole number from 1 to 1024")
    parse_scale(params.get("scale"))
    check_template(load_rubric(params.get("rubric")), reference=bool(params.get("reference", False)))


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace each known placeholder in one pass: text put in is never scanned again."""
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def render_rubric(name_or_text: str, prompt: str, reference: str | None, answer: str,
                  scale: Sequence[float] = DEFAULT_SCALE) -> str:
    """The judge's prompt: the rubric with the sample's prompt, reference and answer put in."""
    lo, hi = parse_scale(scale)
    return substitute(load_rubric(name_or_text), {
        "prompt": prompt, "reference": reference if reference is not None else "(no reference)", "answer": answer,
        "scale_min": _fmt_number(lo), "scale_max": _fmt_number(hi)})


def render_pairwise(name_or_text: str, prompt: str, reference: str | None, answer_a: str, answer_b: str) -> str:
    return substitute(load_rubric(name_or_text), {
        "prompt": prompt, "reference": reference if reference is not None else "(no reference)",
        "answer_a": answer_a, "answer_b": answer_b})


def parse_score(text: str, scale: Sequence[float] = DEFAULT_SCALE) -> float:
    """N of the first `Score: N` line; JudgeParseError when there is none or N is outside the scale."""
    lo, hi = parse_scale(scale)
    m = SCORE_RE.search(text or "")
    if m is None:
        raise JudgeParseError("the judge's answer has no 'Score: N' line")
    value = float(m.group(1))
    if not lo <= value <= hi:
        raise JudgeParseError(f"the judge's score {_fmt_number(value)} is outside the scale "
                              f"[{_fmt_number(lo)}, {_fmt_number(hi)}]")
    return value


def parse_preference(text: str) -> Preference:
    """'A', 'B' or 'tie' from the first `Preferred: ...` line; JudgeParseError when there is none."""
    m = PREFERENCE_RE.search(text or "")
    if m is None:
        raise JudgeParseError("the judge's answer has no 'Preferred: A', 'Preferred: B' or 'Preferred: tie' line")
    v = m.group(1).lower()
    return "tie" if v == "tie" else v.upper()  # type: ignore[return-value]
