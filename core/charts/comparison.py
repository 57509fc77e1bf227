"""Comparing models: the pairwise-test heatmap, quality against latency or cost (Pareto; the
dashboard's `pareto` and the report's `ScatterChart` spec), and latency drift over a run."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import core.charts.static as static
from core.compare import RATIO_STATISTIC, factor_text
from core.stats import Interval, metric_info
from core.textfmt import fmt_p, mb

from .layout import MONEY_AXIS, axis_title, esc, hover_text, style, whisker

QUALITY_AXIS = metric_info("quality").summary_heading  # "Mean quality (0-10)"


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
        label = "n/a" if p is None else ("p < 0.001" if p < 0.001 else f"p = {fmt_p(p)}")
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
    return style(fig, f"Pairwise tests on {metric_label}: adjusted p-value and effect (row vs column)",
                 "Model (column)", "Model (row)", height=120 + 70 * n, yaxis=dict(autorange="reversed"))


def _val(x: object) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)  # type: ignore[arg-type]


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
            error_x=whisker(xi, r[x]), error_y=whisker(yi, r["quality"]),
            customdata=[[_mb_text(r["memory_needed_mb"]), "efficient" if efficient.get(m) else "dominated"]],
            hovertemplate=(f"{hover_text(m)}<br>{x_label} %{{x:,.4g}}<br>quality %{{y:.2f}} / 10"
                           "<br>memory needed (footprint + largest peak added per generation) %{customdata[0]}"
                           "<br>%{customdata[1]}<extra></extra>"),
        ))
    style(fig, f"Quality against {x_label[:1].lower() + x_label[1:]} (marker size: memory needed; dashed: Pareto frontier)", x_label, QUALITY_AXIS,
          height=460, legend_title="Model")
    if x == "cost":
        fig.update_xaxes(**MONEY_AXIS)
    return fig


def _mb_text(v: object) -> str:
    """A memory figure for the hover text; 'not recorded' (old runs, HTTP endpoints), never 0."""
    return "not recorded" if v is None or pd.isna(v) else mb(float(v))


@dataclass(frozen=True)
class Point:
    name: str
    x: float
    y: float
    x_interval: Interval | None = None
    y_interval: Interval | None = None
    color: str | None = None
    highlight: bool = False  # drawn with a black outline (e.g. Pareto-efficient)


@dataclass(frozen=True)
class ScatterChart:
    key: str
    title: str
    x_label: str
    y_label: str
    points: tuple[Point, ...]
    frontier: tuple[tuple[float, float], ...] = field(default=())
    caption: str = ""

    def figure(self) -> go.Figure:
        fig = go.Figure()
        if len(self.frontier) > 1:
            fig.add_trace(go.Scatter(x=[p[0] for p in self.frontier], y=[p[1] for p in self.frontier], mode="lines",
                                     name="Pareto frontier", line=dict(color="#555", dash="dash"), hoverinfo="skip"))
        for p in self.points:
            fig.add_trace(go.Scatter(
                x=[p.x], y=[p.y], mode="markers+text", name=esc(p.name), text=[esc(p.name)], textposition="top center",
                marker=dict(size=14, color=p.color, line=dict(width=2, color="black" if p.highlight else "white")),
                error_x=whisker(p.x_interval, p.x), error_y=whisker(p.y_interval, p.y),
                hovertemplate=f"{hover_text(p.name)}<br>%{{x:,.4g}}, %{{y:,.3g}}<extra></extra>"))
        return style(fig, esc(self.title), esc(self.x_label), esc(self.y_label), height=440, legend_title="Model")

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        if len(self.frontier) > 1:
            ax.plot([p[0] for p in self.frontier], [p[1] for p in self.frontier], "--", color="#555", linewidth=1,
                    label="Pareto frontier")
        for p in self.points:
            xe, ye = static.interval_err(p.x_interval, p.x), static.interval_err(p.y_interval, p.y)
            ax.errorbar([p.x], [p.y], xerr=xe, yerr=ye, fmt="o", color=p.color or "#1f77b4", markersize=7,
                        markeredgecolor="black" if p.highlight else "white", markeredgewidth=1.5, capsize=2, linewidth=1)
            ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
        if len(self.frontier) > 1:
            ax.legend(fontsize=7, frameon=False)
        static.style_axes(ax, self.title, self.x_label, self.y_label)
        static.text_off(fig)
        return static.save(fig)


def latency_pareto_chart(points: Sequence[Point], frontier: Sequence[tuple[float, float]], caption: str = "") -> ScatterChart:
    """The report's Pareto chart: quality against median latency, outlined points Pareto-efficient."""
    return ScatterChart("pareto", "Quality against median latency (outlined: Pareto-efficient)", axis_title("latency_ms", "median"),
                        QUALITY_AXIS, tuple(points), tuple(frontier), caption)


def drift_chart(points: pd.DataFrame, drifts: Mapping[str, object], colors: Mapping[str, str]) -> go.Figure:
    """Latency against sample order with each model's Theil-Sen trend line (flagged models dashed red)."""
    fig = go.Figure()
    for model, g in points.groupby("model", sort=False):
        m = str(model)
        binned = int(g["block_size"].max()) > 1
        fig.add_trace(go.Scattergl(
            x=g["seq"], y=g["latency_ms"], mode="markers", name=esc(m), marker=dict(size=4, color=colors.get(m), opacity=0.6),
            hovertemplate=f"{hover_text(m)}<br>sample %{{x:,.0f}}<br>{'block median ' if binned else ''}latency %{{y:,.1f}} ms<extra></extra>",
        ))
        d = drifts.get(m)
        slope = getattr(getattr(d, "slope", None), "estimate", None)
        if d is not None and slope is not None and getattr(d, "median", None) is not None and len(g):
            xs = np.array([g["seq"].min(), g["seq"].max()], dtype=float)
            xm = float(np.median(g["seq"]))
            fig.add_trace(go.Scatter(
                x=xs, y=d.median + slope * (xs - xm), mode="lines", name=esc(f"{m} trend"), showlegend=False,
                line=dict(color="#d62728" if d.flagged else colors.get(m), width=2, dash="dash" if d.flagged else "solid"),
                hovertemplate=f"{hover_text(m)} trend: {slope:+.3g} ms per sample<extra></extra>",
            ))
    return style(fig, "Sustained performance: latency against sample order (Theil-Sen trend lines)",
                 "Sample number within the model's run", axis_title("latency_ms"), height=420, legend_title="Model")
