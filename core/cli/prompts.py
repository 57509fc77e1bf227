"""`python -m core prompt-sets [list|import|delete|show|versions]`: prompt sets (core.prompts)."""
from __future__ import annotations

import argparse

import pandas as pd

from core.cli.common import CliError, command, open_store, print_df


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    ps = add("prompt-sets", "list prompt sets, or import one")
    ps.add_argument("action", nargs="?", choices=["list", "import", "delete", "show", "versions"], default="list")
    ps.add_argument("file", nargs="?", help="JSONL or CSV file (import) or set name (show/delete/versions)")
    ps.add_argument("--name")
    ps.add_argument("--description", default="")
    ps.add_argument("--replace", action="store_true",
                    help="import: replace an imported set of this name (runs made with its version keep it)")
    ps.add_argument("--format", choices=["table", "json"], default="table")


@command("prompt-sets")
def cmd_prompt_sets(args: argparse.Namespace) -> int:
    from core import prompts

    store = open_store(args)
    if args.action == "import":
        if not args.file or not args.name:
            raise CliError("usage: python -m core prompt-sets import FILE --name NAME")
        try:
            ps = prompts.import_set(store, args.file, args.name, args.description, replace=args.replace)
        except prompts.PromptSetExistsError as exc:
            raise CliError(f"{exc.errors[0].message.replace('Replace it', 'Pass --replace')}") from None
        print(f"imported {ps.name}: {len(ps.items)} items, version {ps.content_hash}")
        return 0
    if args.action == "versions":
        df = store.prompt_set_versions(args.file or "")
        if df.empty:
            raise CliError(f"no stored versions of {args.file!r} (a bundled set's version is stored when a run uses it)")
        print_df(df, args.format)
        return 0
    if args.action == "delete":
        if not store.delete_prompt_set(args.file or ""):
            raise CliError(f"no imported prompt set {args.file!r} (bundled sets cannot be deleted)")
        print(f"deleted {args.file}")
        return 0
    if args.action == "show":
        ps = prompts.get_set(args.file or "", store)
        print_df(pd.DataFrame([i.canonical() for i in ps.items]), args.format)
        return 0
    rows = [
        {"name": ps.name, "source": ps.source, "items": len(ps.items), "categories": ", ".join(ps.categories),
         "version": ps.content_hash, "description": ps.description}
        for ps in prompts.all_sets(store).values()
    ]
    print_df(pd.DataFrame(rows), args.format)
    return 0
