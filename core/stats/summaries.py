"""Summaries of one metric per model: the mean and p50/p90/p95/p99, each with an interval."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

import core.stats.large_sample as large_sample
from core.stats.basics import DEFAULT_CONFIDENCE, DEFAULT_SEED, PERCENTILES, Interval
from core.stats.cluster_bootstrap import _cluster_intervals
from core.stats.cluster_codes import factorize_labels
from core.stats.intervals import mean_ci, proportion_ci, quantile_cis
from core.stats.metric_registry import metric_info


@dataclass(frozen=True)
class MetricSummary:
    """Mean and tail percentiles of one metric for one model, each with an interval."""

    n: int
    n_prompts: int | None
    clustered: bool  # True when repeats made the intervals resample prompts
    mean: Interval
    p50: Interval | None
    p90: Interval | None
    p95: Interval | None
    p99: Interval | None


def summarize(
    values: object,
    clusters: object | None = None,
    *,
    binary: bool = False,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int | None = None,
    seed: int = DEFAULT_SEED,
    method: Literal["BCa", "percentile"] = "BCa",
) -> MetricSummary:
    """Mean and p50/p90/p95/p99 with intervals; cluster bootstrap when any prompt repeats.

    binary=True (pass/fail): the mean is a proportion (Wilson) and percentiles are omitted.
    """
    x = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(x)
    n = int(keep.sum())
    c = None if clusters is None else np.asarray(clusters).ravel()
    # the prompts of the finite values, numbered once: the statistics below find them numbered
    codes, n_prompts = (None, None) if c is None else factorize_labels(c[keep])
    clustered = n_prompts is not None and n_prompts < n  # some prompt holds two values
    if binary:
        mean = proportion_ci(x, c, confidence=confidence, n_resamples=n_resamples, seed=seed)
        return MetricSummary(n, n_prompts, clustered, mean, None, None, None, None)
    if clustered or large_sample.is_large(n):  # single runs, many prompts: each value its own prompt
        labels = codes if codes is not None else np.arange(n)
        ivs = _cluster_intervals(x[keep], labels, ["mean", *[p / 100 for p in PERCENTILES]], confidence, n_resamples, seed)
        return MetricSummary(n, n_prompts, clustered, *ivs)
    qs = quantile_cis(x[keep], [p / 100 for p in PERCENTILES], confidence=confidence, n_resamples=n_resamples, seed=seed, method=method)
    return MetricSummary(n, n_prompts, False, mean_ci(x[keep], confidence), *qs)


def summarize_models(
    df: pd.DataFrame, metric: str, *, confidence: float = DEFAULT_CONFIDENCE, n_resamples: int | None = None, seed: int = DEFAULT_SEED
) -> dict[str, MetricSummary]:
    """summarize() of one metric for each model over its ok samples (prompts = item_id)."""
    ok = ok_rows(df, metric)
    info = metric_info(metric)
    out = {}
    for model, g in ok.groupby("model", sort=False, observed=True):
        clusters = g["item_id"].to_numpy() if "item_id" in g else None
        out[str(model)] = summarize(g["_value"].to_numpy(), clusters, binary=info.binary, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return out


def ok_rows(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows with status 'ok' and a finite metric value, the value in column '_value'."""
    if metric not in df.columns:
        raise ValueError(f"no column {metric!r} in the samples; available: {', '.join(map(str, df.columns))}")
    rows = df[df["status"] == "ok"] if "status" in df.columns else df
    value = pd.to_numeric(rows[metric].astype("float64"), errors="coerce")
    out = rows.assign(_value=value)
    return out[np.isfinite(out["_value"].to_numpy(float))]
