"""Statistics for benchmark samples: intervals, tests, effect sizes, equivalence, power, trends.

Pure numpy / scipy / pandas (no I/O, no streamlit). Every interval is an `Interval` that
carries its method, confidence level, resample count and seed; degenerate data (no rows,
one row, constant values, all errors) gives a defined result with a `note`, never an
exception and never a NaN shown as a number. `METHODS` explains the choices in prose.

The modules, each building only on those before it:
  basics             defaults, Interval, finite-value helpers
  methods            METHODS (prose)
  resampling         the bootstrap engine: seeded index/count matrices, quantiles, BCa
  cluster_bootstrap  resampling prompts with all their repeats
  intervals          t, Wilson, Newcombe, proportion and quantile (BCa) intervals
  joint_bootstrap    several means over one resample (BootstrapMeans)
  metric_registry    MetricInfo, METRICS, metric_info, by_alias, mlflow_kpis
  summaries          mean and percentiles of a metric per model
  significance       paired and unpaired tests, multiplicity (Holm, BH)
  effects            effect sizes, mean difference and ratio-of-medians intervals
  equivalence        TOST
  power              detectable difference and sample size
  trends             drift and cold start
  pareto             the Pareto front of models
  agreement          Krippendorff's alpha, Cohen's and Fleiss' kappa with bootstrap intervals
  judge_agreement    a judge against human raters (Spearman, kappa, can it stand in?)
  position_bias      a pairwise judge asked in both orders
  bradley_terry      rankings from pairwise preferences (Davidson ties, prompt bootstrap)

Model comparisons and verdicts build on this package and live in core.compare (the
dependency goes one way: core.compare imports core.stats, never the reverse).
"""
from __future__ import annotations

from core.stats.basics import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    LARGE_N,
    LARGE_N_RESAMPLES,
    PERCENTILES,
    Interval,
    default_resamples,
    finite_or_none,
    finite_pairs,
    finite_values,
    format_number,
)
from core.stats.cluster_bootstrap import cluster_bootstrap_ci
from core.stats.effects import (
    BootCache,
    cliffs_delta,
    cohens_d,
    cohens_dz,
    mean_difference_ci,
    rank_biserial_paired,
    ratio_of_medians_ci,
    ratio_of_medians_cluster_ci,
)
from core.stats.equivalence import Equivalence, tost_paired, tost_unpaired
from core.stats.intervals import (
    agreeing_clusters_ci,
    mean_ci,
    median_ci,
    newcombe_diff_ci,
    percentile_ci,
    proportion_ci,
    quantile_cis,
    wilson_ci,
)
from core.stats.joint_bootstrap import BootstrapMeans, bootstrap_means, bootstrap_sums
from core.stats.methods import METHODS
from core.stats.metric_registry import METRICS, MLFLOW_COUNTS, MetricInfo, by_alias, metric_info, mlflow_kpis, sample_metrics
from core.stats.pareto import DEFAULT_OBJECTIVES, ParetoPoint, pareto_front
from core.stats.power import Power, minimum_detectable_effect, required_sample_size
from core.stats.significance import TestResult, adjust_pvalues, fisher_test, mcnemar_test, paired_test, unpaired_test
from core.stats.summaries import MetricSummary, ok_rows, summarize, summarize_models
from core.stats.agreement import (
    RatingMatrix,
    cohens_kappa,
    cohens_kappa_ci,
    fleiss_kappa,
    fleiss_kappa_ci,
    krippendorff_alpha,
    krippendorff_alpha_ci,
    rating_matrix,
)
from core.stats.bradley_terry import BradleyTerry, PositionBias, rank_by_preferences, resolve_both_orders
from core.stats.judge_agreement import JudgeAgreement, judge_vs_raters
from core.stats.trends import SPEARMAN_EXACT_MAX_N, ColdStart, Drift, cold_start, drift

__all__ = [
    # basics
    "DEFAULT_ALPHA", "DEFAULT_CONFIDENCE", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "LARGE_N", "LARGE_N_RESAMPLES",
    "PERCENTILES", "Interval", "default_resamples", "finite_or_none", "finite_pairs", "finite_values", "format_number",
    "METHODS",
    # intervals and resampling
    "agreeing_clusters_ci", "cluster_bootstrap_ci", "mean_ci", "median_ci", "newcombe_diff_ci", "percentile_ci",
    "proportion_ci", "quantile_cis", "wilson_ci", "BootstrapMeans", "bootstrap_means", "bootstrap_sums",
    # summaries and the metric registry
    "MetricSummary", "ok_rows", "summarize", "summarize_models", "METRICS", "MetricInfo", "metric_info",
    "MLFLOW_COUNTS", "by_alias", "mlflow_kpis", "sample_metrics",
    # tests, effect sizes, equivalence, power
    "TestResult", "adjust_pvalues", "fisher_test", "mcnemar_test", "paired_test", "unpaired_test",
    "BootCache", "cliffs_delta", "cohens_d", "cohens_dz", "mean_difference_ci", "rank_biserial_paired",
    "ratio_of_medians_ci", "ratio_of_medians_cluster_ci", "Equivalence", "tost_paired", "tost_unpaired",
    "Power", "minimum_detectable_effect", "required_sample_size",
    # agreement and rankings
    "RatingMatrix", "cohens_kappa", "cohens_kappa_ci", "fleiss_kappa", "fleiss_kappa_ci", "krippendorff_alpha",
    "krippendorff_alpha_ci", "rating_matrix", "JudgeAgreement", "judge_vs_raters", "BradleyTerry", "PositionBias",
    "rank_by_preferences", "resolve_both_orders",
    # trends and Pareto
    "SPEARMAN_EXACT_MAX_N", "ColdStart", "Drift", "cold_start", "drift", "DEFAULT_OBJECTIVES", "ParetoPoint", "pareto_front",
]
