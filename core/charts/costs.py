"""What running locally costs: bars of cost per 1,000 requests, local against the cloud
(`cost_per_1k_chart`), and the break-even lines of monthly cost against volume
(`break_even_chart`). Each is a spec with `figure()` (plotly: dashboard, HTML report) and `png()`
(matplotlib: PDF and Markdown reports), so the dashboard and the reports draw one chart."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

import core.charts.static as static
from core.palette import CLOUD_DASHES, CLOUD_GREYS
from core.stats import Interval

from .layout import MONEY_AXIS, ZERO_RANGE, all_zero, esc, finite, hover_text, style


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: tuple[float | None, ...]
    lows: tuple[float | None, ...] = ()
    highs: tuple[float | None, ...] = ()
    colors: tuple[str | None, ...] = ()  # one per bar; empty: outlined, hatched (cloud)
    hover: str = ""  # a plotly hover template; empty: category, series and value


@dataclass(frozen=True)
class BarChart:
    key: str
    title: str
    x_label: str
    y_label: str
    categories: tuple[str, ...]
    series: tuple[BarSeries, ...]
    log_y: bool = False
    caption: str = ""
    y_money: bool = False  # dollar tick labels

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for s in self.series:
            plus, minus = _bar_errors(s)
            marker = dict(color=list(s.colors)) if s.colors else dict(
                color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5), pattern=dict(shape="/"))
            fig.add_trace(go.Bar(x=[esc(c) for c in self.categories], y=list(s.values), name=esc(s.name), marker=marker,
                                 error_y=dict(type="data", array=plus, arrayminus=minus) if s.lows else None,
                                 hovertemplate=s.hover or f"%{{x}}: {hover_text(s.name)}<br>%{{y:,.4g}}<extra></extra>"))
        style(fig, esc(self.title), esc(self.x_label), esc(self.y_label), height=420, legend_title="Where", barmode="group")
        if self.log_y:
            fig.update_yaxes(type="log")
        elif all_zero([v for s in self.series for v in s.values]):
            fig.update_yaxes(range=ZERO_RANGE)
        if self.y_money:
            fig.update_yaxes(**MONEY_AXIS)
        return fig

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        n, k = len(self.categories), max(len(self.series), 1)
        width = 0.8 / k
        for j, s in enumerate(self.series):
            x = np.arange(n) - 0.4 + width * (j + 0.5)
            y = np.array([v if finite(v) else np.nan for v in s.values], dtype=float)
            plus, minus = _bar_errors(s)
            yerr = np.array([[m if m is not None else 0 for m in minus], [p if p is not None else 0 for p in plus]], dtype=float) if s.lows else None
            if s.colors:
                ax.bar(x, y, width, color=[c or "#1f77b4" for c in s.colors], label=s.name, yerr=yerr, capsize=2)
            else:
                ax.bar(x, y, width, facecolor="none", edgecolor=CLOUD_GREYS[j % len(CLOUD_GREYS)], hatch="///",
                       label=s.name, yerr=yerr, capsize=2)
        static.name_ticks(ax, self.categories)
        if self.log_y:
            ax.set_yscale("log")
        if self.y_money:
            static.money_axis(ax)
        ax.legend(fontsize=7, frameon=False, ncols=min(k, 4), loc="upper left")
        static.style_axes(ax, self.title, self.x_label, self.y_label)
        static.text_off(fig)
        return static.save(fig)


def _bar_errors(s: BarSeries) -> tuple[list[float | None], list[float | None]]:
    if not s.lows:
        return [], []
    plus = [h - v if finite(h) and finite(v) else None for v, h in zip(s.values, s.highs, strict=True)]
    minus = [v - lo if finite(lo) and finite(v) else None for v, lo in zip(s.values, s.lows, strict=True)]
    return plus, minus



@dataclass(frozen=True)
class Line:
    name: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str | None = None
    dash: str = "solid"
    width: float = 2.0


@dataclass(frozen=True)
class LineChart:
    key: str
    title: str
    x_label: str
    y_label: str
    lines: tuple[Line, ...]
    marker_x: float | None = None  # a vertical reference line (e.g. the user's volume)
    marker_label: str = ""
    log_x: bool = False
    log_y: bool = False
    caption: str = ""
    y_money: bool = False  # dollar tick labels

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for ln in self.lines:
            fig.add_trace(go.Scatter(x=list(ln.x), y=list(ln.y), mode="lines", name=esc(ln.name),
                                     line=dict(color=ln.color, dash=ln.dash, width=ln.width),
                                     hovertemplate=f"{hover_text(ln.name)}<br>%{{x:,.0f}}: %{{y:,.4g}}<extra></extra>"))
        if self.marker_x is not None:
            fig.add_vline(x=self.marker_x, line=dict(color="#888", dash="dash"), annotation_text=esc(self.marker_label),
                          annotation_position="top left")
        style(fig, esc(self.title), esc(self.x_label), esc(self.y_label), height=420, legend_title="Option")
        fig.update_xaxes(type="log" if self.log_x else "linear")
        fig.update_yaxes(type="log" if self.log_y else "linear")
        if self.y_money:
            fig.update_yaxes(**MONEY_AXIS)
        return fig

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        for ln in self.lines:
            ax.plot(ln.x, ln.y, label=ln.name, color=ln.color, linestyle=static.MPL_DASH.get(ln.dash, "-"), linewidth=ln.width * 0.7)
        if self.marker_x is not None:
            ax.axvline(self.marker_x, color="#888", linestyle="--", linewidth=1)
            ax.annotate(self.marker_label, (self.marker_x, 1), xycoords=("data", "axes fraction"), fontsize=7,
                        ha="right", va="top", color="#555")
        if self.log_x:
            ax.set_xscale("log")
        if self.log_y:
            ax.set_yscale("log")
        if self.y_money:
            static.money_axis(ax)
        ax.legend(fontsize=7, frameon=False)
        static.style_axes(ax, self.title, self.x_label, self.y_label)
        static.text_off(fig)
        return static.save(fig)


def break_even_chart(model: str, fixed_per_month: float, per_request: float, capacity_per_month: float | None,
                     cloud_per_request: Mapping[str, float], volume: int, color: str | None, cost_model: str = "dedicated") -> LineChart:
    """Monthly cost against monthly volume: local (fixed_per_month per machine, more machines as
    needed, + per_request x volume; core.analysis.costs.monthly_cost_terms) vs each cloud model. The
    volume axis reaches past every break-even and the user's volume."""
    cap = capacity_per_month if capacity_per_month and capacity_per_month > 0 else math.inf
    crossings = [fixed_per_month / (c - per_request) for c in cloud_per_request.values() if c > per_request and fixed_per_month > 0]
    top = max([volume * 10, 10_000] + [3 * b for b in crossings if b <= cap])
    vols = np.unique(np.round(np.logspace(2, math.log10(top), 160)).astype(int)).astype(float)
    local = np.maximum(1, np.ceil(vols / cap)) * fixed_per_month + vols * per_request
    lines = [Line(f"{model} (local)", tuple(vols), tuple(local), color, "solid", 3.0)]
    for k, (cm, per) in enumerate(cloud_per_request.items()):
        lines.append(Line(f"cloud: {cm}", tuple(vols), tuple(vols * per), CLOUD_GREYS[k % len(CLOUD_GREYS)],
                          CLOUD_DASHES[k % len(CLOUD_DASHES)]))
    what = "dedicated machine: the whole write-off each month" if cost_model == "dedicated" else "shared machine: no fixed cost"
    return LineChart("break_even", f"Break-even: monthly cost of {model} locally vs in the cloud", "Requests per month",
                     "USD per month", tuple(lines), float(volume), "your volume", log_x=True, log_y=True,
                     caption=f"Log scales. Local cost under the {what}. Break-even: where the local line crosses a cloud line.",
                     y_money=True)


