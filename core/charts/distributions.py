"""Distributions per model: the report's box plot drawn from precomputed quartiles (`BoxChart`,
plotly and PNG), the dashboard's box / violin / ECDF / histogram of sampled values
(`distribution`), and a KPI per category (`category_bars`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import core.charts.static as static
from core.stats import Interval
from core.textfmt import pct

from .layout import MONEY_AXIS, ZERO_RANGE, all_zero, defined, errors, esc, hover_text, style

POINTS_LIMIT = 3_000  # above this many values in a box/violin, only outliers are drawn as points


@dataclass(frozen=True)
class BoxSeries:
    """One model's distribution as five numbers (quartiles and Tukey fences) and its interval."""

    name: str
    n: int
    q1: float
    median: float
    q3: float
    low: float  # lowest value within 1.5 IQR of q1
    high: float  # highest value within 1.5 IQR of q3
    mean: float | None = None
    outliers: int = 0  # values beyond the fences (not drawn)
    interval: Interval | None = None  # CI of the chart's statistic (median or mean)
    color: str | None = None


@dataclass(frozen=True)
class BoxChart:
    """Box plots from quartiles and fences, never from raw samples: a chart of a million samples
    costs the same as one of ten."""

    key: str
    title: str
    y_label: str
    series: tuple[BoxSeries, ...]
    stat: str = "median"  # what the interval markers estimate
    log_y: bool = False
    caption: str = ""

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for s in self.series:
            fig.add_trace(go.Box(
                x=[esc(s.name)], q1=[s.q1], median=[s.median], q3=[s.q3], lowerfence=[s.low], upperfence=[s.high],
                mean=[s.mean] if s.mean is not None else None, name=esc(s.name), marker_color=s.color, boxpoints=False,
                hovertemplate=f"{hover_text(s.name)}<br>n = {s.n:,}<br>%{{y}}<extra></extra>",
            ))
        ivs = [s for s in self.series if defined(s.interval)]
        if ivs:
            fig.add_trace(go.Scatter(
                x=[esc(s.name) for s in ivs], y=[s.interval.estimate for s in ivs], mode="markers",  # type: ignore[union-attr]
                name=_ci_name(self.stat, ivs[0].interval.confidence), marker=dict(color="black", symbol="diamond", size=8),  # type: ignore[union-attr]
                error_y=dict(type="data", array=[s.interval.high - s.interval.estimate for s in ivs],  # type: ignore[union-attr,operator]
                             arrayminus=[s.interval.estimate - s.interval.low for s in ivs], thickness=2, width=8),  # type: ignore[union-attr,operator]
                hovertemplate="%{x}<br>" + self.stat + " %{y:,.4g}<extra></extra>",
            ))
        style(fig, esc(self.title), "Model", esc(self.y_label), height=420, showlegend=bool(ivs),
              legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
        if self.log_y:
            fig.update_yaxes(type="log")
        elif all_zero(self._values()):
            fig.update_yaxes(range=ZERO_RANGE)
        return fig

    def _values(self) -> list[float | None]:
        return [v for s in self.series for v in (s.q1, s.median, s.q3, s.low, s.high, s.mean)]

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        stats = [{"label": s.name, "med": s.median, "q1": s.q1, "q3": s.q3, "whislo": s.low, "whishi": s.high,
                  "fliers": [], **({"mean": s.mean} if s.mean is not None else {})} for s in self.series]
        if stats:
            art = ax.bxp(stats, positions=range(len(stats)), showfliers=False, patch_artist=True, widths=0.55,
                         medianprops=dict(color="#222"))
            for patch, s in zip(art["boxes"], self.series, strict=True):
                patch.set_facecolor(s.color or "#1f77b4")
                patch.set_alpha(0.45)
        ivs = [(i, s.interval) for i, s in enumerate(self.series) if defined(s.interval)]
        if ivs:
            x = [i for i, _ in ivs]
            est = np.array([iv.estimate for _, iv in ivs], dtype=float)  # type: ignore[union-attr]
            err = [est - [iv.low for _, iv in ivs], np.array([iv.high for _, iv in ivs], dtype=float) - est]  # type: ignore[union-attr]
            ax.errorbar(x, est, yerr=err, fmt="D", color="black", markersize=4, capsize=3, linewidth=1.2,
                        label=_ci_name(self.stat, ivs[0][1].confidence))  # type: ignore[union-attr]
            ax.legend(fontsize=7, loc="upper right", frameon=False)
        static.name_ticks(ax, [s.name for s in self.series])
        if self.log_y:
            ax.set_yscale("log")
        elif all_zero(self._values()):
            ax.set_ylim(*ZERO_RANGE)
        static.style_axes(ax, self.title, "Model", self.y_label)
        static.text_off(fig)
        return static.save(fig)


def _ci_name(stat: str, confidence: float) -> str:
    """'median with 95% CI': the legend entry of the interval markers."""
    return f"{stat} with {pct(confidence, 0)} CI"


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
    for s in series:
        g = df[df["series"] == s]
        fig.add_trace(_distribution_trace(kind, s, g["value"].to_numpy(float), colors.get(str(g["model"].iloc[0])),
                                          "all" if len(df) <= POINTS_LIMIT else "outliers"))
    if intervals:
        _interval_markers(fig, df, kind, series, intervals, stat, colors)
    titles = {"box": "Distribution", "violin": "Distribution", "ecdf": "Cumulative distribution", "histogram": "Histogram"}
    style(fig, f"{titles[kind]} of {label} per model", height=460, legend_title="Model", barmode="overlay")
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


def _distribution_trace(kind: str, s: str, v: np.ndarray, color: str | None, points: str) -> go.BaseTraceType:
    name, hover = esc(s), f"{hover_text(s)}<br>%{{y:,.3g}}<extra></extra>"
    if kind == "box":
        return go.Box(y=v, name=name, marker_color=color, boxpoints=points, jitter=0.3, pointpos=0,
                      marker=dict(size=3, opacity=0.5), hovertemplate=hover)
    if kind == "violin":  # spanmode hard: the density stops at the smallest and largest values
        return go.Violin(y=v, name=name, line_color=color, points=points, jitter=0.3, pointpos=0, spanmode="hard",
                         box_visible=True, meanline_visible=False, marker=dict(size=3, opacity=0.5), hovertemplate=hover)
    if kind == "ecdf":
        x, y = _ecdf(v)
        return go.Scattergl(x=x, y=y, mode="lines", name=name, line=dict(color=color, shape="hv"),
                            hovertemplate=f"{hover_text(s)}<br>%{{x:,.3g}}: %{{y:.1%}} of samples at or below<extra></extra>")
    return go.Histogram(x=v, name=name, marker_color=color, opacity=0.6, nbinsx=60,
                        hovertemplate=f"{hover_text(s)}<br>%{{x}}: %{{y}} samples<extra></extra>")


def _ecdf(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.sort(v[np.isfinite(v)])
    return x, np.arange(1, x.size + 1) / max(x.size, 1)


def _interval_markers(fig: go.Figure, df: pd.DataFrame, kind: str, series: Sequence[str],
                      intervals: Mapping[str, Interval | None], stat: str, colors: Mapping[str, str]) -> None:
    """The statistic with its CI per series: a diamond with whiskers on the box/violin; on the ECDF
    the diamond sits on the series' own curve (its share at or below the estimate, inside 0-100%);
    on the histogram, in a strip of its own."""
    est, plus, minus = errors([intervals.get(s) for s in series])
    name = _ci_name(stat, next((iv.confidence for iv in intervals.values() if iv), 0.95))
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
                             error_y=err, hovertemplate=f"{hover_text(model)}<br>%{{x}}: %{{y:,.3g}}<extra></extra>"))
    style(fig, f"{label} by category", "Category", label, height=400, legend_title="Model", barmode="group")
    if all_zero(df[kpi]):
        fig.update_yaxes(range=ZERO_RANGE)
    return fig
