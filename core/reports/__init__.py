"""Reports of a stored run: HTML, PDF, Markdown, CSV and Parquet (issue 5).

    build_report(store, run_id, options) -> Report      everything shown, computed once
    render_html(store, run_id) -> str                   self-contained HTML (MLflow attaches it)
    html(report) / pdf(report) / markdown(report, dir)  renderers of a built report
    export_tables(store, run_id, fmt, out)              raw samples + KPI table (csv | parquet)
    write_report(store, run_id, fmt, out, options)      the CLI's `python -m core report`

File conventions (the CLI and the dashboard's download buttons produce the same files):
    html      OUT                         one file, works offline (plotly.js embedded)
    pdf       OUT                         A4, selectable text, static charts
    md        OUT + OUT_STEM_charts/*.png  charts linked by relative path
    csv       OUT (every sample) + OUT_STEM.kpis.csv (the KPI table, long form with intervals)
    parquet   OUT (every sample) + OUT_STEM.kpis.parquet
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from core.reports.model import SECTIONS, Report, ReportOptions, build_report
from core.store import Store

__all__ = ["FORMATS", "SECTIONS", "Report", "ReportOptions", "build_report", "render_html", "html", "pdf", "markdown",
           "markdown_zip", "export_tables", "kpi_frame", "companion", "charts_dir", "write_report"]

FORMATS = ("html", "pdf", "md", "csv", "parquet")
SUFFIX = {"html": ".html", "pdf": ".pdf", "md": ".md", "csv": ".csv", "parquet": ".parquet"}


def html(report: Report) -> str:
    from core.reports import _html

    return _html.render(report)


def pdf(report: Report) -> bytes:
    from core.reports import _pdf

    return _pdf.render(report)


def markdown(report: Report, charts: str = "report_charts"):  # noqa: ANN201 - core.reports._markdown.Markdown
    from core.reports import _markdown as _md

    return _md.render(report, charts)


def render_html(store: Store, run_id: str, options: ReportOptions | None = None) -> str:
    """The HTML report of a run (used by core.tracking to attach report.html to MLflow)."""
    return html(build_report(store, run_id, options))


def charts_dir(out: Path) -> Path:
    """report.md -> report_charts/ beside it."""
    return out.with_name(f"{out.stem}_charts")


def companion(out: Path, what: str = "kpis") -> Path:
    """results.csv -> results.kpis.csv (same folder, same format)."""
    return out.with_name(f"{out.stem}.{what}{out.suffix}")


def markdown_zip(report: Report, name: str = "report") -> bytes:
    """report.md and report_charts/*.png in one zip (the dashboard's Markdown download)."""
    md = markdown(report, f"{name}_charts")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.md", md.text)
        for path, png in md.images.items():
            z.writestr(path, png)
    return buf.getvalue()


def kpi_frame(store: Store, run_id: str, options: ReportOptions | None = None) -> pd.DataFrame:
    """The KPI table in long form: model, category, kpi, value, low, high, unit, method, confidence,
    n, n_resamples, seed, note (one row per model and KPI)."""
    from core import analysis
    from core.reports.model import LARGE_RUN_RESAMPLES, LARGE_RUN_SAMPLES

    o = options or ReportOptions()
    n = o.n_resamples or (LARGE_RUN_RESAMPLES if store.count_samples(run_id) > LARGE_RUN_SAMPLES else None)
    return analysis.kpi_table(store, run_id, settings=o.cost_settings(), confidence=o.confidence, n_resamples=n,
                              seed=o.seed).frame


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return df.to_csv(index=False).encode()
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def export_tables(store: Store, run_id: str, fmt: str, out: str | Path, options: ReportOptions | None = None) -> list[Path]:
    """Every sample to OUT and the KPI table to OUT_STEM.kpis.EXT (fmt: csv | parquet)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"tables are exported as csv or parquet, not {fmt!r}")
    store.get_run(run_id)
    out = Path(out)
    samples, kpis = store.samples_df(run_id), kpi_frame(store, run_id, options)
    paths = [out, companion(out)]
    for df, path in zip((samples, kpis), paths, strict=True):
        path.write_bytes(table_bytes(df, fmt))
    return paths


def write_report(store: Store, run_id: str, fmt: str, out: str | Path, options: ReportOptions | None = None) -> list[Path]:
    """Write the report (or the tables) in one format; returns the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("csv", "parquet"):
        return export_tables(store, run_id, fmt, out, options)
    report = build_report(store, run_id, options)
    if fmt == "html":
        out.write_text(html(report), encoding="utf-8")
        return [out]
    if fmt == "pdf":
        out.write_bytes(pdf(report))
        return [out]
    folder = charts_dir(out)
    md = markdown(report, folder.name)
    folder.mkdir(exist_ok=True)
    written = [out]
    for rel, png in md.images.items():
        path = out.parent / rel
        path.write_bytes(png)
        written.append(path)
    out.write_text(md.text, encoding="utf-8")
    return written
