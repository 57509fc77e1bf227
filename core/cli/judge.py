"""The judge command: LLM-judge a stored run (core.judging): judge, re-judge (cached: free) or resume."""
from __future__ import annotations

import argparse
import json

from core.cli.common import CliError, command, open_store, print_df


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    j = add("judge", "grade a stored run's answers with its prompt set's judge scorers (cached; resumes pending judgements)")
    j.add_argument("run_id")
    j.add_argument("--scorer", help="only this judge scorer (its scores key: judge, judge#2, ...)")
    j.add_argument("--pairwise", nargs=2, metavar=("MODEL_A", "MODEL_B"),
                   help="instead: ask which of two models' answers is better, per prompt, in both orders")
    j.add_argument("--judge", help="--pairwise: the judge's catalog name (default: the prompt set's only judge model)")
    j.add_argument("--rubric", default="pairwise", help="--pairwise: rubric name or inline text (default: pairwise)")
    j.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"], help="where a local judge runs")
    j.add_argument("--json", action="store_true", help="print the outcome as JSON")


@command("judge")
def cmd_judge(args: argparse.Namespace) -> int:
    from core.judging import judge_run, judgement_counts, pairwise_run
    from core.queries.judgements import judge_costs
    from core.textfmt import count, duration

    store = open_store(args)
    store.get_run(args.run_id)  # KeyError naming the run when there is none
    if args.pairwise:
        if args.scorer:
            raise CliError("--scorer and --pairwise do not go together")
        summary = pairwise_run(store, args.run_id, *args.pairwise, judge=args.judge, rubric=args.rubric, device=args.device)
    else:
        if args.judge:
            raise CliError("--judge names the pairwise judge; absolute judges come from the prompt set's scorers")
        summary = judge_run(store, args.run_id, scorer=args.scorer, device=args.device)
    counts = judgement_counts(store, args.run_id)
    costs = judge_costs(store, args.run_id)
    if args.json:
        print(json.dumps({"run_id": args.run_id, "verdicts": summary.counts, "calls": summary.calls,
                          "cached": summary.cached, "judgements": json.loads(counts.to_json(orient="records")),
                          "judge_costs": json.loads(costs.to_json(orient="records"))}, indent=2))
        return 0
    verdicts = ", ".join(f"{count(n)} {s}" for s, n in sorted(summary.counts.items())) or "none"
    print(f"run {args.run_id}: verdicts this pass: {verdicts}; judge calls made: {count(summary.calls)}, "
          f"answered from the cache: {count(summary.cached)}")
    if not counts.empty:
        print("\njudgements per model and judge scorer (samples; pending: no verdict yet or judge unreachable)")
        print_df(counts)
    if not costs.empty:
        total = duration(float(costs["judge_s"].sum()))
        print(f"\njudge cost (apart from the evaluated models'): calls, tokens and judge time ({total} in all)")
        print_df(costs)
    pending = int(counts["pending"].sum()) if not counts.empty else 0
    if pending:
        print(f"\n{count(pending)} judgement(s) pending: run `python -m core judge {args.run_id}` again to resume")
    return 0
