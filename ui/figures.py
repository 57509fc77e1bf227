"""Plotly figures for the Overview, Run and Models pages (pure plotly; no streamlit).

Every figure has a title, labelled axes and hover details, and uses the shared model
colours. Text from users never goes into a figure except as hover/label data, which
plotly renders as text.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from core.charts import esc
from core.jobs import TracePoint
from core.stats import Interval

LAYOUT = dict(margin=dict(l=60, r=20, t=50, b=50), hovermode="closest", legend_title_text="Model")


def latency_trace(trace: Sequence[TracePoint], colors: dict[str, str]) -> go.Figure:
    """Latency of each finished sample against time since the run started (live panel)."""
    fig = go.Figure()
    models = list(dict.fromkeys(p.model for p in trace))
    for model in models:
        pts = [p for p in trace if p.model == model and p.ok]
        fig.add_trace(
            go.Scatter(
                x=[p.t_s for p in pts],
                y=[p.latency_ms for p in pts],
                mode="lines+markers",
                name=esc(model),
                line=dict(color=colors.get(model), width=1),
                marker=dict(size=5),
                hovertemplate="%{fullData.name}<br>t = %{x:.1f} s<br>latency %{y:,.1f} ms<extra></extra>",
            )
        )
        failed = [p for p in trace if p.model == model and not p.ok]
        if failed:
            fig.add_trace(
                go.Scatter(
                    x=[p.t_s for p in failed],
                    y=[0] * len(failed),
                    mode="markers",
                    name=esc(f"{model} (failed)"),
                    marker=dict(symbol="x", size=8, color=colors.get(model)),
                    hovertemplate="%{fullData.name}<br>t = %{x:.1f} s<extra></extra>",
                )
            )
    fig.update_layout(
        title="Latency of each sample (live)",
        xaxis_title="Time since start (s)",
        yaxis_title="Latency (ms)",
        height=320,
        **LAYOUT,
    )
    fig.update_yaxes(rangemode="tozero")
    return fig


def kpi_bars(summary: pd.DataFrame, colors: dict[str, str], intervals: Mapping[str, Interval | None] | None = None) -> go.Figure:
    """Median latency per model (bars) for one run, with whiskers for the median's interval
    (intervals: model -> CI, from the KPI table); hover adds the interval, p90, tokens/s and quality."""
    df = summary.copy()
    ivs = [(intervals or {}).get(m) for m in df["model"]]
    ivs = [iv if iv is not None and iv.is_defined else None for iv in ivs]
    med = df["median_latency_ms"].astype(float).tolist()
    ci = [f"{iv.confidence:.0%} CI {iv.low:,.1f}-{iv.high:,.1f} ms" if iv else "no interval" for iv in ivs]
    fig = go.Figure(
        go.Bar(
            x=[esc(m) for m in df["model"]],
            y=med,
            marker_color=[colors.get(m) for m in df["model"]],
            error_y=dict(type="data", array=[iv.high - y if iv else None for iv, y in zip(ivs, med, strict=True)],
                         arrayminus=[y - iv.low if iv else None for iv, y in zip(ivs, med, strict=True)],
                         color="#333", thickness=1.5, width=6) if any(ivs) else None,
            customdata=list(zip(df["p90_latency_ms"], df["tokens_per_s"], df["mean_quality"], df["n"], ci, strict=True)),
            hovertemplate=(
                "%{x}<br>median latency %{y:,.1f} ms (%{customdata[4]})<br>p90 %{customdata[0]:,.1f} ms"
                "<br>%{customdata[1]:,.1f} tokens/s<br>quality %{customdata[2]:.2f} / 10"
                "<br>%{customdata[3]} samples<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title="Median latency per model (latest run)"
        + (f"; whiskers: {next(iv for iv in ivs if iv).confidence:.0%} CI of the median" if any(ivs) else ""),
        xaxis_title="Model",
        yaxis_title="Median latency (ms)",
        height=320,
        showlegend=False,
        **{k: v for k, v in LAYOUT.items() if k != "legend_title_text"},
    )
    return fig


def memory_gauge(used_mb: float, budget_mb: float, basis: str) -> go.Figure:
    """Estimated memory of the loaded models against the loader's budget."""
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            domain=dict(x=[0.25, 1], y=[0, 1]),
            value=used_mb,
            number=dict(suffix=" MB", valueformat=",.0f"),
            gauge=dict(
                shape="bullet",
                axis=dict(range=[0, max(budget_mb, used_mb, 1.0)], ticksuffix=" MB"),
                bar=dict(color="#2563eb"),
                steps=[dict(range=[0.8 * budget_mb, budget_mb], color="#fde68a")],
                threshold=dict(line=dict(color="#d62728", width=3), value=budget_mb),
            ),
        )
    )
    fig.update_layout(
        title=f"Memory of loaded models vs budget ({budget_mb:,.0f} MB: {basis})",
        height=150,
        margin=dict(l=30, r=40, t=50, b=30),
    )
    return fig
