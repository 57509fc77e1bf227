"""`python -m core gate`: a candidate arm against a baseline arm, rule by rule (core.gate).

Exit status 0: the gate passed; 1: it failed; 2: bad input (unknown arm or metric, a margin of
the wrong sign or unit, arms without paired prompts). The rule grammar: core.gate, docs/ci-gate.md.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from core.cli.common import CliError, command, open_store


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder
    g = add("gate", "regression gate for CI: a candidate arm RUN:MODEL against a baseline arm, rule by rule "
                    "(exit 0 pass, 1 fail, 2 bad input)")
    g.add_argument("--baseline", required=True, metavar="RUN:MODEL", help="the arm to hold the candidate to")
    g.add_argument("--candidate", required=True, metavar="RUN:MODEL", help="the arm under test")
    g.add_argument("--rules", metavar="FILE", help="gate file: YAML with `rules:` and a list of rule strings (data/gates/demo.yaml)")
    g.add_argument("--rule", action="append", default=[], metavar="RULE",
                   help="a rule inline (repeatable), e.g. 'quality >= -0.5', 'pass_rate >= -2pp', 'latency <= 1.10x', "
                        "'error_rate <= 1%%'")
    g.add_argument("--inconclusive", choices=["fail", "pass"], default="fail",
                   help="what an inconclusive rule counts as (default: fail)")
    g.add_argument("--confidence", type=float, default=0.95, help="two-sided interval confidence (default 0.95)")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    g.add_argument("--json", action="store_true", help="print the result as JSON (schema llm-eval/gate/v1)")
    g.add_argument("--junit", metavar="FILE", help="also write JUnit XML: one testcase per rule")


@command("gate")
def cmd_gate(args: argparse.Namespace) -> int:
    from core import gate, gate_output
    from core.arms import parse_arm

    if not 0 < args.confidence < 1:
        raise CliError(f"--confidence must be between 0 and 1 (got {args.confidence}), e.g. 0.95")
    rules = (gate.load_rules(args.rules) if args.rules else []) + [gate.parse_rule(r) for r in args.rule]
    if not rules:
        raise CliError("no rules: give a gate file with --rules FILE or at least one --rule, e.g. --rule 'quality >= -0.5'")
    result = gate.run_gate(open_store(args), parse_arm(args.baseline), parse_arm(args.candidate), rules,
                           inconclusive=args.inconclusive, confidence=args.confidence, seed=args.seed)
    print(json.dumps(result.to_dict(), indent=2, allow_nan=False) if args.json else gate_output.text(result))
    if args.junit:
        Path(args.junit).write_text(gate_output.junit_xml(result), encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(gate_output.markdown(result))
    return result.exit_code
