"""Every read the analysis, the dashboard, the reports and the MLflow mirror make of the store.

Functions take the Store (or a connection already open on it) and return DataFrames or plain
values. Writes, migrations and the reads the store needs for its own work stay in core.store;
SQL lives nowhere else (tests/test_layers.py checks). Data flows one way:
store -> queries -> analysis (core.analysis) -> views (pages, reports, CLI, MLflow).

    runs       the models a run planned (planned_models), run_models rows, manifest specs, settings
    aggregate  the KPI aggregate (the one definition of counts, rates' inputs, percentiles), fetch
    explore    bounded reads for charts and the sample explorer (the dashboard)
    reports    box statistics and appendix rows for a report
    console    the SQL console: one user-written read statement over documented views, read-only
    side_by_side  two arms' outputs prompt by prompt, filtered and paged
    throughput a run's throughput sweep rows (core.throughput: batch sizes, requests in flight)
"""
from core.queries.aggregate import aggregate, aggregate_rates, fetch, pass_rates, prompt_cost_sums, run_scorers, score_path
from core.queries.common import Source, query
from core.queries.explore import categories, drift_points, explorer, value_sample
from core.queries.reports import appendix_rows, box_stats, ok_models, prompt_and_failure_counts
from core.queries.runs import (
    manifest_model_specs,
    planned_models,
    recent_errors,
    run_data_version,
    run_models,
    run_models_order,
    run_times,
    setting,
)
from core.queries.side_by_side import arm_categories, paired_outputs
from core.queries.throughput import has_throughput, sweep_run_ids, throughput

__all__ = [
    "Source", "query", "aggregate", "aggregate_rates", "fetch", "pass_rates", "prompt_cost_sums", "run_scorers", "score_path",
    "categories", "drift_points", "explorer", "value_sample", "appendix_rows", "box_stats", "ok_models",
    "prompt_and_failure_counts", "manifest_model_specs", "planned_models", "recent_errors", "run_data_version", "run_models",
    "run_models_order", "run_times", "setting", "paired_outputs", "arm_categories",
    "throughput", "has_throughput", "sweep_run_ids",
]
