"""The dashboard's small panels: the Run page's live latency trace, the Overview's median
latency bars and the Models page's memory gauge."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.stats import Interval
from core.textfmt import count, pct

from .layout import axis_title, defined, esc, style


def latency_trace(trace: Sequence[Any], colors: Mapping[str, str]) -> go.Figure:
    """Latency of each finished sample (core.jobs.TracePoint) against time since the run started."""
    fig = go.Figure()
    for model in dict.fromkeys(p.model for p in trace):
        pts = [p for p in trace if p.model == model and p.ok]
        fig.add_trace(go.Scatter(
            x=[p.t_s for p in pts], y=[p.latency_ms for p in pts], mode="lines+markers", name=esc(model),
            line=dict(color=colors.get(model), width=1), marker=dict(size=5),
            hovertemplate="%{fullData.name}<br>t = %{x:.1f} s<br>latency %{y:,.1f} ms<extra></extra>"))
        failed = [p for p in trace if p.model == model and not p.ok]
        if failed:
            fig.add_trace(go.Scatter(
                x=[p.t_s for p in failed], y=[0] * len(failed), mode="markers", name=esc(f"{model} (failed)"),
                marker=dict(symbol="x", size=8, color=colors.get(model)),
                hovertemplate="%{fullData.name}<br>t = %{x:.1f} s<extra></extra>"))
    style(fig, "Latency of each sample (live)", "Time since start (s)", axis_title("latency_ms"), height=320, legend_title="Model")
    fig.update_yaxes(rangemode="tozero")
    return fig


def kpi_bars(summary: pd.DataFrame, colors: Mapping[str, str], intervals: Mapping[str, Interval | None] | None = None) -> go.Figure:
    """Median latency per model (bars) for one run, with whiskers for the median's interval
    (intervals: model -> CI, from the KPI table); hover adds the interval, p90, tokens/s and quality."""
    df = summary.copy()
    ivs = [(intervals or {}).get(m) for m in df["model"]]
    ivs = [iv if defined(iv) else None for iv in ivs]
    med = df["median_latency_ms"].astype(float).tolist()
    ci = [f"{pct(iv.confidence, 0)} CI {iv.low:,.1f}-{iv.high:,.1f} ms" if iv else "no interval" for iv in ivs]
    fig = go.Figure(go.Bar(
        x=[esc(m) for m in df["model"]], y=med, marker_color=[colors.get(m) for m in df["model"]],
        error_y=dict(type="data", array=[iv.high - y if iv else None for iv, y in zip(ivs, med, strict=True)],
                     arrayminus=[y - iv.low if iv else None for iv, y in zip(ivs, med, strict=True)],
                     color="#333", thickness=1.5, width=6) if any(ivs) else None,
        customdata=list(zip(df["p90_latency_ms"], df["tokens_per_s"], df["mean_quality"], df["n"], ci, strict=True)),
        hovertemplate=("%{x}<br>median latency %{y:,.1f} ms (%{customdata[4]})<br>p90 %{customdata[0]:,.1f} ms"
                       "<br>%{customdata[1]:,.1f} tokens/s<br>quality %{customdata[2]:.2f} / 10"
                       "<br>%{customdata[3]} samples<extra></extra>"),
    ))
    first = next((iv for iv in ivs if iv), None)
    whiskers = f"; whiskers: {pct(first.confidence, 0)} CI of the median" if first else ""
    return style(fig, "Median latency per model (latest run)" + whiskers, "Model", axis_title("latency_ms", "median"),
                 height=320, showlegend=False)


def memory_gauge(used_mb: float, budget_mb: float, basis: str) -> go.Figure:
    """Estimated memory of the loaded models against the loader's budget (in MB, as the gauge reads)."""
    fig = go.Figure(go.Indicator(
        mode="gauge+number", domain=dict(x=[0.25, 1], y=[0, 1]), value=used_mb,
        number=dict(suffix=" MB", valueformat=",.0f"),
        gauge=dict(shape="bullet", axis=dict(range=[0, max(budget_mb, used_mb, 1.0)], ticksuffix=" MB"),
                   bar=dict(color="#2563eb"), steps=[dict(range=[0.8 * budget_mb, budget_mb], color="#fde68a")],
                   threshold=dict(line=dict(color="#d62728", width=3), value=budget_mb)),
    ))
    return style(fig, f"Memory of loaded models vs budget ({count(budget_mb)} MB: {basis})", height=150,
                 margin=dict(l=30, r=40, t=50, b=30))
