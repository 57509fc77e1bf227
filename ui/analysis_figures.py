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

from core.compare import RATIO_STATISTIC, factor_text
from core.charts import MONEY_AXIS, ZERO_RANGE, all_zero, esc
from core.charts import hover_text as _hover
from core.stats import Interval, metric_info

LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), hovermode="closest")
POINTS_LIMIT = 3_000  # above this many values in a box/violin, only outliers are drawn as points


def _err(ivs: Sequence[Interval | None]) -> tuple[list, list, list]:
    est = [iv.estimate if iv and iv.is_defined else None for iv in ivs]
    plus = [iv.high - iv.estimate if iv and iv.is_defined else None for iv in ivs]
    minus = [iv.estimate - iv.low if iv and iv.is_defined else None for iv in ivs]
    return est, plus, minus


def distribution(df: pd.DataFrame, kind: str, label: str, colors: Mapping[str, str], *,
                 intervals: Mapping[str, Interval | None] | None = None, stat: str = "median", money: bool = False,
                 log: bool = False) -> go.Figure:
    """df: series, model, value. kind: box | violin | ecdf | histogram. intervals: series -> CI of `stat`.
    money: the values are dollars (tick labels '$0.0005', never '500µ'). log: a log value axis (box,
    violin, ECDF), so a fast model is not flattened against a slow one.
    Never drawn: a violin below the smallest value (e.g. below 0 ms), an ECDF marker above 100%, a
    value axis from -1 to 1 when every value is 0. Series names are user text: escaped (esc)."""
    fig = go.Figure()
    series = list(dict.fromkeys(df["series"]))
    points = "all" if len(df) <= POINTS_LIMIT else "outliers"
    for s in series:
        g = df[df["series"] == s]
        color = colors.get(str(g["model"].iloc[0]))
        v = g["value"].to_numpy(float)
        name, hover = esc(s), f"{_hover(s)}<br>%{{y:,.3g}}<extra></extra>"
        if kind == "box":
            fig.add_trace(go.Box(y=v, name=name, marker_color=color, boxpoints=points, jitter=0.3, pointpos=0,
                                 marker=dict(size=3, opacity=0.5), hovertemplate=hover))
        elif kind == "violin":  # spanmode hard: the density stops at the smallest and largest values
            fig.add_trace(go.Violin(y=v, name=name, line_color=color, points=points, jitter=0.3, pointpos=0, spanmode="hard",
                                    box_visible=True, meanline_visible=False, marker=dict(size=3, opacity=0.5),
                                    hovertemplate=hover))
        elif kind == "ecdf":
            x, y = _ecdf(v)
            fig.add_trace(go.Scattergl(x=x, y=y, mode="lines", name=name, line=dict(color=color, shape="hv"),
                                       hovertemplate=f"{_hover(s)}<br>%{{x:,.3g}}: %{{y:.1%}} of samples at or below<extra></extra>"))
        else:
            fig.add_trace(go.Histogram(x=v, name=name, marker_color=color, opacity=0.6, nbinsx=60,
                                       hovertemplate=f"{_hover(s)}<br>%{{x}}: %{{y}} samples<extra></extra>"))
    if intervals:
        _interval_markers(fig, df, kind, series, intervals, stat, colors)
    titles = {"box": "Distribution", "violin": "Distribution", "ecdf": "Cumulative distribution", "histogram": "Histogram"}
    fig.update_layout(title=f"{titles[kind]} of {label} per model", height=460, barmode="overlay",
                      legend_title_text="Model", **LAYOUT)
    value_axis = fig.update_xaxes if kind in ("ecdf", "histogram") else fig.update_yaxes
    if money:
        value_axis(**MONEY_AXIS)
    if log and kind != "histogram":
        value_axis(type="log")
    elif all_zero(df["value"]):
        value_axis(range=ZERO_RANGE)
    if kind in ("box", "violin"):
        fig.update_layout(xaxis_title="Model", yaxis_title=label, showlegend=False)
    elif kind == "ecdf":
        fig.update_layout(xaxis_title=label, yaxis_title="Share of samples at or below")
        fig.update_yaxes(range=[0, 1.0], tickformat=".0%")
    else:
        fig.update_layout(xaxis_title=label, yaxis_title="Samples")
    return fig


