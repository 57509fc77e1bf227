"""`python -m core parity`: one model through two paths, greedy (core.parity).

    python -m core parity --models demo-small,demo-small-http --prompt-set business-core --limit 10
    python -m core parity RUN_ID --a demo-small --b demo-small-http
"""
from __future__ import annotations

import argparse
import json

from core.cli.common import CliError, command, open_store, print_df
from core.parity import PATHS_NOT_MODELS, parity_report, run_parity


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    p = add("parity", "compare one model through two paths (local vs HTTP, CPU vs CUDA/MPS), greedy")
    p.add_argument("run_id", nargs="?", help="compare two models of a stored run (else run them now)")
    p.add_argument("--a", help="model A of the stored run")
    p.add_argument("--b", help="model B of the stored run")
    p.add_argument("--models", help="A,B: two catalog entries of the same weights to run now")
    p.add_argument("--prompt-set")
    p.add_argument("--limit", type=int)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--require-identical", type=float, help="exit 1 when the identical share is below this (0..1)")
    p.add_argument("--format", choices=["table", "json"], default="table")


@command("parity")
def cmd_parity(args: argparse.Namespace) -> int:
    import pandas as pd

    store = open_store(args)
    if args.run_id:
        if not (args.a and args.b):
            raise CliError("usage: python -m core parity RUN_ID --a MODEL --b MODEL")
        report = parity_report(store, args.run_id, args.a, args.b)
    else:
        models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
        if len(models) != 2 or not args.prompt_set:
            raise CliError("usage: python -m core parity --models A,B --prompt-set NAME [--limit N]")
        report = run_parity(store, models[0], models[1], args.prompt_set, limit=args.limit,
                            max_new_tokens=args.max_new_tokens, device=args.device, timeout_s=args.timeout)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(f"parity in run {report.run_id}: {report.model_a} (A) vs {report.model_b} (B)"
              + ("" if report.greedy else "  [sampled, not greedy: identical outputs are not expected]"))
        if report.same_weights is None:
            print(PATHS_NOT_MODELS.format(a=report.model_a, b=report.model_b))
        print("latency_ratio: ratio of medians, B / A")
        print_df(pd.DataFrame([report.summary()]).drop(columns=["model_a", "model_b"]))
        bad = report.mismatches()
        if bad:
            print(f"\n{len(bad)} pair(s) differ (decode_only: equal once undecodable bytes U+FFFD are set aside):")
            print_df(report.mismatch_frame(60))
    if args.require_identical is not None and (report.identical_share or 0.0) < args.require_identical:
        print(f"identical share {report.identical_share} is below --require-identical {args.require_identical}")
        return 1
    return 0
