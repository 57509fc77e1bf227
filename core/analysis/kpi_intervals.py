"""The KPI table's intervals for one model (or one model's category), from its sample rows:
latency and TTFT percentiles from `summarize` (BCa, or a cluster bootstrap over prompts when
prompts repeat); every other mean, ratio and cost from one joint resample of prompts
(`joint_resample`); proportions from Wilson (or agreeing clusters / the cluster bootstrap).
core.analysis.kpis puts them beside the SQL aggregate's values.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis.cost_context import CostContext, cost_intervals
from core.stats import BootstrapMeans, Interval, agreeing_clusters_ci, bootstrap_means, mean_ci, summarize, wilson_ci
from core.stats.cluster_codes import factorize_labels


_VALUE_COLUMNS = ("latency_ms", "ttft_ms", "decode_tps", "input_tokens", "output_tokens", "peak_rss_mb",
                  "mem_added_mb", "quality", "passed")


def ok_values(done: pd.DataFrame, scorers: Sequence[str]) -> dict[str, np.ndarray]:
    """Each metric column of the attempted rows as floats, NaN where the row did not succeed.
    Converted once per group: the joint resample, the summaries and the rates all read them."""
    is_ok = (done["status"] == "ok").to_numpy()
    names = [*_VALUE_COLUMNS, *(f"score_{s}" for s in scorers)]
    return {name: np.where(is_ok, done[name].to_numpy(dtype=float, na_value=np.nan), np.nan) for name in names}


def joint_resample(done: pd.DataFrame, scorers: Sequence[str], n_resamples: int | None, seed: int,
                   codes: np.ndarray | None = None, values: dict[str, np.ndarray] | None = None) -> BootstrapMeans:
    """One joint resample of prompts over the attempted rows; metrics count successful rows only.
    codes: prompt_codes(done), values: ok_values(done, scorers), when the caller has them already."""
    is_ok = (done["status"] == "ok").to_numpy()
    metric = ok_values(done, scorers) if values is None else values
    lat, ttft, dec = metric["latency_ms"], metric["ttft_ms"], metric["decode_tps"]
    inp, out = metric["input_tokens"], metric["output_tokens"]
    cols: dict[str, np.ndarray] = {"error": (~is_ok).astype(float), "passed": metric["passed"]}
    for name, x in (("lat", lat), ("ttft", ttft)):
        centre = np.nanmean(x) if np.isfinite(x).any() else 0.0
        cols[f"{name}_c"], cols[f"{name}_c2"] = x - centre, (x - centre) ** 2
    cols.update(decode_tps=dec, input_tokens=inp, output_tokens=out, peak_rss_mb=metric["peak_rss_mb"],
                mem_added_mb=metric["mem_added_mb"], quality=metric["quality"])
    both = np.isfinite(lat) & np.isfinite(out)
    seconds = lat / 1000
    cols["tp_out"], cols["tp_s"] = _masked(out, both), _masked(seconds, both)
    dmask = np.isfinite(dec) & np.isfinite(lat) & np.isfinite(ttft) & np.isfinite(out)
    cols["dec_tok"], cols["dec_s"] = np.where(dmask, out - 1, np.nan), np.where(dmask, (lat - ttft) / 1000, np.nan)
    cmask = np.isfinite(lat) & np.isfinite(inp) & np.isfinite(out)
    cols["cost_s"], cols["cost_in"], cols["cost_out"] = (_masked(v, cmask) for v in (seconds, inp, out))
    for s in scorers:
        cols[f"score_{s}"] = metric[f"score_{s}"]
    return bootstrap_means(cols, prompt_codes(done) if codes is None else codes, n_resamples=n_resamples, seed=seed)


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """values where keep, NaN elsewhere. When values are missing exactly off `keep` already, the
    array itself: a column passed to bootstrap_means twice (the same array) is summed once."""
    if np.array_equal(np.isfinite(values), keep):
        return values
    return np.where(keep, values, np.nan)


def prompt_codes(rows: pd.DataFrame) -> np.ndarray:
    """Each row's prompt number in order of first appearance: the numbering of the prompt labels
    read as text (core.stats.cluster_codes), without turning a million labels into text.

    The statistics below factorize whatever labels they get; handed these codes, they find them
    numbered already (core.stats.cluster_codes.is_first_appearance_codes) and skip the work. A
    Categorical (fetch's item_id) is renumbered from its integer codes: one label, one code."""
    item = rows["item_id"]
    if isinstance(item.dtype, pd.CategoricalDtype):
        return pd.factorize(item.cat.codes.to_numpy())[0]
    return pd.factorize(item.astype(str) if item.dtype == object else item)[0]


def spread_intervals(bm: BootstrapMeans, name: str, centre: float, confidence: float) -> tuple[Interval, Interval]:
    """Std and CV intervals from centred sums and sums of squares (shift-invariant)."""
    n, bn = bm.count(f"{name}_c")
    m1, b1 = bm.mean(f"{name}_c")
    m2, b2 = bm.mean(f"{name}_c2")
    if n < 2 or m1 is None or m2 is None:
        undefined = Interval(None, None, None, bm.method, confidence, n, note="fewer than 2 values: no spread")
        return undefined, undefined
    with np.errstate(invalid="ignore", divide="ignore"):
        std = math.sqrt(max(m2 - m1 * m1, 0.0) * n / (n - 1))
        bstd = np.sqrt(np.maximum(b2 - b1 * b1, 0.0) * bn / np.where(bn > 1, bn - 1, np.nan))
        mean = m1 + centre
        cv, bcv = (std / mean if mean else None), bstd / (b1 + centre)
    return bm.interval(std, bstd, confidence=confidence, n=n), bm.interval(cv, bcv, confidence=confidence, n=n)


def within_scale(iv: Interval, lo: float, hi: float) -> Interval:
    """A mean's interval cut to the scale its values live on (quality 0-10, a scorer 0-1): a t
    interval on a few prompts can reach below 0, which no mean of these values can."""
    if not iv.is_defined or (iv.low >= lo and iv.high <= hi):  # type: ignore[operator]
        return iv
    note = f"{iv.note}; " if iv.note else ""
    return dataclasses.replace(iv, low=max(lo, iv.low), high=min(hi, iv.high),  # type: ignore[type-var]
                               note=f"{note}cut to the scale {lo:g}-{hi:g}")


def group_intervals(df: pd.DataFrame, model: str, scorers: Sequence[str], ctx: CostContext | None, *,
                    confidence: float, n_resamples: int | None, seed: int) -> dict[str, Interval]:
    """Every KPI interval of one model (or one model's category) from its sample rows."""
    attempted = df["status"].isin(["ok", "error", "timeout"]).to_numpy()
    done = df if attempted.all() else df[attempted]  # usually every row: no copy of the frame
    is_ok = (done["status"] == "ok").to_numpy()
    done_codes = prompt_codes(done)  # integer prompt codes: cheaper to group than strings
    clusters = factorize_labels(done_codes[is_ok])[0]  # the ok rows' prompts, numbered again from 0
    values = ok_values(done, scorers)  # NaN off the ok rows; values[c][is_ok]: the ok rows' values
    out: dict[str, Interval] = {}
    kw = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    bm = joint_resample(done, scorers, n_resamples, seed, codes=done_codes, values=values)

    def mean_of(col: str) -> Interval:
        if bm.clustered:
            return bm.interval(*bm.mean(col), confidence=confidence, n=int(np.isfinite(values[col]).sum()))
        return mean_ci(values[col][is_ok], confidence)

    def rate(col: str) -> Interval:
        n, _ = bm.count(col)
        if bm.clustered:
            outcomes = (~is_ok).astype(float) if col == "error" else values[col]
            agreeing = agreeing_clusters_ci(outcomes, done_codes, confidence)
            return agreeing if agreeing is not None else bm.interval(*bm.mean(col), confidence=confidence, n=n)
        return wilson_ci(int(round(bm.totals[bm.names.index(col)])), n, confidence)

    for name, prefix in (("lat", "latency_ms"), ("ttft", "ttft_ms")):
        x = values[prefix][is_ok]
        s = summarize(x, clusters, **kw)
        out.update({f"{prefix}_mean": s.mean, f"{prefix}_p50": s.p50, f"{prefix}_p90": s.p90,  # type: ignore[dict-item]
                    f"{prefix}_p95": s.p95, f"{prefix}_p99": s.p99})
        centre = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
        out[f"{prefix}_std"], out[f"{prefix}_cv"] = spread_intervals(bm, name, centre, confidence)
    out["tokens_per_s"] = bm.interval(*bm.ratio("tp_out", "tp_s"), confidence=confidence, n=bm.count("tp_s")[0])
    out["decode_tps_aggregate"] = bm.interval(*bm.ratio("dec_tok", "dec_s"), confidence=confidence, n=bm.count("dec_s")[0])
    for col, kpi in (("decode_tps", "decode_tps_mean"), ("input_tokens", "input_tokens_mean"), ("output_tokens", "output_tokens_mean"),
                     ("peak_rss_mb", "peak_rss_mb_mean"), ("mem_added_mb", "mem_added_mb_mean"), ("quality", "quality_mean")):
        out[kpi] = mean_of(col)
    out["quality_mean"] = within_scale(out["quality_mean"], 0.0, 10.0)
    for s in scorers:
        out[f"score_{s}_mean"] = within_scale(mean_of(f"score_{s}"), 0.0, 1.0)
    out["pass_rate"], out["error_rate"] = rate("passed"), rate("error")
    if ctx is not None:
        out.update(cost_intervals(bm, model, ctx, confidence))
    return out
