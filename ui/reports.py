"""The Reports page's downloads: the bytes of core.reports.files (the CLI's files), built only
when a button is clicked (st.download_button calls `data` then, on its own thread).

The report of a run is built once per (run version, options) and reused by the HTML, PDF and
Markdown buttons; the options are the CLI's (baseline, volume, default cost settings), so a
download equals `python -m core report RUN --format F --out NAME` made at the same minute.
"""
from __future__ import annotations

import functools
import io
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core import reports
from core.reports import Report, ReportOptions
from core.store import Store
from ui.format import slug

AUTO = "(champion, else the recommended model)"


@dataclass(frozen=True)
class Download:
    label: str
    fmt: str  # core.reports format
    out_name: str  # the CLI's --out
    file_name: str  # what the browser saves
    mime: str
    help: str
    pick: str | None = None  # one file of the format's files; None: all of them, zipped when several

    def cli(self, run_id: str, options: ReportOptions) -> str:
        parts = ["python -m core report", shlex.quote(run_id), "--format", self.fmt, "--out", shlex.quote(self.out_name)]
        if options.baseline:
            parts += ["--baseline", shlex.quote(options.baseline)]
        if options.volume is not None:
            parts += ["--volume", str(options.volume)]
        return " ".join(parts)


def default_run(runs: pd.DataFrame) -> str:
    """The run a report is most likely wanted for: the completed run with the most samples (the
    newest of those), not whatever ran last (often a tiny smoke test). Without a completed run: the
    run with the most samples. `runs`: state.runs() with samples, newest first."""
    done = runs[runs["status"] == "completed"]
    pool = done if not done.empty else runs
    return str(pool.loc[pool["done"].astype(int).idxmax(), "run_id"])  # idxmax: the first (newest) of equals


def report_downloads(run_id: str) -> list[Download]:
    base = f"report-{slug(run_id, limit=None, fallback='run')}"
    return [
        Download("HTML", "html", f"{base}.html", f"{base}.html", "text/html",
                 "One self-contained file with interactive charts; opens offline in any browser."),
        Download("PDF", "pdf", f"{base}.pdf", f"{base}.pdf", "application/pdf",
                 "The same content paginated for printing, charts as images."),
        Download("Markdown (.zip)", "md", f"{base}.md", f"{base}-markdown.zip", "application/zip",
                 f"{base}.md and its chart images in {base}_charts/, zipped."),
    ]


def data_downloads(run_id: str) -> list[Download]:
    base = f"samples-{slug(run_id, limit=None, fallback='run')}"
    out = []
    for fmt, mime in (("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")):
        name = f"{base}.{fmt}"
        kpis = reports.companion(Path(name)).name
        out += [Download(f"Samples ({fmt.upper() if fmt == 'csv' else 'Parquet'})", fmt, name, name, mime,
                         "Every sample of the run, one row each.", pick=name),
                Download(f"KPI table ({fmt.upper() if fmt == 'csv' else 'Parquet'})", fmt, name, kpis, mime,
                         "The KPIs per model with their intervals, methods and seeds (long form).", pick=kpis)]
    return out


@functools.lru_cache(maxsize=4)
def _report(store: Store, run_id: str, version: tuple, options: ReportOptions) -> Report:
    return reports.build_report(store, run_id, options)


@functools.lru_cache(maxsize=8)
def _files(store: Store, run_id: str, version: tuple, fmt: str, out_name: str, options: ReportOptions) -> dict[str, bytes]:
    report = _report(store, run_id, version, options) if fmt in ("html", "pdf", "md") else None
    return reports.files(store, run_id, fmt, out_name, options, report=report)


def data(store: Store, run_id: str, version: tuple, d: Download, options: ReportOptions) -> bytes:
    """The bytes of one download (`version` changes when the run does, so nothing stale is served)."""
    files = _files(store, run_id, version, d.fmt, d.out_name, options)
    if d.pick is not None:
        return files[d.pick]
    if len(files) == 1:
        return next(iter(files.values()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, blob in files.items():  # a fixed date: the same files give the same zip
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), blob, zipfile.ZIP_DEFLATED)
    return buf.getvalue()
