"""Plotly figures for the Results, Compare and Costs pages (pure plotly; no streamlit).

Every figure is titled, has labelled axes and hover details, and colours models with the
shared mapping. Interval whiskers come from core.analysis (core.stats.Interval).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.palette import CLOUD_DASHES, CLOUD_GREYS
from core.stats import Interval

LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), hovermode="closest")
POINTS_LIMIT = 3_000  # above this many values in a box/violin, only outliers are drawn as points


def _err(ivs: Sequence[Interval | None]) -> tuple[list, list, list]:
    est = [iv.estimate if iv and iv.is_defined else None for iv in ivs]
    plus = [iv.high - iv.estimate if iv and iv.is_defined else None for iv in ivs]
    minus = [iv.estimate - iv.low if iv and iv.is_defined else None for iv in ivs]
    return est, plus, minus


def distribution(df: pd.DataFrame, kind: str, label: str, colors: Mapping[str, str], *,
                 intervals: Mapping[str, Interval | None] | None = None, stat: str = "median") -> go.Figure:
    """df: series, model, value. kind: box | violin | ecdf | histogram. intervals: series -> CI of `stat`."""
    fig = go.Figure()
    series = list(dict.fromkeys(df["series"]))
    points = "all" if len(df) <= POINTS_LIMIT else "outliers"
    for s in series:
        g = df[df["series"] == s]
        color = colors.get(str(g["model"].iloc[0]))
        v = g["value"].to_numpy(float)
        hover = f"{s}<br>%{{y:,.3g}}<extra></extra>"
        if kind == "box":
            fig.add_trace(go.Box(y=v, name=s, marker_color=color, boxpoints=points, jitter=0.3, pointpos=0,
                                 marker=dict(size=3, opacity=0.5), hovertemplate=hover))
        elif kind == "violin":
            fig.add_trace(go.Violin(y=v, name=s, line_color=color, points=points, jitter=0.3, pointpos=0,
                                    box_visible=True, meanline_visible=False, marker=dict(size=3, opacity=0.5),
                                    hovertemplate=hover))
        elif kind == "ecdf":
            x = np.sort(v)
            y = np.arange(1, x.size + 1) / max(x.size, 1)
            fig.add_trace(go.Scattergl(x=x, y=y, mode="lines", name=s, line=dict(color=color, shape="hv"),
                                       hovertemplate=f"{s}<br>%{{x:,.3g}}: %{{y:.1%}} of samples at or below<extra></extra>"))
        else:
            fig.add_trace(go.Histogram(x=v, name=s, marker_color=color, opacity=0.6, nbinsx=60,
                                       hovertemplate=f"{s}<br>%{{x}}: %{{y}} samples<extra></extra>"))
    if intervals:
        est, plus, minus = _err([intervals.get(s) for s in series])
        conf = next((iv.confidence for iv in intervals.values() if iv), 0.95)
        name = f"{stat} with {conf:.0%} CI"
        if kind in ("box", "violin"):
            fig.add_trace(go.Scatter(x=series, y=est, mode="markers", name=name, marker=dict(color="black", symbol="diamond", size=9),
                                     error_y=dict(type="data", array=plus, arrayminus=minus, thickness=2, width=8),
                                     hovertemplate="%{x}<br>" + stat + " %{y:,.3g}<extra></extra>"))
        else:
            ys = [1.02 + 0.04 * i for i in range(len(series))] if kind == "ecdf" else None
            fig.add_trace(go.Scatter(x=est, y=ys or [0] * len(series), yaxis="y" if kind == "ecdf" else "y2",
                                     mode="markers", name=name, text=series,
                                     marker=dict(color=[colors.get(str(df[df["series"] == s]["model"].iloc[0])) for s in series],
                                                 symbol="diamond", size=9),
                                     error_x=dict(type="data", array=plus, arrayminus=minus, thickness=2, width=6),
                                     hovertemplate="%{text}<br>" + stat + " %{x:,.3g}<extra></extra>"))
            if kind == "histogram":
                fig.update_layout(yaxis2=dict(overlaying="y", side="right", visible=False, range=[-1, 1]))
    titles = {"box": "Distribution", "violin": "Distribution", "ecdf": "Cumulative distribution", "histogram": "Histogram"}
    fig.update_layout(title=f"{titles[kind]} of {label} per model", height=460, barmode="overlay",
                      legend_title_text="Model", **LAYOUT)
    if kind in ("box", "violin"):
        fig.update_layout(xaxis_title="Model", yaxis_title=label, showlegend=False)
    elif kind == "ecdf":
        fig.update_layout(xaxis_title=label, yaxis_title="Share of samples at or below")
    else:
        fig.update_layout(xaxis_title=label, yaxis_title="Samples")
    return fig


def category_bars(wide: pd.DataFrame, kpi: str, label: str, colors: Mapping[str, str]) -> go.Figure:
    """One bar per (category, model) of a KPI, with interval whiskers when present."""
    df = wide[wide["category"] != "(all)"]
    fig = go.Figure()
    for model, g in df.groupby("model", sort=False):
        y = g[kpi].astype(float)
        has = f"{kpi}_low" in g and g[f"{kpi}_low"].notna().any()
        err = dict(type="data", array=(g[f"{kpi}_high"] - y).tolist(), arrayminus=(y - g[f"{kpi}_low"]).tolist()) if has else None
        fig.add_trace(go.Bar(x=g["category"], y=y, name=str(model), marker_color=colors.get(str(model)), error_y=err,
                             hovertemplate=f"{model}<br>%{{x}}: %{{y:,.3g}}<extra></extra>"))
    fig.update_layout(title=f"{label} by category", xaxis_title="Category", yaxis_title=label, barmode="group",
                      height=400, legend_title_text="Model", **LAYOUT)
    return fig


def pvalue_heatmap(frame: pd.DataFrame, models: Sequence[str], metric_label: str) -> go.Figure:
    """Adjusted p-values of every compared pair (one metric), annotated with the effect size."""
    idx = {m: i for i, m in enumerate(models)}
    n = len(models)
    z = np.full((n, n), np.nan)
    text = [["" for _ in models] for _ in models]
    for r in frame.itertuples():
        if r.model_a not in idx or r.model_b not in idx:
            continue
        p = r.p_adjusted if r.p_adjusted is not None and not _nan(r.p_adjusted) else r.p
        eff = f"{r.ratio:.2f}x" if r.ratio is not None and not _nan(r.ratio) else (
            f"Δ {r.difference:+.3g}" if r.difference is not None and not _nan(r.difference) else "")
        d = f"<br>Cliff's δ {r.cliffs_delta:+.2f}" if r.cliffs_delta is not None and not _nan(r.cliffs_delta) else ""
        label = ("p < 0.001" if p is not None and p < 0.001 else f"p = {p:.3f}") if p is not None and not _nan(p) else "n/a"
        i, j = idx[r.model_a], idx[r.model_b]
        z[i, j] = z[j, i] = p if p is not None and not _nan(p) else np.nan
        text[i][j] = f"{label}<br>{eff}{d}"
        text[j][i] = f"{label}<br>{_invert(eff)}{_neg(d)}"
    fig = go.Figure(go.Heatmap(
        z=z, x=list(models), y=list(models), text=text, texttemplate="%{text}", zmin=0, zmax=1,
        colorscale=[[0, "#1a9850"], [0.05, "#a6d96a"], [0.0501, "#f7f7f7"], [1, "#d9d9d9"]],
        colorbar=dict(title="adjusted p"), hovertemplate="row %{y} vs column %{x}<br>%{text}<extra></extra>",
    ))
    fig.update_layout(title=f"Pairwise tests on {metric_label}: adjusted p-value and effect (row vs column)",
                      xaxis_title="Model (column)", yaxis_title="Model (row)", height=120 + 70 * n,
                      yaxis=dict(autorange="reversed"), **LAYOUT)
    return fig


def _nan(x: object) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _invert(eff: str) -> str:
    if eff.endswith("x"):
        return f"{1 / float(eff[:-1]):.2f}x" if float(eff[:-1]) else eff
    if eff.startswith("Δ "):
        return f"Δ {-float(eff[2:]):+.3g}"
    return eff


def _neg(d: str) -> str:
    if not d:
        return d
    head, _, val = d.rpartition(" ")
    return f"{head} {-float(val):+.2f}"


def pareto(table: pd.DataFrame, efficient: Mapping[str, bool], x: str, x_label: str, colors: Mapping[str, str], *,
           x_ivs: Mapping[str, Interval | None], y_ivs: Mapping[str, Interval | None]) -> go.Figure:
    """Quality against latency or cost; whiskers are intervals; marker area ~ memory; the frontier joined."""
    df = table.dropna(subset=[x, "quality"])
    mem = df["memory_mb"].fillna(df["memory_mb"].median() if df["memory_mb"].notna().any() else 1.0)
    size = 14 + 36 * np.sqrt(mem / mem.max()) if len(df) and mem.max() > 0 else [20] * len(df)
    fig = go.Figure()
    front = df[df["model"].map(lambda m: efficient.get(m, False))].sort_values(x)
    if len(front) > 1:
        fig.add_trace(go.Scatter(x=front[x], y=front["quality"], mode="lines", name="Pareto frontier",
                                 line=dict(color="#555", dash="dash"), hoverinfo="skip"))
    for (_, r), s in zip(df.iterrows(), size, strict=True):
        m = str(r["model"])
        xi, yi = x_ivs.get(m), y_ivs.get(m)
        fig.add_trace(go.Scatter(
            x=[r[x]], y=[r["quality"]], mode="markers+text", name=m, text=[m], textposition="top center",
            marker=dict(size=float(s), color=colors.get(m), line=dict(width=2, color="black" if efficient.get(m) else "white")),
            error_x=_whisker(xi, r[x]), error_y=_whisker(yi, r["quality"]),
            customdata=[[r["memory_mb"], "efficient" if efficient.get(m) else "dominated"]],
            hovertemplate=(f"{m}<br>{x_label} %{{x:,.4g}}<br>quality %{{y:.2f}} / 10<br>memory %{{customdata[0]:,.0f}} MB"
                           "<br>%{customdata[1]}<extra></extra>"),
        ))
    fig.update_layout(title=f"Quality against {x_label} (marker size: memory; dashed: Pareto frontier)",
                      xaxis_title=x_label, yaxis_title="Mean quality (0-10)", height=460, legend_title_text="Model", **LAYOUT)
    return fig


def _whisker(iv: Interval | None, centre: float) -> dict | None:
    if iv is None or not iv.is_defined:
        return None
    return dict(type="data", array=[max(0.0, iv.high - centre)], arrayminus=[max(0.0, centre - iv.low)], thickness=1.5, width=5)


def drift_chart(points: pd.DataFrame, drifts: Mapping[str, object], colors: Mapping[str, str]) -> go.Figure:
    """Latency against sample order with each model's Theil-Sen trend line (flagged models dashed red)."""
    fig = go.Figure()
    for model, g in points.groupby("model", sort=False):
        m = str(model)
        binned = int(g["block_size"].max()) > 1
        fig.add_trace(go.Scattergl(
            x=g["seq"], y=g["latency_ms"], mode="markers", name=m, marker=dict(size=4, color=colors.get(m), opacity=0.6),
            hovertemplate=f"{m}<br>sample %{{x:,.0f}}<br>{'block median ' if binned else ''}latency %{{y:,.1f}} ms<extra></extra>",
        ))
        d = drifts.get(m)
        slope = getattr(getattr(d, "slope", None), "estimate", None)
        if d is not None and slope is not None and getattr(d, "median", None) is not None and len(g):
            xs = np.array([g["seq"].min(), g["seq"].max()], dtype=float)
            xm = float(np.median(g["seq"]))
            fig.add_trace(go.Scatter(
                x=xs, y=d.median + slope * (xs - xm), mode="lines", name=f"{m} trend", showlegend=False,
                line=dict(color="#d62728" if d.flagged else colors.get(m), width=2, dash="dash" if d.flagged else "solid"),
                hovertemplate=f"{m} trend: {slope:+.3g} ms per sample<extra></extra>",
            ))
    fig.update_layout(title="Sustained performance: latency against sample order (Theil-Sen trend lines)",
                      xaxis_title="Sample number within the model's run", yaxis_title="Latency (ms)", height=420,
                      legend_title_text="Model", **LAYOUT)
    return fig


