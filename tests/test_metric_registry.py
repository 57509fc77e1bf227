"""The metric registry (core.stats.metric_registry): every metric a surface shows is in it, and the
CLI, the report and the dashboard name a run's metrics alike."""
from __future__ import annotations

import re

import pytest

from bench.analysis import synthetic_run
from core import analysis, gate, textfmt, tracking
from core.reports import model as report_model
from core.reports.run_report import build_report
from core.stats import METRICS, by_alias, metric_info, mlflow_kpis, sample_metrics
from core.store import Store


def test_every_entry_is_complete_and_written_by_textfmt():
    aliases = [a for m in METRICS.values() for a in (m.alias, *m.aliases)]
    assert len(aliases) == len(set(aliases)), "two metrics share a name"
    for name, m in METRICS.items():
        assert m.name == name and m.alias and m.label == m.label.lower() or m.label.startswith("process peak RSS")
        assert m.format in textfmt.UNITS, f"{name}: format {m.format!r} is not a textfmt unit"
        assert by_alias(m.alias) is m and by_alias(name) is m and by_alias(f" {m.alias.upper()} ") is m
    assert textfmt.fmt_metric(412.3, "latency_ms") == "412 ms" == textfmt.ms(412.3)
    assert textfmt.fmt_metric(0.25, "passed") == "25.0%" and textfmt.fmt_metric(None, "quality") == textfmt.DASH
    assert by_alias("no_such_metric") is None and metric_info("no_such_metric").alias == "no_such_metric"


def test_every_metric_a_surface_names_is_in_the_registry():
    # the analysis' names (CLI --metrics, the Compare page's pickers) and its defaults
    for alias, column in analysis.METRIC_ALIASES.items():
        assert by_alias(alias) is METRICS[column], alias
    assert {by_alias(a).name for a in analysis.DEFAULT_METRICS} <= {m.name for m in sample_metrics()}
    # the report's comparisons and distributions, the Results page's metrics
    assert all(by_alias(a) is not None for a in report_model.COMPARE_METRICS)
    for column, heading, kpi, stat in report_model.DISTRIBUTIONS:
        m = METRICS[column]
        assert (heading, kpi, stat) == (m.heading, m.summary_kpi, m.summary_stat)
    from ui import analysis_widgets as aw

    for r in aw.RESULT_METRICS.values():
        if r.column != "cost":  # cost: per 1,000 requests, derived from latency
            m = METRICS[r.column]
            assert (r.label, r.kpi, r.stat) == (m.heading, m.summary_kpi, m.summary_stat)
    # gate rules: the registry's column, direction and scale
    for name, rule in gate._METRICS.items():
        m = METRICS[rule.column]
        assert name in (m.alias, *m.aliases) and rule.higher_is_better == (m.lower_is_better is False)
    assert gate.parse_rule("passed >= -2pp").threshold == pytest.approx(-0.02)
    assert gate.parse_rule("latency_ms <= 1.1x").metric == "latency"
    # MLflow: every name maps to a KPI of a registry metric or a count
    assert tracking.MLFLOW_KPIS == mlflow_kpis()
    assert tracking.MLFLOW_KPIS["latency_ms_median"] == "latency_ms_p50" and tracking.MLFLOW_KPIS["n"] == "samples"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("registry") / "registry.duckdb"
    store = Store(path)
    return path, store, synthetic_run(store, run_id="registry", n_models=2, n_items=40, repeats=1, error_rate=0.05)


def test_cli_report_and_dashboard_name_a_runs_metrics_alike(run, capsys):
    from core.cli.main import main
    from ui import analysis_widgets as aw

    path, store, run_id = run
    metrics = list(report_model.COMPARE_METRICS)
    comp = analysis.compare_run(store, run_id, metrics=metrics, use_champion=False)
    want = {metric_info(c.metric).label for c in comp.comparisons}  # mem_added: not measured in a synthetic run
    assert len(want) >= 5
    assert main(["compare", run_id, "--db", str(path), "--metrics", ",".join(metrics), "--all-pairs"]) == 0
    out = capsys.readouterr().out
    cli = {label for label in want if re.search(rf"^\s*{re.escape(label)} model-00 ", out, re.M)}
    assert cli == want, out

    report = build_report(store, run_id)
    assert {row[0] for row in report.comparison.rows} == want
    assert set(aw.comparison_rows(comp)["Metric"]) == want
    # one effect text everywhere (its unit from the registry): the dashboard's cell is in the CLI's table
    for effect in aw.comparison_rows(comp)[[c for c in aw.comparison_rows(comp).columns if c.startswith("Effect A vs B")][0]]:
        assert effect in out
    # distributions: the report's chart axes are the registry's headings, as on the Results page
    assert report.distributions
    results = {r.label for r in aw.RESULT_METRICS.values()}
    for chart in report.distributions:
        assert chart.y_label == METRICS[chart.key.removeprefix("dist_")].heading and chart.y_label in results


def test_kpi_headings_have_one_home():
    """The dashboard's KPI table and the report's KPI tables name a KPI alike (core.analysis.kpi_definitions)."""
    from core.analysis.kpi_definitions import KPI_DEFS
    from ui import analysis_widgets as aw

    assert all(d.label for d in KPI_DEFS.values()), "a KPI without a label"
    shown = {k: aw.kpi_header(k, f) for k, f in aw.KPI_COLUMNS}
    assert shown["latency_ms_p50"] == KPI_DEFS["latency_ms_p50"].heading == metric_info("latency_ms").summary_heading
    assert shown["quality_mean"] == KPI_DEFS["quality_mean"].title == metric_info("quality").summary_heading
    assert shown["ok"] == "Succeeded" and shown["local_cost_per_request"] == "Local cost / 1,000 requests"
    assert KPI_DEFS["latency_ms_p50"].title == "Median latency" and KPI_DEFS["tokens_per_s"].heading == "Throughput (tokens/s)"
    for _, kpis in report_model.KPI_GROUPS:
        assert all(k in KPI_DEFS for k in kpis)
    for k, f in aw.KPI_COLUMNS:  # the report's title is the dashboard's heading less the unit its cells write
        if f != aw.USD_PER_1K:
            assert shown[k].startswith(KPI_DEFS[k].title_text)