def _ecdf(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(v[np.isfinite(v)])
    return x, np.arange(1, x.size + 1) / max(x.size, 1)


def _interval_markers(fig: go.Figure, df: pd.DataFrame, kind: str, series: Sequence[str],
                      intervals: Mapping[str, Interval | None], stat: str, colors: Mapping[str, str]) -> None:
    """The statistic with its CI per series: a diamond with whiskers on the box/violin; on the ECDF
    the diamond sits on the series' own curve (its share at or below the estimate, inside 0-100%);
    on the histogram, in a strip of its own."""
    est, plus, minus = _err([intervals.get(s) for s in series])
    conf = next((iv.confidence for iv in intervals.values() if iv), 0.95)
    name = f"{stat} with {conf:.0%} CI"
    if kind in ("box", "violin"):
        fig.add_trace(go.Scatter(x=[esc(s) for s in series], y=est, mode="markers", name=name,
                                 marker=dict(color="black", symbol="diamond", size=9),
                                 error_y=dict(type="data", array=plus, arrayminus=minus, thickness=2, width=8),
                                 hovertemplate="%{x}<br>" + stat + " %{y:,.3g}<extra></extra>"))
        return
    values = {s: df[df["series"] == s]["value"].to_numpy(float) for s in series}
    if kind == "ecdf":
        ys = [None if e is None else float(np.mean(values[s][np.isfinite(values[s])] <= e)) for s, e in zip(series, est, strict=True)]
    else:
        ys = [0] * len(series)
    fig.add_trace(go.Scatter(x=est, y=ys, yaxis="y" if kind == "ecdf" else "y2", mode="markers", name=name,
                             text=[esc(s) for s in series], cliponaxis=False,
                             marker=dict(color=[colors.get(str(df[df["series"] == s]["model"].iloc[0])) for s in series],
                                         symbol="diamond", size=9, line=dict(color="black", width=1)),
                             error_x=dict(type="data", array=plus, arrayminus=minus, thickness=2, width=6),
                             hovertemplate="%{text}<br>" + stat + " %{x:,.3g}<extra></extra>"))
    if kind == "histogram":
        fig.update_layout(yaxis2=dict(overlaying="y", side="right", visible=False, range=[-1, 1]))


def category_bars(wide: pd.DataFrame, kpi: str, label: str, colors: Mapping[str, str]) -> go.Figure:
    """One bar per (category, model) of a KPI, with interval whiskers when present."""
    df = wide[wide["category"] != "(all)"]
    fig = go.Figure()
    for model, g in df.groupby("model", sort=False):
        y = g[kpi].astype(float)
        has = f"{kpi}_low" in g and g[f"{kpi}_low"].notna().any()
        err = dict(type="data", array=(g[f"{kpi}_high"] - y).tolist(), arrayminus=(y - g[f"{kpi}_low"]).tolist()) if has else None
        fig.add_trace(go.Bar(x=[esc(c) for c in g["category"]], y=y, name=esc(model), marker_color=colors.get(str(model)),
                             error_y=err, hovertemplate=f"{_hover(model)}<br>%{{x}}: %{{y:,.3g}}<extra></extra>"))
    fig.update_layout(title=f"{label} by category", xaxis_title="Category", yaxis_title=label, barmode="group",
                      height=400, legend_title_text="Model", **LAYOUT)
    if all_zero(df[kpi]):
        fig.update_yaxes(range=ZERO_RANGE)
    return fig


def pvalue_heatmap(frame: pd.DataFrame, models: Sequence[str], metric_label: str) -> go.Figure:
    """Adjusted p-values of every compared pair (one metric), annotated with the effect of the row
    against the column: the ratio of medians (row / column) or the difference of means (row - column).
    A mirrored cell comes from the unrounded effect (1 / ratio, -difference): exact reciprocals.
    customdata holds each cell's effect as a number."""
    idx = {m: i for i, m in enumerate(models)}
    n = len(models)
    z, effect = np.full((n, n), np.nan), np.full((n, n), np.nan)
    text = [["" for _ in models] for _ in models]
    for r in frame.itertuples():
        if r.model_a not in idx or r.model_b not in idx:
            continue
        p = _val(r.p_adjusted) if _val(r.p_adjusted) is not None else _val(r.p)
        label = "n/a" if p is None else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")
        for row, col, forward in ((r.model_a, r.model_b, True), (r.model_b, r.model_a, False)):
            i, j = idx[row], idx[col]
            eff, eff_text = _cell_effect(r, forward)
            delta = _val(r.cliffs_delta)
            d = "" if delta is None else f"<br>Cliff's δ {delta if forward else -delta:+.2f}"
            z[i, j] = np.nan if p is None else p
            effect[i, j] = np.nan if eff is None else eff
            text[i][j] = f"{label}<br>{eff_text}{d}"
    fig = go.Figure(go.Heatmap(
        z=z, x=[esc(m) for m in models], y=[esc(m) for m in models], text=text, texttemplate="%{text}", zmin=0, zmax=1, customdata=effect,
        colorscale=[[0, "#1a9850"], [0.05, "#a6d96a"], [0.0501, "#f7f7f7"], [1, "#d9d9d9"]],
        colorbar=dict(title="adjusted p"), hovertemplate="row %{y} vs column %{x}<br>%{text}<extra></extra>",
    ))
    fig.update_layout(title=f"Pairwise tests on {metric_label}: adjusted p-value and effect (row vs column)",
                      xaxis_title="Model (column)", yaxis_title="Model (row)", height=120 + 70 * n,
                      yaxis=dict(autorange="reversed"), **LAYOUT)
    return fig


def _val(x: object) -> float | None:
    return None if x is None or _nan(x) else float(x)  # type: ignore[arg-type]


def _cell_effect(r: object, forward: bool) -> tuple[float | None, str]:
    """The effect of a comparison row, a vs b (forward) or b vs a, from the unrounded estimate."""
    ratio, diff = _val(getattr(r, "ratio", None)), _val(getattr(r, "difference", None))
    if ratio is not None:
        f = ratio if forward else (1 / ratio if ratio else None)
        return f, f"{RATIO_STATISTIC} {factor_text(f)}"
    if diff is None:
        return None, ""
    info = metric_info(str(getattr(r, "metric", "")))
    d = diff if forward else -diff
    unit = f" {info.diff_unit or info.unit}".rstrip()
    return d, f"difference of means {d * info.scale:+.3g}{unit}"


def _nan(x: object) -> bool:
    return isinstance(x, float) and math.isnan(x)


def pareto(table: pd.DataFrame, efficient: Mapping[str, bool], x: str, x_label: str, colors: Mapping[str, str], *,
           x_ivs: Mapping[str, Interval | None], y_ivs: Mapping[str, Interval | None]) -> go.Figure:
    """Quality against latency or cost; whiskers are intervals; marker area ~ memory needed (model
    footprint + largest peak added per generation; a model without it gets the median size); the
    frontier joined."""
    df = table.dropna(subset=[x, "quality"])
    need = pd.to_numeric(df["memory_needed_mb"], errors="coerce")  # all missing (old runs): an object column of None
    mem = need.fillna(need.median() if need.notna().any() else 1.0)
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
            x=[r[x]], y=[r["quality"]], mode="markers+text", name=esc(m), text=[esc(m)], textposition="top center",
            marker=dict(size=float(s), color=colors.get(m), line=dict(width=2, color="black" if efficient.get(m) else "white")),
            error_x=_whisker(xi, r[x]), error_y=_whisker(yi, r["quality"]),
            customdata=[[_mb_text(r["memory_needed_mb"]), "efficient" if efficient.get(m) else "dominated"]],
            hovertemplate=(f"{_hover(m)}<br>{x_label} %{{x:,.4g}}<br>quality %{{y:.2f}} / 10"
                           "<br>memory needed (footprint + largest peak added per generation) %{customdata[0]}"
                           "<br>%{customdata[1]}<extra></extra>"),
        ))
    fig.update_layout(title=f"Quality against {x_label} (marker size: memory needed; dashed: Pareto frontier)",
                      xaxis_title=x_label, yaxis_title="Mean quality (0-10)", height=460, legend_title_text="Model", **LAYOUT)
    if x == "cost":
        fig.update_xaxes(**MONEY_AXIS)
    return fig