def cost_per_1k(local: Sequence, cloud: Sequence, colors: Mapping[str, str]) -> go.Figure:
    """Cost of 1,000 requests: each local model, and the same token counts on each cloud model."""
    fig = go.Figure()
    models = [lc.model for lc in local]
    ivs = [lc.cost_per_request for lc in local]
    est, plus, minus = _err(ivs)
    k = 1000
    fig.add_trace(go.Bar(
        x=models, y=[e * k if e is not None else None for e in est], name="local (this machine)",
        marker_color=[colors.get(m) for m in models],
        error_y=dict(type="data", array=[p * k if p is not None else None for p in plus],
                     arrayminus=[mi * k if mi is not None else None for mi in minus]),
        hovertemplate="%{x} on this machine<br>$%{y:,.4f} per 1,000 requests<extra></extra>",
    ))
    for cm in dict.fromkeys(c.cloud_model for c in cloud):
        rows = [c for c in cloud if c.cloud_model == cm]
        e2, p2, m2 = _err([c.cost_per_request for c in rows])
        fig.add_trace(go.Bar(
            x=[c.model for c in rows], y=[e * k if e is not None else None for e in e2], name=f"cloud: {cm}",
            marker=dict(color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5), pattern=dict(shape="/")),
            error_y=dict(type="data", array=[p * k if p is not None else None for p in p2],
                         arrayminus=[v * k if v is not None else None for v in m2]),
            hovertemplate=f"%{{x}}'s token counts on {cm}<br>$%{{y:,.4f}} per 1,000 requests<extra></extra>",
        ))
    fig.update_layout(title="Cost per 1,000 requests: local vs cloud (same token counts)", xaxis_title="Local model",
                      yaxis_title="USD per 1,000 requests", barmode="group", height=420, legend_title_text="Where", **LAYOUT)
    return fig


