"""`python -m core champion [promote RUN:MODEL | rollback | history | sync]` over core.champion.

Exit status: 0 done (an MLflow mirror failure is a warning: the history is kept; `champion sync`
replays it), 1 `champion sync` still failing, 2 bad input (unknown arm, no previous champion, a
failing gate, an unreadable gate file).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import CliError, command, dump_json, open_store, print_df


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    from core.tracking import ENV_URI

    p = add("champion", "the champion (default baseline) with its history: promote RUN:MODEL, rollback, history, sync")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    pr = sub.add_parser("promote", help="make the arm RUN:MODEL the champion, with its evidence")
    pr.add_argument("arm", metavar="RUN:MODEL")
    pr.add_argument("--note", help="why (kept in the history)")
    pr.add_argument("--gate", metavar="FILE.json", help="a gate result (`python -m core gate ... --json`) kept as evidence; "
                                                         "a failing one refuses the promotion")
    pr.add_argument("--force", action="store_true", help="promote even with a failing gate or one on another candidate")
    rb = sub.add_parser("rollback", help="restore the champion promoted before the current one")
    rb.add_argument("--note", help="why (kept in the history)")
    hi = sub.add_parser("history", help="every promotion and rollback, newest first")
    hi.add_argument("--json", action="store_true", help="the history rows as JSON (oldest first, with evidence and gate)")
    sub.add_parser("sync", help="replay the MLflow Model Registry mirror after a failure")
    for sp in (pr, rb, hi, sub.choices["sync"]):  # --db after the action too (before it: champion's own --db)
        sp.add_argument("--db", default=argparse.SUPPRESS, help="results store (default: as for every command)")
    for sp in (pr, rb, sub.choices["sync"]):
        sp.add_argument("--mlflow-uri", help=f"tracking URI (default: ${ENV_URI} or sqlite:///<db folder>/mlflow.db)")
    for sp in (pr, rb):
        sp.add_argument("--by", help="who acts (default: the user name)")
        sp.add_argument("--no-mlflow", action="store_true", help="do not mirror this change to the Model Registry")


@command("champion")
def cmd_champion(args: argparse.Namespace) -> int:
    from core import champion

    store = open_store(args)
    action = args.action or "show"
    if action == "history":
        return _history(store, args.json)
    if action == "sync":
        from core import registry

        res = champion.sync(store, args.mlflow_uri)
        print(res.text if res else "nothing to mirror: the champion has no history yet")
        return 0 if res is None or res.status != registry.PENDING else 1
    if action == "show":
        now = champion.current(store)
        print(f"champion: {now.label} (since row {now.since.seq}, {now.since.action})" if now else
              "no champion: promote one with `python -m core champion promote RUN:MODEL`")
        return 0
    mirror, actor = not args.no_mlflow, f"{args.by} (CLI)" if args.by else None
    if action == "promote":
        from core.arms import parse_arm

        gate = champion.read_gate(_read(args.gate), args.gate) if args.gate else None
        change = champion.promote(store, parse_arm(args.arm), note=args.note, gate=gate, actor=actor, force=args.force,
                                  mirror=mirror, tracking_uri=args.mlflow_uri)
        print(f"promoted {change.entry.label} (history row {change.entry.seq}"
              + (f"; replaces {change.replaced.label})" if change.replaced else ")"))
    else:
        change = champion.rollback(store, note=args.note, actor=actor, mirror=mirror, tracking_uri=args.mlflow_uri)
        print(f"rolled back: {change.entry.label} is the champion again (history row {change.entry.seq}; "
              f"replaces {change.replaced.label if change.replaced else '?'})")
    _report_mirror(change.mirror)
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CliError(f"cannot read the gate file {path}: {exc.strerror or exc}") from None


def _report_mirror(res) -> None:  # noqa: ANN001 - core.registry.RegistryResult
    from core import registry

    if res.status == registry.PENDING:
        print(f"warning: {res.text}; the history is stored: replay with `python -m core champion sync`", file=sys.stderr)
    elif res.status == registry.SYNCED:
        print(res.text)


def _history(store, as_json: bool) -> int:  # noqa: ANN001 - core.store.Store
    from core import champion

    if as_json:
        rows = [{"row": e.seq, "at": e.at.isoformat() + "Z" if e.at else None, "action": e.action, "run_id": e.run_id,
                 "model": e.model, "arm": e.label, "by": e.actor, "note": e.note, "evidence": e.evidence, "gate": e.gate,
                 "restores": e.restores} for e in champion.history(store)]
        print(dump_json(rows))
        return 0
    df = champion.history_frame(store)
    print_df(df)
    now = champion.current(store)
    print(f"\nchampion now: {now.label}" if now else "\nno champion in force")
    return 0