PER = 1000  # requests per bar


def cost_per_1k_chart(local: Sequence[Any], cloud: Sequence[Any], colors: Mapping[str, str | None]) -> BarChart:
    """Cost of 1,000 requests: each local model (core.analysis LocalCost: model, cost_per_request),
    and the same token counts on each cloud model (CloudCost: model, cloud_model, cost_per_request).
    Log scale: a local model and a cloud one often differ a hundredfold."""
    models = tuple(str(x.model) for x in local)
    empty = Interval(None, None, None, "none")
    series = [BarSeries("local (this machine)", *_per_1k([x.cost_per_request for x in local]),
                        tuple(colors.get(m) for m in models),
                        hover="%{x} on this machine<br>$%{y:,.4f} per 1,000 requests<extra></extra>")]
    for cm in dict.fromkeys(c.cloud_model for c in cloud):
        by = {c.model: c.cost_per_request for c in cloud if c.cloud_model == cm}
        series.append(BarSeries(f"cloud: {cm}", *_per_1k([by.get(m, empty) for m in models]),
                                hover=f"%{{x}}'s token counts on {hover_text(cm)}<br>$%{{y:,.4f}} per 1,000 requests<extra></extra>"))
    return BarChart("cost_per_1k", "Cost per 1,000 requests: local vs cloud (same token counts)", "Local model",
                    "USD per 1,000 requests", models, tuple(series), log_y=True,
                    caption="Log scale. Whiskers: confidence intervals.", y_money=True)


def _per_1k(ivs: Sequence[Interval]) -> tuple[tuple, tuple, tuple]:
    """Estimates, lows and highs of per-request intervals, scaled to 1,000 requests."""
    f = [(None if v is None else v * PER) for iv in ivs for v in (iv.estimate, iv.low, iv.high)]
    return tuple(f[0::3]), tuple(f[1::3]), tuple(f[2::3])
