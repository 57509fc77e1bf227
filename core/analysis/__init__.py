"""Analysis of a stored run: the one entry point for the CLI, the dashboard, reports and MLflow.

    kpi_table(store, run_id)      -> KpiTable         KPIs per model (and category) with intervals
    compare_run(store, run_id)    -> RunComparison    pairwise tests, verdicts, Pareto, drift, cold start
    compare_arms(store, arms)     -> RunComparison    the same over arms (run, model) of different runs
    cost_report(store, run_id, s) -> CostReport       local vs cloud cost, projections, break-even
    cost_resamples(store, run_id) -> CostResamples  the settings-free part of a cost report (reusable)
    sample_size(store, run_id, metric, effect) -> SampleSizeReport
    recommend(store, run_id)      -> Recommendation   a model and a plain-language why
    machine_load(store, run_id)   -> MachineLoadReport  how busy other processes kept the measurement cores

Pure Python (no streamlit). Every result is a frozen dataclass with `to_dict()`, the JSON the
CLI prints with `--format json` (documented in docs/cli-json.md). The statistics are
core.stats / core.compare, the formulas core.analysis.costs; the modules of this package fetch
the columns they need from the store and put the pieces together:

    kpis, kpi_definitions   the KPI table and the KPIs it has (labels and units: the one place)
    kpi_intervals           the KPI table's intervals for one model or category
    comparison              compare_run / compare_arms
    rules                   the baseline rule, the best-quality model, the Pareto objectives
    recommendation          recommend (RECOMMEND_RULE)
    costs, pricing          the one cost model (dedicated | shared, projections, break-even); prices, power
    cost_context            a run's cost inputs resolved once, and the cost KPIs with intervals
    cost_report             the cost report of a run
    sample_size             prompts needed to detect a difference
    machine_load            how busy the machine was
    runs, to_json           loading a run's samples; the JSON shapes
"""
from __future__ import annotations

from core.analysis.comparison import ColdStartInfo, RunComparison, compare_arms, compare_run, comparison_dict
from core.analysis.cost_context import (
    CostContext,
    cost_context,
    cost_intervals,
    measured_power,
    run_price_bases,
    settings_dict,
)
from core.analysis.cost_report import CloudLine, CostReport, CostResamples, LocalCost, cost_report, cost_resamples
from core.analysis.kpis import KpiTable, kpi_table, memory_needed_mb
from core.analysis.machine_load import MachineLoadReport, machine_load
from core.analysis.recommendation import RECOMMEND_RULE, Recommendation, recommend
from core.analysis.rules import best_quality, choose_baseline, kpi_pareto, pareto_table
from core.analysis.runs import DEFAULT_METRICS, DERIVED, METRIC_ALIASES, resolve_metric, with_derived
from core.analysis.sample_size import SampleSizeAdvice, SampleSizeReport, SampleSizeRow, sample_size
from core.analysis.to_json import interval_dict
from core.stats import METHODS

__all__ = [
    "DEFAULT_METRICS", "METRIC_ALIASES", "DERIVED", "METHODS", "resolve_metric", "with_derived",
    "KpiTable", "kpi_table", "memory_needed_mb", "interval_dict",
    "RunComparison", "ColdStartInfo", "compare_run", "compare_arms", "comparison_dict",
    "choose_baseline", "best_quality", "pareto_table", "kpi_pareto", "RECOMMEND_RULE", "Recommendation", "recommend",
    "CostContext", "cost_context", "cost_intervals", "measured_power", "run_price_bases", "settings_dict",
    "CostReport", "CostResamples", "LocalCost", "CloudLine", "cost_report", "cost_resamples",
    "SampleSizeAdvice", "SampleSizeReport", "SampleSizeRow", "sample_size",
    "MachineLoadReport", "machine_load",
]
