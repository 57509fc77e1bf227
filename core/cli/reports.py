"""`python -m core report RUN_ID --format html|pdf|md|csv|parquet --out FILE`: a run's report.

The files are those of core.reports.write_report (the dashboard's Reports page offers the
same bytes): html and pdf one file; md the document plus OUT_STEM_charts/*.png; csv and
parquet every sample in OUT plus the KPI table in OUT_STEM.kpis.EXT.

`python -m core report --arm RUN:MODEL --arm RUN:MODEL [...] --format ... --out FILE`: the report of
arms across runs (pairing, comparisons, sample-size advice, Pareto, methods); csv/parquet write the
comparison table in OUT and the Pareto table in OUT_STEM.pareto.EXT.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import CliError, command, open_store

FORMATS = ("html", "pdf", "md", "csv", "parquet")


def add_parsers(add) -> None:  # noqa: ANN001 - core.cli.main's adder: add(name, help) -> subparser
    r = add("report", "write a run's report (html, pdf, md) or its samples and KPI table (csv, parquet)")
    r.add_argument("run_id", nargs="?", help="the run reported (leave out with --arm)")
    r.add_argument("--arm", action="append", default=[], metavar="RUN:MODEL",
                   help="report arms across runs instead: a run id, a colon and a model of that run (two or more)")
    # choices are checked in cmd_report, so a wrong format gets the same one-line error and exit status 2
    r.add_argument("--format", required=True, metavar="{" + ",".join(FORMATS) + "}",
                   help="html: one self-contained file; pdf: printable; md: Markdown + chart PNGs beside it; "
                        "csv/parquet: every sample + OUT_STEM.kpis.EXT")
    r.add_argument("--out", required=True, help="file to write (its folder is created)")
    r.add_argument("--baseline", help="compare every model with this one (default: the champion, else the recommended model); "
                                      "with --arm, one of the arms as RUN:MODEL (default: all pairs)")
    r.add_argument("--volume", type=int, help="requests per month for the cost projections (default 100000)")
    r.add_argument("--appendix", type=int, default=5, help="prompts shown in the appendix of sample outputs (default 5)")


def _check(args: argparse.Namespace) -> None:
    if args.arm and args.run_id:
        raise CliError("--arm reports arms RUN:MODEL across runs: give no RUN_ID with it")
    if not args.arm and not args.run_id:
        raise CliError("report needs a RUN_ID, or two or more --arm RUN:MODEL")
    if len(args.arm) == 1:
        raise CliError("give two or more --arm RUN:MODEL to compare (one arm has nothing to be compared with)")
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
        if args.arm:
            from core.arms import parse_arm
            from core.reports import write_arms_report

            arms = [parse_arm(a) for a in args.arm]  # ArmError (a ValueError): one line, exit status 2
            if args.baseline:
                parse_arm(args.baseline)
            written = write_arms_report(store, arms, args.format, args.out, options)
        else:
            written = write_report(store, args.run_id, args.format, args.out, options)
    except LookupError as exc:
        if isinstance(exc, KeyError):  # an unknown run: "no run 'X' in DB; list runs with ..." (exit status 2)
            raise
        raise CliError(str(exc.args[0] if exc.args else exc)) from None
    print(f"wrote {written[0]}" + (f" (+ {len(written) - 1} file(s): {', '.join(str(p) for p in written[1:3])}"
                                    + (", ..." if len(written) > 3 else "") + ")" if len(written) > 1 else ""))
    return 0