def break_even(model: str, hardware_per_month: float, energy_per_request: float, capacity_per_month: float | None,
               cloud_per_request: Mapping[str, float], volume: int, color: str | None) -> go.Figure:
    """Monthly cost against monthly volume: local (hardware + energy, more machines as needed) vs cloud."""
    top = max(volume * 10, 10_000)
    vols = np.unique(np.round(np.logspace(2, math.log10(top), 200)).astype(int))
    cap = capacity_per_month if capacity_per_month and capacity_per_month > 0 else math.inf
    machines = np.maximum(1, np.ceil(vols / cap))
    local = machines * hardware_per_month + vols * energy_per_request
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=vols, y=local, mode="lines", name=f"{model} (local)", line=dict(color=color, width=3),
                             hovertemplate="%{x:,} requests/month<br>local $%{y:,.2f}/month<extra></extra>"))
    for k, (cm, per) in enumerate(cloud_per_request.items()):
        style = dict(color=CLOUD_GREYS[k % len(CLOUD_GREYS)], dash=CLOUD_DASHES[k % len(CLOUD_DASHES)])
        fig.add_trace(go.Scatter(x=vols, y=vols * per, mode="lines", name=f"cloud: {cm}", line=style,
                                 hovertemplate=f"%{{x:,}} requests/month<br>{cm} $%{{y:,.2f}}/month<extra></extra>"))
    fig.add_vline(x=volume, line=dict(color="#888", dash="dash"), annotation_text="your volume", annotation_position="top left")
    fig.update_layout(title=f"Break-even: monthly cost of {model} locally vs in the cloud",
                      xaxis=dict(title="Requests per month", type="log"), yaxis=dict(title="USD per month", type="log"),
                      height=420, legend_title_text="Option", **LAYOUT)
    return fig
