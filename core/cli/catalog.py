"""`python -m core models [list|add|remove]`: the model catalog (core.catalog)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from core.cli.common import CliError, command, open_store, print_df


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    m = add("models", "list the model catalog, or add a model")
    m.add_argument("action", nargs="?", choices=["list", "add", "remove"], default="list")
    m.add_argument("name", nargs="?")
    m.add_argument("source", nargs="?", help="local directory or Hugging Face id")
    m.add_argument("--revision")
    m.add_argument("--dtype", default="auto")
    m.add_argument("--device", default="auto")
    m.add_argument("--notes", default="")
    m.add_argument("--openai-base-url", help="add an OpenAI-compatible HTTP model")
    m.add_argument("--served-model")
    m.add_argument("--api-key-env", help="name of the environment variable holding the API key")
    m.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    m.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="extra HTTP header (repeatable; no secrets)")
    m.add_argument("--request-timeout", type=float, default=60.0, help="HTTP read timeout per request, seconds")
    m.add_argument("--max-concurrency", type=int, default=8, help="most requests in flight to this HTTP model")
    m.add_argument("--max-retries", type=int, default=3, help="HTTP retries after a 429/5xx/connection failure")
    m.add_argument("--tokenizer", help="HTTP: local dir or HF id to count tokens when the server reports no usage")
    m.add_argument("--price-model", help="HTTP price basis: per-token prices of PROVIDER:MODEL from the price package")
    m.add_argument("--usd-per-hour", type=float, help="HTTP price basis: hourly price of a self-hosted endpoint")
    m.add_argument("--format", choices=["table", "json"], default="table")


@command("models")
def cmd_models(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.action == "add":
        return _add(store, args)
    if args.action == "remove":
        if not store.delete_model(args.name or ""):
            raise CliError(f"no user-added model {args.name!r}")
        print(f"removed {args.name}")
        return 0
    print_df(_catalog_frame(store), args.format)
    return 0


def _add(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    """`models add`: a local directory / Hugging Face id, or an OpenAI-compatible HTTP model."""
    from core import catalog

    if not args.name:
        raise CliError("usage: python -m core models add NAME SOURCE [--revision R] | NAME --openai-base-url URL --served-model M")
    if args.openai_base_url:
        if not args.served_model:
            raise CliError("--openai-base-url needs --served-model")
        headers = dict(h.split("=", 1) for h in args.header if "=" in h)
        if len(headers) != len(args.header):
            raise CliError("--header takes NAME=VALUE")
        basis = ({"kind": "hourly", "usd_per_hour": args.usd_per_hour} if args.usd_per_hour is not None
                 else {"kind": "tokens", "model": args.price_model} if args.price_model else {})
        spec = catalog.make_http_spec(
            args.name, args.openai_base_url, args.served_model, endpoint=args.endpoint, api_key_env=args.api_key_env,
            extra_headers=headers, request_timeout_s=args.request_timeout, max_concurrency=args.max_concurrency,
            max_retries=args.max_retries, price_basis=basis, tokenizer=args.tokenizer, notes=args.notes,
        )
    else:
        if not args.source:
            raise CliError("models add needs a SOURCE: a local model directory or a Hugging Face id")
        spec = catalog.make_spec(args.name, args.source, args.revision, args.dtype, args.device, args.notes)
    catalog.add_model(store, spec)
    info = catalog.describe(spec)
    print(f"added {spec.name} ({spec.kind}: {spec.source})")
    if not info.available:
        print(f"warning: {info.problem}", file=sys.stderr)
    return 0


def _catalog_frame(store) -> pd.DataFrame:  # noqa: ANN001
    """One row per catalog entry (bundled and user-added) with its size and availability."""
    from core import catalog

    rows = []
    for spec in catalog.all_specs(store).values():
        info = catalog.describe(spec)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "source": spec.source if spec.kind != "local" else str(Path(spec.source)),
                "params": info.params,
                "weights_mb": info.weights_mb,
                "est_memory_mb": info.estimated_mb,
                "version": info.version,
                "available": info.available,
                "bundled": spec.bundled,
            }
        )
    return pd.DataFrame(rows)
