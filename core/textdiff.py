"""A word-level diff of two texts (two models' outputs for one prompt), and its safe HTML.

`word_diff` splits each text into words, runs of punctuation and runs of whitespace, matches
them with difflib and returns segments: text both share ("equal"), text only A has ("a") and
text only B has ("b"). Joining the equal and "a" segments gives A back exactly; equal and "b",
B. `side_html` renders one side for a page: every segment goes through html.escape before it is
wrapped in a span, so a model output such as `<script>` is shown as text, never run.
"""
from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from typing import Literal

SegmentKind = Literal["equal", "a", "b"]
TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")
MAX_TOKENS = 4_000  # per side; longer texts are shown whole, without a diff (difflib is quadratic at worst)
STYLE = {
    "a": "background-color: rgba(214, 39, 40, 0.22); text-decoration: line-through;",  # only in A (removed in B)
    "b": "background-color: rgba(44, 160, 44, 0.25);",  # only in B (added in B)
}


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    text: str


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text or "")


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if not s.text:
            continue
        if out and out[-1].kind == s.kind:
            out[-1] = Segment(s.kind, out[-1].text + s.text)
        else:
            out.append(s)
    return out


def word_diff(a: str | None, b: str | None) -> list[Segment]:
    """Segments in reading order (for a replaced stretch, A's words come before B's). Whitespace
    alone between two changes joins them into one stretch, so 'I think it' reads as one change."""
    ta, tb = tokens(a or ""), tokens(b or "")
    if len(ta) > MAX_TOKENS or len(tb) > MAX_TOKENS:
        return _merge([Segment("a", a or ""), Segment("b", b or "")]) if a != b else _merge([Segment("equal", a or "")])
    ops = difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes()
    segments: list[Segment] = []
    only_a, only_b = [], []  # the change being collected
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        text = "".join(ta[i1:i2])
        if op == "equal" and not (text.isspace() and 0 < n < len(ops) - 1):
            segments += [Segment("a", "".join(only_a)), Segment("b", "".join(only_b)), Segment("equal", text)]
            only_a, only_b = [], []
            continue
        only_a.append(text)
        only_b.append("".join(tb[j1:j2]))
    segments += [Segment("a", "".join(only_a)), Segment("b", "".join(only_b))]
    return _merge(segments)


def side_text(segments: list[Segment], side: Literal["a", "b"]) -> str:
    """One side's text as it was (the equal segments and that side's own)."""
    return "".join(s.text for s in segments if s.kind in ("equal", side))


def _escape(text: str) -> str:
    """html.escape, and line breaks as character references: the HTML stays on one line, so a
    blank line in an output cannot end the page's HTML block and turn the rest into Markdown."""
    return html.escape(text, quote=True).replace("\r\n", "&#10;").replace("\n", "&#10;").replace("\r", "&#10;")


def side_html(segments: list[Segment], side: Literal["a", "b"]) -> str:
    """One side's text as escaped HTML, its own words highlighted (A: struck through in red,
    B: green), whitespace kept. Safe for unsafe_allow_html: no user character survives unescaped."""
    parts = []
    for s in segments:
        if s.kind not in ("equal", side):
            continue
        text = _escape(s.text)
        parts.append(text if s.kind == "equal" else f'<span class="diff-{side}" style="{STYLE[side]}">{text}</span>')
    body = "".join(parts) or '<span style="opacity: 0.6">(empty)</span>'
    return f'<div style="white-space: pre-wrap; overflow-wrap: anywhere; font-family: monospace; font-size: 0.9em; margin-bottom: 0.5rem;">{body}</div>'


def stats(segments: list[Segment]) -> tuple[int, int, int]:
    """Words (tokens other than whitespace) shared, only in A and only in B."""
    count = {"equal": 0, "a": 0, "b": 0}
    for s in segments:
        count[s.kind] += sum(1 for t in tokens(s.text) if not t.isspace())
    return count["equal"], count["a"], count["b"]