def _mb_text(v: object) -> str:
    """A memory figure for the hover text; 'not recorded' (old runs, HTTP endpoints), never 0."""
    return "not recorded" if v is None or pd.isna(v) else f"{float(v):,.1f} MB"


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
            x=g["seq"], y=g["latency_ms"], mode="markers", name=esc(m), marker=dict(size=4, color=colors.get(m), opacity=0.6),
            hovertemplate=f"{_hover(m)}<br>sample %{{x:,.0f}}<br>{'block median ' if binned else ''}latency %{{y:,.1f}} ms<extra></extra>",
        ))
        d = drifts.get(m)
        slope = getattr(getattr(d, "slope", None), "estimate", None)
        if d is not None and slope is not None and getattr(d, "median", None) is not None and len(g):
            xs = np.array([g["seq"].min(), g["seq"].max()], dtype=float)
            xm = float(np.median(g["seq"]))
            fig.add_trace(go.Scatter(
                x=xs, y=d.median + slope * (xs - xm), mode="lines", name=esc(f"{m} trend"), showlegend=False,
                line=dict(color="#d62728" if d.flagged else colors.get(m), width=2, dash="dash" if d.flagged else "solid"),
                hovertemplate=f"{_hover(m)} trend: {slope:+.3g} ms per sample<extra></extra>",
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
        x=[esc(m) for m in models], y=[e * k if e is not None else None for e in est], name="local (this machine)",
        marker_color=[colors.get(m) for m in models],
        error_y=dict(type="data", array=[p * k if p is not None else None for p in plus],
                     arrayminus=[mi * k if mi is not None else None for mi in minus]),
        hovertemplate="%{x} on this machine<br>$%{y:,.4f} per 1,000 requests<extra></extra>",
    ))
    for cm in dict.fromkeys(c.cloud_model for c in cloud):
        rows = [c for c in cloud if c.cloud_model == cm]
        e2, p2, m2 = _err([c.cost_per_request for c in rows])
        fig.add_trace(go.Bar(
            x=[esc(c.model) for c in rows], y=[e * k if e is not None else None for e in e2], name=esc(f"cloud: {cm}"),
            marker=dict(color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5), pattern=dict(shape="/")),
            error_y=dict(type="data", array=[p * k if p is not None else None for p in p2],
                         arrayminus=[v * k if v is not None else None for v in m2]),
            hovertemplate=f"%{{x}}'s token counts on {_hover(cm)}<br>$%{{y:,.4f}} per 1,000 requests<extra></extra>",
        ))
    fig.update_layout(title="Cost per 1,000 requests: local vs cloud (same token counts)", xaxis_title="Local model",
                      yaxis_title="USD per 1,000 requests", barmode="group", height=420, legend_title_text="Where", **LAYOUT)
    fig.update_yaxes(**MONEY_AXIS)
    return fig
