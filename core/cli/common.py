"""What every command module shares: the command table, the user-error type, the store from --db,
and how a table is printed."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core import config

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


class CliError(Exception):
    """A user error: printed as one clear line, exit status 2."""


def command(name: str):
    """Register the decorated function as the handler of subcommand NAME (its parser lives beside it)."""
    def deco(fn):
        COMMANDS[name] = fn
        return fn

    return deco


def open_store(args: argparse.Namespace):
    """The results store named by --db (else $LLM_EVAL_DB, else the default file)."""
    from core.store import Store

    return Store(config.db_path(args.db))


def print_df(df: pd.DataFrame, fmt: str = "table", out: str | None = None) -> None:
    """A frame as a table (thousands separators, two decimals), JSON records or CSV; to OUT when given."""
    if fmt == "json":
        text = df.to_json(orient="records", date_format="iso", indent=2)
    elif fmt == "csv":
        text = df.to_csv(index=False)
    else:
        text = df.to_string(index=False, float_format=lambda v: f"{v:,.2f}") if not df.empty else "(none)"
    if out:
        Path(out).write_text(text)
    else:
        print(text)


def dump_json(obj) -> str:  # noqa: ANN001
    return json.dumps(obj, indent=2, default=str)
