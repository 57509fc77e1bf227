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


def joint_resample(done: pd.DataFrame, scorers: Sequence[str], n_resamples: int | None, seed: int) -> BootstrapMeans:
    """One joint resample of prompts over the attempted rows; metrics count successful rows only."""
    is_ok = (done["status"] == "ok").to_numpy()

    def col(name: str) -> np.ndarray:
        return np.where(is_ok, done[name].to_numpy(dtype=float, na_value=np.nan), np.nan)

    lat, ttft, dec = col("latency_ms"), col("ttft_ms"), col("decode_tps")
    inp, out = col("input_tokens"), col("output_tokens")
    cols: dict[str, np.ndarray] = {"error": (~is_ok).astype(float), "passed": col("passed")}
    for name, x in (("lat", lat), ("ttft", ttft)):
        centre = np.nanmean(x) if np.isfinite(x).any() else 0.0
        cols[f"{name}_c"], cols[f"{name}_c2"] = x - centre, (x - centre) ** 2
    cols.update(decode_tps=dec, input_tokens=inp, output_tokens=out, peak_rss_mb=col("peak_rss_mb"),
                mem_added_mb=col("mem_added_mb"), quality=col("quality"))
    both = np.isfinite(lat) & np.isfinite(out)
    cols["tp_out"], cols["tp_s"] = np.where(both, out, np.nan), np.where(both, lat / 1000, np.nan)
    dmask = np.isfinite(dec) & np.isfinite(lat) & np.isfinite(ttft) & np.isfinite(out)
    cols["dec_tok"], cols["dec_s"] = np.where(dmask, out - 1, np.nan), np.where(dmask, (lat - ttft) / 1000, np.nan)
    cmask = np.isfinite(lat) & np.isfinite(inp) & np.isfinite(out)
    cols["cost_s"], cols["cost_in"], cols["cost_out"] = (np.where(cmask, v, np.nan) for v in (lat / 1000, inp, out))
    for s in scorers:
        cols[f"score_{s}"] = col(f"score_{s}")
    return bootstrap_means(cols, prompt_codes(done), n_resamples=n_resamples, seed=seed)


def prompt_codes(rows: pd.DataFrame) -> np.ndarray:
    """Each row's prompt number in order of first appearance: the numbering of the prompt labels
    read as text (core.stats.cluster_codes), without turning a million labels into text."""
    return pd.factorize(rows["item_id"].astype(str) if rows["item_id"].dtype == object else rows["item_id"])[0]


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
    ok = df[df["status"] == "ok"]
    done = df[df["status"].isin(["ok", "error", "timeout"])]
    clusters = prompt_codes(ok)  # integer prompt codes: cheaper to group than strings
    out: dict[str, Interval] = {}
    kw = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    bm = joint_resample(done, scorers, n_resamples, seed)
    done_codes = prompt_codes(done)

    def mean_of(col: str, values: np.ndarray) -> Interval:
        if bm.clustered:
            return bm.interval(*bm.mean(col), confidence=confidence, n=int(np.isfinite(values).sum()))
        return mean_ci(values, confidence)

    def rate(col: str) -> Interval:
        n, _ = bm.count(col)
        if bm.clustered:
            is_ok = (done["status"] == "ok").to_numpy()
            values = ((~is_ok).astype(float) if col == "error"
                      else np.where(is_ok, done[col].to_numpy(dtype=float, na_value=np.nan), np.nan))
            agreeing = agreeing_clusters_ci(values, done_codes, confidence)
            return agreeing if agreeing is not None else bm.interval(*bm.mean(col), confidence=confidence, n=n)
        return wilson_ci(int(round(bm.totals[bm.names.index(col)])), n, confidence)

    for name, prefix in (("lat", "latency_ms"), ("ttft", "ttft_ms")):
        x = ok[prefix].to_numpy(dtype=float, na_value=np.nan)
        s = summarize(x, clusters, **kw)
        out.update({f"{prefix}_mean": s.mean, f"{prefix}_p50": s.p50, f"{prefix}_p90": s.p90,  # type: ignore[dict-item]
                    f"{prefix}_p95": s.p95, f"{prefix}_p99": s.p99})
        centre = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0
        out[f"{prefix}_std"], out[f"{prefix}_cv"] = spread_intervals(bm, name, centre, confidence)
    out["tokens_per_s"] = bm.interval(*bm.ratio("tp_out", "tp_s"), confidence=confidence, n=bm.count("tp_s")[0])
    out["decode_tps_aggregate"] = bm.interval(*bm.ratio("dec_tok", "dec_s"), confidence=confidence, n=bm.count("dec_s")[0])
    for col, kpi in (("decode_tps", "decode_tps_mean"), ("input_tokens", "input_tokens_mean"), ("output_tokens", "output_tokens_mean"),
                     ("peak_rss_mb", "peak_rss_mb_mean"), ("mem_added_mb", "mem_added_mb_mean"), ("quality", "quality_mean")):
        out[kpi] = mean_of(col, ok[col].to_numpy(dtype=float, na_value=np.nan))
    out["quality_mean"] = within_scale(out["quality_mean"], 0.0, 10.0)
    for s in scorers:
        out[f"score_{s}_mean"] = within_scale(mean_of(f"score_{s}", ok[f"score_{s}"].to_numpy(dtype=float, na_value=np.nan)), 0.0, 1.0)
    out["pass_rate"], out["error_rate"] = rate("passed"), rate("error")
    if ctx is not None:
        out.update(cost_intervals(bm, model, ctx, confidence))
    return out
