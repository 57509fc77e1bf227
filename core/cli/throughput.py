"""The throughput command: a sweep of batch sizes (local models) and requests in flight (HTTP models),
core.throughput, stored with a run."""
from __future__ import annotations

import argparse
import json

from core.cli.common import CliError, command, open_store, print_df


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    t = add("throughput", "sweep batch sizes (local models) and requests in flight (HTTP models): tokens/s, requests/s, "
                          "latency, TTFT, memory per level")
    t.add_argument("--models", required=True, help="comma-separated catalog names, e.g. demo-tiny,demo-small or an HTTP model")
    t.add_argument("--prompt-set", required=True)
    t.add_argument("--batch-sizes", default=None,
                   help="local models: comma-separated, e.g. 1,2,4,8,16,32 (default 1,2,4,8; 1 is always run)")
    t.add_argument("--concurrency", default=None,
                   help="HTTP models: requests in flight, comma-separated, e.g. 1,2,4,8 (default 1,2,4,8; 1 is always run)")
    t.add_argument("--limit", type=int, default=16, help="first N prompts (default 16)")
    t.add_argument("--max-new-tokens", type=int, default=16)
    t.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"], help="local models' device")
    t.add_argument("--run-id", help="store the rows with this existing run instead of a new sweep run")
    t.add_argument("--name", default="", help="name of the new sweep run")
    t.add_argument("--json", action="store_true", help="print the rows as JSON")


@command("throughput")
def cmd_throughput(args: argparse.Namespace) -> int:
    from core.cli.run import _refuse_if_measuring
    from core.throughput import parse_batch_sizes, parse_concurrency, sweep

    try:
        sizes = parse_batch_sizes(args.batch_sizes) if args.batch_sizes is not None else None
        flight = parse_concurrency(args.concurrency) if args.concurrency is not None else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.limit < 1 or args.max_new_tokens < 1:
        raise CliError("--limit and --max-new-tokens must be at least 1")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    store = open_store(args)
    _refuse_if_measuring(store)
    result = sweep(store, models, args.prompt_set, sizes, concurrency=flight, limit=args.limit,
                   max_new_tokens=args.max_new_tokens, device=args.device, run_id=args.run_id, name=args.name)
    if args.json:
        print(json.dumps({"run_id": result.run_id, "notes": list(result.notes),
                          "rows": json.loads(result.rows.to_json(orient="records"))}, indent=2))
        return 0
    print(f"run id: {result.run_id}")
    for note in result.notes:
        print(f"note: {note}")
    for m in models:
        curve = result.curve(m).rename(columns={"batch_size": "level"})
        print(f"\n{m}")
        print_df(curve.drop(columns=["run_id", "model"]))
    return 0
