"""Reports of a stored run: HTML, PDF, Markdown, CSV and Parquet (issue 5).

    build_report(store, run_id, options) -> Report      everything shown, computed once
    render_html(store, run_id) -> str                   self-contained HTML (MLflow attaches it)
    html(report) / pdf(report) / markdown(report, dir)  renderers of a built report
    files(store, run_id, fmt, out_name) -> {name: bytes} every file of one format (dashboard downloads)
    write_report(store, run_id, fmt, out, options)      the CLI's `python -m core report`
    build_arms_report / arms_files / write_arms_report  the same for arms (run, model) across runs

File conventions (the CLI and the dashboard's download buttons produce the same files):
    html      OUT                         one file, works offline (plotly.js embedded)
    pdf       OUT                         A4, selectable text, static charts
    md        OUT + OUT_STEM_charts/*.png  charts linked by relative path
    csv       OUT (every sample) + OUT_STEM.kpis.csv (the KPI table, long form with intervals)
    parquet   OUT (every sample) + OUT_STEM.kpis.parquet
Arms across runs (`report --arm RUN:MODEL --arm ...`): html, pdf and md as above (summary with
the pairing, comparisons, methods); csv/parquet: the comparison table (one row per metric and
pair of arms) in OUT + the Pareto table in OUT_STEM.pareto.EXT.
"""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from core.reports.arms_report import build_arms_report
from core.reports.model import SECTIONS, Report, ReportOptions
from core.reports.run_report import build_report
from core.store import Store

__all__ = ["FORMATS", "SECTIONS", "Report", "ReportOptions", "build_report", "render_html", "html", "pdf", "markdown",
           "files", "kpi_frame", "companion", "charts_dir", "write_report", "build_arms_report", "arms_files",
           "write_arms_report"]

FORMATS = ("html", "pdf", "md", "csv", "parquet")


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


def kpi_frame(store: Store, run_id: str, options: ReportOptions | None = None) -> pd.DataFrame:
    """The KPI table in long form: model, category, kpi, value, low, high, unit, method, confidence,
    n, n_resamples, seed, note (one row per model and KPI)."""
    from core import analysis

    o = options or ReportOptions()
    n = o.bootstrap_resamples(store.count_samples(run_id))
    return analysis.kpi_table(store, run_id, settings=o.cost_settings(), confidence=o.confidence, n_resamples=n,
                              seed=o.seed).frame  # with the mean human rating (kpi human_rating) when the run has ratings


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return df.to_csv(index=False).encode()
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def files(store: Store, run_id: str, fmt: str, out_name: str, options: ReportOptions | None = None,
          report: Report | None = None) -> dict[str, bytes]:
    """The files of one format as {path relative to OUT's folder: bytes}, OUT being named out_name:
    what write_report writes and what the dashboard's download buttons offer (the same bytes).
    `report`: an already built report of this run and these options (html, pdf, md)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
    out = Path(out_name)
    if fmt in ("csv", "parquet"):
        with store.pinned():  # one open of the file for the reads, as in build_report
            store.get_run(run_id)
            samples, kpis = store.samples_df(run_id), kpi_frame(store, run_id, options)
        return {out.name: table_bytes(samples, fmt), companion(out).name: table_bytes(kpis, fmt)}
    return _rendered(report or build_report(store, run_id, options), fmt, out)


def _rendered(report: Report, fmt: str, out: Path) -> dict[str, bytes]:
    if fmt == "html":
        return {out.name: html(report).encode("utf-8")}
    if fmt == "pdf":
        return {out.name: pdf(report)}
    md = markdown(report, charts_dir(out).name)
    return {out.name: md.text.encode("utf-8"), **md.images}


def arms_files(store: Store, arms, fmt: str, out_name: str,  # noqa: ANN001 - core.arms.Arm or 'RUN:MODEL' text
               options: ReportOptions | None = None) -> dict[str, bytes]:
    """The files of one format for arms across runs, as `files` for a run (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
    out = Path(out_name)
    if fmt in ("csv", "parquet"):
        from core import analysis
        from core.arms import parse_arm
        from core.reports.model import COMPARE_METRICS

        o = options or ReportOptions()
        from core.analysis.rating_metric import with_human_rating

        chosen = [parse_arm(a) if isinstance(a, str) else a for a in arms]
        metrics = with_human_rating(store, [a.run_id for a in chosen], COMPARE_METRICS)
        comp = analysis.compare_arms(store, chosen, metrics=metrics,
                                     baseline=parse_arm(o.baseline) if o.baseline else None, correction=o.correction,  # type: ignore[arg-type]
                                     alpha=o.alpha, confidence=o.confidence, n_resamples=o.n_resamples, seed=o.seed,
                                     settings=o.cost_settings())
        pareto = comp.pareto_table.copy()
        eff = {p.model: p for p in comp.pareto}
        pareto["efficient"] = [eff[m].efficient if m in eff else None for m in pareto["model"]] if not pareto.empty else []
        pareto["dominated_by"] = [", ".join(eff[m].dominated_by) if m in eff else "" for m in pareto["model"]] \
            if not pareto.empty else []
        return {out.name: table_bytes(comp.frame(), fmt), companion(out, "pareto").name: table_bytes(pareto, fmt)}
    return _rendered(build_arms_report(store, arms, options), fmt, out)


def write_arms_report(store: Store, arms, fmt: str, out: str | Path,  # noqa: ANN001 - core.arms.Arm or 'RUN:MODEL'
                      options: ReportOptions | None = None) -> list[Path]:
    """Write the report of arms across runs (or its tables) in one format; the files written, OUT first."""
    out = Path(out)
    return _write(out, arms_files(store, arms, fmt, out.name, options))


def write_report(store: Store, run_id: str, fmt: str, out: str | Path, options: ReportOptions | None = None) -> list[Path]:
    """Write the report (or the tables) in one format; returns the files written, OUT first."""
    out = Path(out)
    return _write(out, files(store, run_id, fmt, out.name, options))


def _write(out: Path, written: dict[str, bytes]) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for rel, data in written.items():
        path = out.parent / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths
