"""`python -m core sync-mlflow [RUN_ID]`: replay runs to the MLflow mirror (core.tracking)."""
from __future__ import annotations

import argparse
import sys

from core.cli.common import command, open_store


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    from core.tracking import ENV_URI

    sp = add("sync-mlflow", "replay runs to MLflow: pending ones, or RUN_ID (idempotent: no duplicate MLflow runs)")
    sp.add_argument("run_id", nargs="?")
    sp.add_argument("--mlflow-uri", help=f"tracking URI (default: ${ENV_URI} or sqlite:///<db folder>/mlflow.db)")
    sp.add_argument("--mlflow-experiment", help="experiment name (default: the prompt set's name)")
    sp.add_argument("--all", action="store_true", help="also runs never mirrored (no status, or mirroring was off)")


@command("sync-mlflow")
def cmd_sync_mlflow(args: argparse.Namespace) -> int:
    from core.tracking import SYNCED, mlflow_ui_command, sync

    store = open_store(args)
    results = sync(store, args.run_id, args.mlflow_uri, args.mlflow_experiment, include_all=args.all)
    if not results:
        print("nothing to sync: no pending runs (pass RUN_ID, or --all for runs never mirrored)")
    for r in results:
        if r.status == SYNCED:
            verb = "created" if r.created else "updated"
            print(f"{r.run_id}: synced ({verb} MLflow run {r.mlflow_run_id}, {len(r.child_run_ids)} model runs, "
                  f"experiment {r.experiment!r})")
        else:
            print(f"{r.run_id}: still pending: {r.message}", file=sys.stderr)
    if results:
        print(f"open with: {mlflow_ui_command(store, args.mlflow_uri)}")
    return 0 if all(r.status == SYNCED for r in results) else 1
