"""A gate result (core.gate.GateResult) as a text table, Markdown (the GitHub step summary) and
JUnit XML (one testcase per rule; a failure element for a failed rule, and for an inconclusive
one when inconclusive rules fail the gate)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd

from core.gate import GateResult, RuleResult, fmt_threshold, interval_text
from core.textfmt import DASH, count

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})  # markup a cell could smuggle in


def rows(g: GateResult) -> list[dict[str, str]]:
    """One row per rule: what the gate shows in every format."""
    return [{"rule": r.rule.text, "outcome": r.outcome.upper(), "statistic": r.statistic,
             f"estimate [{g.confidence:.0%} CI]": interval_text(r), "decided on": f"{r.bound} bound vs {fmt_threshold(r.rule)}",
             "prompts": count(r.n_prompts), "prompts to decide": count(r.prompts_needed) if r.prompts_needed else DASH}
            for r in g.results]


def headline(g: GateResult) -> str:
    c = g.counts()
    return (f"gate {'PASSED' if g.passed else 'FAILED'}: candidate {g.candidate} vs baseline {g.baseline}; "
            f"{c['pass']} pass, {c['fail']} fail, {c['inconclusive']} inconclusive "
            f"(inconclusive counts as {g.inconclusive})")


def text(g: GateResult) -> str:
    table = pd.DataFrame(rows(g)).to_string(index=False)
    return "\n".join([headline(g), g.pairing_note, "", table, "", *(f"- {r.sentence}" for r in g.results),
                      f"\nintervals: {g.confidence:.0%} two-sided, as on the Compare page (core.stats.METHODS); a rule "
                      "passes when the interval's bound keeps within the margin, fails when the whole interval is beyond it"])


def _md(s: str) -> str:
    return s.translate(_MD_SPECIAL).replace("\n", " ")


def markdown(g: GateResult) -> str:
    """GitHub-flavoured Markdown; arm names and rule text are escaped."""
    head = list(rows(g)[0]) if g.results else []
    lines = [f"### {'✅' if g.passed else '❌'} {_md(headline(g))}", "", _md(g.pairing_note), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md(v) for v in row.values()) + " |" for row in rows(g)]
    return "\n".join(lines) + "\n"


def _fails_gate(g: GateResult, r: RuleResult) -> bool:
    return r.outcome == "fail" or (r.outcome == "inconclusive" and g.inconclusive == "fail")


def junit_xml(g: GateResult) -> str:
    """JUnit XML: a testsuite named after the arms, one testcase per rule."""
    failures = sum(_fails_gate(g, r) for r in g.results)
    suite = ET.Element("testsuite", name=f"llm-eval gate: {g.candidate} vs {g.baseline}", tests=str(len(g.results)),
                       failures=str(failures), errors="0", skipped="0")
    for r in g.results:
        case = ET.SubElement(suite, "testcase", classname="llm-eval.gate", name=r.rule.text)
        if _fails_gate(g, r):
            ET.SubElement(case, "failure", message=f"{r.outcome}: {r.rule.text}", type=r.outcome).text = r.sentence
        else:
            ET.SubElement(case, "system-out").text = r.sentence
    root = ET.Element("testsuites", name="llm-eval gate", tests=str(len(g.results)), failures=str(failures))
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
