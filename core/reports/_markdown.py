"""The report as Markdown: the same sections, pipe tables, and the charts as PNG files in a
folder beside the document (`<name>_charts/`), linked by relative path.

User text is escaped for Markdown (and its inline HTML): in tables and sentences every
Markdown and HTML special character is backslash-escaped or written as an entity; prompts
and outputs go in fenced code blocks whose fence is longer than any backtick run inside.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.reports.model import Report, Table

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def esc(text: object) -> str:
    """Inline text: HTML entities for & < >, backslash before Markdown punctuation, one line."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())


def fence(text: str) -> str:
    runs = [len(m) for m in re.findall(r"`+", text)]
    f = "`" * max(3, max(runs, default=0) + 1)
    return f"{f}text\n{text}\n{f}"


def table(t: Table) -> list[str]:
    out = [f"**{esc(t.title)}**", ""] if t.title else []
    out.append("| " + " | ".join(esc(c) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if n else "---" for n in t.numeric) + "|")
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in t.rows]
    if t.note:
        out += ["", f"*{esc(t.note)}*"]
    return [*out, ""]


def _kv(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"- **{esc(k)}**: {esc(v)}" for k, v in pairs] + [""]


@dataclass(frozen=True)
class Markdown:
    text: str
    images: dict[str, bytes]  # relative path (as linked from the text) -> PNG


def render(report: Report, charts_dir: str) -> Markdown:
    """The document and its chart images; charts_dir is the folder name the links use."""
    r, s = report, report.sections
    images: dict[str, bytes] = {}

    def chart(c) -> list[str]:  # noqa: ANN001 - a core.charts spec
        path = f"{charts_dir}/{c.key}.png"
        images[path] = c.png()
        return [f"![{esc(c.title)}]({path})", *([f"*{esc(c.caption)}*"] if c.caption else []), ""]

    out = [f"# {esc(r.title)}", "", f"Generated {esc(r.generated_at)}, {esc(r.byline)}", ""]
    out += [f"## {s['summary']}", ""]
    if r.kind == "arms":
        return _arms(r, out, table, chart, images)
    rec = r.summary.recommended
    out += [f"**Recommended model: {esc(rec)}**" if rec else "**No model can be recommended**", "", esc(r.summary.why) + ".", ""]
    if r.summary.savings:
        out += ["### Cost", "", *[f"- {esc(x)}" for x in r.summary.savings], ""]
    vs = f" (each model vs {esc(r.summary.baseline)}, {esc(r.summary.baseline_source)})" if r.summary.baseline else ""
    if "comparisons" in s:
        out += [f"### Key verdicts{vs}", "", *([f"- {esc(v)}" for v in r.summary.verdicts] or ["- No comparisons could be made."]), ""]
    out += ["### The run", "", *_kv(r.summary.facts), *[f"*Note: {esc(n)}*" for n in r.summary.notes], ""]

    if "kpis" in s:
        out += [f"## {s['kpis']}", ""]
        for t in r.kpi_tables:
            out += table(t)
    if "distributions" in s:
        out += [f"## {s['distributions']}", ""]
        for c in r.distributions:
            out += chart(c)

    if "comparisons" in s:
        out += [f"## {s['comparisons']}", ""]
        out += table(r.comparison) if r.comparison.rows else ["No comparisons: fewer than two models with successful requests.", ""]
        if r.verdicts:
            out += ["### Verdicts", "", *[f"- {esc(v)}" for v in r.verdicts], ""]
        out += [f"*Note: {esc(n)}*" for n in r.comparison_notes]
        if r.pareto:
            out += chart(r.pareto)

    if "costs" in s:
        out += [f"## {s['costs']}", ""]
        for t in r.cost_tables:
            out += table(t)
        for c in r.cost_charts:
            out += chart(c)
        out += ["### Assumptions", "", *[f"- {esc(n)}" for n in r.cost_notes], ""]

    if r.throughput is not None and "throughput" in s:
        out += [f"## {s['throughput']}", ""]
        out += table(r.throughput_table) if r.throughput_table else []
        out += chart(r.throughput)

    if r.judging is not None and "judging" in s:
        out += [f"## {s['judging']}", "", *[esc(x) + "\n" for x in r.judging.sentences]]
        for t in r.judging.tables:
            out += table(t)
        for c in r.judging.charts:
            out += chart(c)
        out += [f"*Note: {esc(n)}*" for n in r.judging.notes]

    if "methods" in s:
        out += [f"## {s['methods']}", "", *_kv(r.methods), fence(r.methods_text), ""]
    if "environment" in s:
        out += [f"## {s['environment']}", "", *_kv(r.environment), *table(r.model_table)]

    if "appendix" in s:
        out += [f"## {s['appendix']}", "", f"*{esc(r.appendix_note)}*", ""]
        for item in r.appendix:
            out += _appendix_item(item)
    return Markdown("\n".join(out).rstrip() + "\n", images)


def _appendix_item(item) -> list[str]:  # noqa: ANN001 - an AppendixItem
    head = esc(item.item_id) + (f" · {esc(item.category)}" if item.category else "") + (" · has failures" if item.failed else "")
    out = [f"### {head}", "", "**Prompt**", "", fence(item.prompt), ""]
    if item.reference is not None:
        out += ["**Reference**", "", fence(item.reference), ""]
    for o in item.outputs:
        out += [f"**{esc(o.model)}**: {esc(o.facts)}" + (" (cut)" if o.truncated else ""), "", fence(o.text), ""]
    return out


def _arms(r: Report, out: list[str], table, chart, images: dict[str, bytes]) -> Markdown:  # noqa: ANN001
    """The report of arms across runs: summary, comparisons, methods (the sections it has)."""
    s = r.sections
    out += [f"**Pairing:** {esc(r.pairing)}.", ""]
    if r.changed_prompts:
        out += [f"Prompts left out (changed between the prompt-set versions): {esc(', '.join(r.changed_prompts))}", ""]
    vs = f" (each arm vs {esc(r.summary.baseline)})" if r.summary.baseline else ""
    out += [f"### Key verdicts{vs}", "", *([f"- {esc(v)}" for v in r.summary.verdicts] or ["- No comparisons could be made."]), ""]
    out += ["### The arms", "", *_kv(r.summary.facts)]

    out += [f"## {s['comparisons']}", ""]
    out += table(r.comparison) if r.comparison.rows else ["No comparisons: fewer than two arms with successful requests.", ""]
    if r.verdicts:
        out += ["### Verdicts", "", *[f"- {esc(v)}" for v in r.verdicts], ""]
    out += [f"*Note: {esc(n)}*" for n in r.comparison_notes]
    if r.advice:
        out += ["", "### Sample size", "", *[f"- {esc(a)}" for a in r.advice], ""]
    if r.pareto:
        out += chart(r.pareto)
    if r.pareto_table:
        out += table(r.pareto_table)

    out += [f"## {s['methods']}", "", *_kv(r.methods), fence(r.methods_text), ""]
    return Markdown("\n".join(out).rstrip() + "\n", images)
