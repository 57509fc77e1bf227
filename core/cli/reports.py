"""`python -m core report RUN_ID --format html|pdf|md|csv|parquet --out FILE`: a run's report.

The files are those of core.reports.write_report (the dashboard's Reports page offers the
same bytes): html and pdf one file; md the document plus OUT_STEM_charts/*.png; csv and
parquet every sample in OUT plus the KPI table in OUT_STEM.kpis.EXT.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import CliError, command, open_store

FORMATS = ("html", "pdf", "md", "csv", "parquet")


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    r = add("report", "write a run's report (html, pdf, md) or its samples and KPI table (csv, parquet)")
    r.add_argument("run_id")
    # choices are checked in cmd_report, so a wrong format gets the same one-line error and exit status 2
    r.add_argument("--format", required=True, metavar="{" + ",".join(FORMATS) + "}",
                   help="html: one self-contained file; pdf: printable; md: Markdown + chart PNGs beside it; "
                        "csv/parquet: every sample + OUT_STEM.kpis.EXT")
    r.add_argument("--out", required=True, help="file to write (its folder is created)")
    r.add_argument("--baseline", help="compare every model with this one (default: the champion, else the recommended model)")
    r.add_argument("--volume", type=int, help="requests per month for the cost projections (default 100000)")
    r.add_argument("--appendix", type=int, default=5, help="prompts shown in the appendix of sample outputs (default 5)")


def _check(args: argparse.Namespace) -> None:
    if args.format not in FORMATS:
        raise CliError(f"unknown format {args.format!r}; use one of: {', '.join(FORMATS)}")
    if args.volume is not None and args.volume < 1:
        raise CliError(f"--volume must be a positive number of requests per month (got {args.volume})")
    if args.appendix < 0:
        raise CliError("--appendix must be 0 or more")
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name, e.g. {out / ('report.' + args.format)}")
    want = {"md": (".md", ".markdown")}.get(args.format, (f".{args.format}",))
    if out.suffix.lower() not in want:
        print(f"warning: --out {out} does not end in {want[0]} (writing {args.format} anyway)", file=sys.stderr)


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    from core.reports import ReportOptions, write_report

    _check(args)
    store = open_store(args)
    options = ReportOptions(baseline=args.baseline, volume=args.volume, appendix_items=args.appendix)
    try:
        written = write_report(store, args.run_id, args.format, args.out, options)
    except LookupError as exc:
        if isinstance(exc, KeyError):  # an unknown run: "no run 'X' in DB; list runs with ..." (exit status 2)
            raise
        raise CliError(str(exc.args[0] if exc.args else exc)) from None
    print(f"wrote {written[0]}" + (f" (+ {len(written) - 1} file(s): {', '.join(str(p) for p in written[1:3])}"
                                    + (", ..." if len(written) > 3 else "") + ")" if len(written) > 1 else ""))
    return 0
