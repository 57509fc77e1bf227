"""The parser and the dispatch: every command module is listed here, in the order `--help` shows them.

A command module (core/cli/NAME.py, the command line of core/NAME) has `add_parsers(add)`, which
declares its subcommands with `add(name, help)`, and handlers registered with `@command(name)`.
Domain modules never import core.cli.
"""
from __future__ import annotations

import argparse
import sys

import core.cli.analysis as analysis
import core.cli.catalog as catalog
import core.cli.gate as gate
import core.cli.judge as judge
import core.cli.champion as champion
import core.cli.parity as parity
import core.cli.prompts as prompts
import core.cli.reports as reports
import core.cli.run as run
import core.cli.throughput as throughput
import core.cli.tracking as tracking
from core import config
from core.cli.common import COMMANDS, CliError

# run, worker, cancel, resume, runs, results | models | prompt-sets | summary, compare, cost, sample-size
# | gate | report | sync-mlflow | parity | champion | throughput | judge
COMMAND_MODULES = (run, catalog, prompts, analysis, gate, reports, tracking, parity, champion, throughput, judge)


def build_parser() -> argparse.ArgumentParser:
    """`python -m core`'s parser: one subparser per command, each with --db."""
    p = argparse.ArgumentParser(prog="python -m core", description="Evaluate local LLMs: latency, memory, quality, cost.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--db", help=f"results store (default: ${config.ENV_DB} or {config.db_path(None)})")
        return sp

    for module in COMMAND_MODULES:
        module.add_parsers(add)
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ARGV (default: sys.argv) and run the command; user errors print one line and return 2."""
    from core.catalog import CatalogError, ModelUnavailableError
    from core.prompts import PromptSetError
    from core.store import StoreBusyError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CliError, CatalogError, PromptSetError, ModelUnavailableError, StoreBusyError, KeyError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
