"""Chart specifications with two renderers: plotly (interactive) and matplotlib (static PNG).

A chart is a frozen dataclass holding only what it draws (numbers, names, colours), so the
HTML report, the dashboard and the PDF/Markdown reports draw the same thing:

    chart.figure()   -> plotly.graph_objects.Figure   (HTML report, dashboard)
    chart.png()      -> PNG bytes                     (PDF and Markdown reports; no browser)

Pure Python, no streamlit. Sizes are bounded by construction: box plots are drawn from
precomputed quartiles and fences (`BoxSeries`), never from raw samples, so a chart of a
million samples costs the same as one of ten. matplotlib is imported only by `png()`, and
user text (model names) is drawn with math text off, so a `$` in a name is just a `$`.
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.palette import CLOUD_DASHES, CLOUD_GREYS, model_colors  # noqa: F401 - model_colors: the dashboard's, for callers
from core.stats import Interval

LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), hovermode="closest", template="plotly_white")
PNG_SIZE = (7.5, 3.8)  # inches; at PNG_DPI this fits a portrait A4 page width
PNG_DPI = 130
_MPL_DASH = {"solid": "-", "dot": ":", "dash": "--", "dashdot": "-.", "longdash": (0, (8, 3)), "longdashdot": (0, (8, 3, 2, 3))}

def _defined(iv: Interval | None) -> bool:
    return iv is not None and iv.is_defined


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# =========================================================================== matplotlib plumbing


def _new_axes(size: tuple[float, float] = PNG_SIZE) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    fig = Figure(figsize=size, dpi=PNG_DPI, layout="constrained")
    return fig, fig.add_subplot()


def _save(fig: Any) -> bytes:
    import matplotlib as mpl

    buf = io.BytesIO()
    with mpl.rc_context({"text.parse_math": False}):
        fig.savefig(buf, format="png", dpi=PNG_DPI)
    return buf.getvalue()


def _style(ax: Any, title: str, x_label: str, y_label: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(x_label, fontsize=8)
    ax.set_ylabel(y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _labels(ax: Any, names: Sequence[str]) -> None:
    ax.set_xticks(range(len(names)), list(names), rotation=30 if len(names) > 4 else 0,
                  ha="right" if len(names) > 4 else "center")


def _text_off(fig: Any) -> None:
    """Math text off for every label already set (rc_context at save time covers the rest)."""
    for t in fig.findobj(lambda a: hasattr(a, "set_parse_math")):
        t.set_parse_math(False)


# =========================================================================== box plots


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
                x=[s.name], q1=[s.q1], median=[s.median], q3=[s.q3], lowerfence=[s.low], upperfence=[s.high],
                mean=[s.mean] if s.mean is not None else None, name=s.name, marker_color=s.color, boxpoints=False,
                hovertemplate=f"{_hover(s.name)}<br>n = {s.n:,}<br>%{{y}}<extra></extra>",
            ))
        ivs = [s for s in self.series if _defined(s.interval)]
        if ivs:
            conf = ivs[0].interval.confidence  # type: ignore[union-attr]
            fig.add_trace(go.Scatter(
                x=[s.name for s in ivs], y=[s.interval.estimate for s in ivs], mode="markers",  # type: ignore[union-attr]
                name=f"{self.stat} with {conf:.0%} CI", marker=dict(color="black", symbol="diamond", size=8),
                error_y=dict(type="data", array=[s.interval.high - s.interval.estimate for s in ivs],  # type: ignore[union-attr,operator]
                             arrayminus=[s.interval.estimate - s.interval.low for s in ivs], thickness=2, width=8),  # type: ignore[union-attr,operator]
                hovertemplate="%{x}<br>" + self.stat + " %{y:,.4g}<extra></extra>",
            ))
        fig.update_layout(title=self.title, xaxis_title="Model", yaxis_title=self.y_label, height=420, showlegend=bool(ivs),
                          legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"), **LAYOUT)
        if self.log_y:
            fig.update_yaxes(type="log")
        return fig

    def png(self) -> bytes:
        fig, ax = _new_axes()
        stats = [{"label": s.name, "med": s.median, "q1": s.q1, "q3": s.q3, "whislo": s.low, "whishi": s.high,
                  "fliers": [], **({"mean": s.mean} if s.mean is not None else {})} for s in self.series]
        if stats:
            art = ax.bxp(stats, positions=range(len(stats)), showfliers=False, patch_artist=True, widths=0.55,
                         medianprops=dict(color="#222"))
            for patch, s in zip(art["boxes"], self.series, strict=True):
                patch.set_facecolor(s.color or "#1f77b4")
                patch.set_alpha(0.45)
        ivs = [(i, s.interval) for i, s in enumerate(self.series) if _defined(s.interval)]
        if ivs:
            x = [i for i, _ in ivs]
            est = np.array([iv.estimate for _, iv in ivs], dtype=float)  # type: ignore[union-attr]
            err = [est - [iv.low for _, iv in ivs], np.array([iv.high for _, iv in ivs], dtype=float) - est]  # type: ignore[union-attr]
            ax.errorbar(x, est, yerr=err, fmt="D", color="black", markersize=4, capsize=3, linewidth=1.2,
                        label=f"{self.stat} with {ivs[0][1].confidence:.0%} CI")  # type: ignore[union-attr]
            ax.legend(fontsize=7, loc="upper right", frameon=False)
        _labels(ax, [s.name for s in self.series])
        if self.log_y:
            ax.set_yscale("log")
        _style(ax, self.title, "Model", self.y_label)
        _text_off(fig)
        return _save(fig)


def _hover(text: str) -> str:
    """Plotly hover templates interpret %{...}: a literal % in user text must be doubled."""
    return text.replace("%", "%%")


# =========================================================================== grouped bars


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: tuple[float | None, ...]
    lows: tuple[float | None, ...] = ()
    highs: tuple[float | None, ...] = ()
    colors: tuple[str | None, ...] = ()  # one per bar; empty: outlined, hatched (cloud)


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

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for s in self.series:
            plus, minus = _errors(s)
            marker = dict(color=list(s.colors)) if s.colors else dict(
                color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5), pattern=dict(shape="/"))
            fig.add_trace(go.Bar(x=list(self.categories), y=list(s.values), name=s.name, marker=marker,
                                 error_y=dict(type="data", array=plus, arrayminus=minus) if s.lows else None,
                                 hovertemplate=f"%{{x}}: {_hover(s.name)}<br>%{{y:,.4g}}<extra></extra>"))
        fig.update_layout(title=self.title, xaxis_title=self.x_label, yaxis_title=self.y_label, barmode="group", height=420,
                          legend_title_text="Where", **LAYOUT)
        if self.log_y:
            fig.update_yaxes(type="log")
        return fig

    def png(self) -> bytes:
        fig, ax = _new_axes()
        n, k = len(self.categories), max(len(self.series), 1)
        width = 0.8 / k
        for j, s in enumerate(self.series):
            x = np.arange(n) - 0.4 + width * (j + 0.5)
            y = np.array([v if _finite(v) else np.nan for v in s.values], dtype=float)
            plus, minus = _errors(s)
            yerr = np.array([[m if m is not None else 0 for m in minus], [p if p is not None else 0 for p in plus]], dtype=float) if s.lows else None
            if s.colors:
                ax.bar(x, y, width, color=[c or "#1f77b4" for c in s.colors], label=s.name, yerr=yerr, capsize=2)
            else:
                ax.bar(x, y, width, facecolor="none", edgecolor=CLOUD_GREYS[j % len(CLOUD_GREYS)], hatch="///",
                       label=s.name, yerr=yerr, capsize=2)
        _labels(ax, self.categories)
        if self.log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=7, frameon=False, ncols=min(k, 4), loc="upper left")
        _style(ax, self.title, self.x_label, self.y_label)
        _text_off(fig)
        return _save(fig)


def _errors(s: BarSeries) -> tuple[list[float | None], list[float | None]]:
    if not s.lows:
        return [], []
    plus = [h - v if _finite(h) and _finite(v) else None for v, h in zip(s.values, s.highs, strict=True)]
    minus = [v - lo if _finite(lo) and _finite(v) else None for v, lo in zip(s.values, s.lows, strict=True)]
    return plus, minus


# =========================================================================== lines (break-even)


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

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for ln in self.lines:
            fig.add_trace(go.Scatter(x=list(ln.x), y=list(ln.y), mode="lines", name=ln.name,
                                     line=dict(color=ln.color, dash=ln.dash, width=ln.width),
                                     hovertemplate=f"{_hover(ln.name)}<br>%{{x:,.0f}}: %{{y:,.4g}}<extra></extra>"))
        if self.marker_x is not None:
            fig.add_vline(x=self.marker_x, line=dict(color="#888", dash="dash"), annotation_text=self.marker_label,
                          annotation_position="top left")
        fig.update_layout(title=self.title, xaxis=dict(title=self.x_label, type="log" if self.log_x else "linear"),
                          yaxis=dict(title=self.y_label, type="log" if self.log_y else "linear"), height=420,
                          legend_title_text="Option", **LAYOUT)
        return fig

    def png(self) -> bytes:
        fig, ax = _new_axes()
        for ln in self.lines:
            ax.plot(ln.x, ln.y, label=ln.name, color=ln.color, linestyle=_MPL_DASH.get(ln.dash, "-"), linewidth=ln.width * 0.7)
        if self.marker_x is not None:
            ax.axvline(self.marker_x, color="#888", linestyle="--", linewidth=1)
            ax.annotate(self.marker_label, (self.marker_x, 1), xycoords=("data", "axes fraction"), fontsize=7,
                        ha="right", va="top", color="#555")
        if self.log_x:
            ax.set_xscale("log")
        if self.log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=7, frameon=False)
        _style(ax, self.title, self.x_label, self.y_label)
        _text_off(fig)
        return _save(fig)


def break_even_chart(model: str, hardware_per_month: float, energy_per_request: float, capacity_per_month: float | None,
                     cloud_per_request: dict[str, float], volume: int, color: str | None) -> LineChart:
    """Monthly cost against monthly volume: local (hardware + energy, more machines as needed) vs cloud."""
    top = max(volume * 10, 10_000)
    vols = np.unique(np.round(np.logspace(2, math.log10(top), 120)).astype(int)).astype(float)
    cap = capacity_per_month if capacity_per_month and capacity_per_month > 0 else math.inf
    local = np.maximum(1, np.ceil(vols / cap)) * hardware_per_month + vols * energy_per_request
    lines = [Line(f"{model} (local)", tuple(vols), tuple(local), color, "solid", 3.0)]
    for k, (cm, per) in enumerate(cloud_per_request.items()):
        lines.append(Line(f"cloud: {cm}", tuple(vols), tuple(vols * per), CLOUD_GREYS[k % len(CLOUD_GREYS)],
                          CLOUD_DASHES[k % len(CLOUD_DASHES)]))
    return LineChart("break_even", f"Break-even: monthly cost of {model} locally vs in the cloud", "Requests per month",
                     "USD per month", tuple(lines), float(volume), "your volume", log_x=True, log_y=True)


# =========================================================================== scatter (Pareto)


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
                x=[p.x], y=[p.y], mode="markers+text", name=p.name, text=[p.name], textposition="top center",
                marker=dict(size=14, color=p.color, line=dict(width=2, color="black" if p.highlight else "white")),
                error_x=_whisker(p.x_interval, p.x), error_y=_whisker(p.y_interval, p.y),
                hovertemplate=f"{_hover(p.name)}<br>%{{x:,.4g}}, %{{y:,.3g}}<extra></extra>"))
        fig.update_layout(title=self.title, xaxis_title=self.x_label, yaxis_title=self.y_label, height=440,
                          legend_title_text="Model", **LAYOUT)
        return fig

    def png(self) -> bytes:
        fig, ax = _new_axes()
        if len(self.frontier) > 1:
            ax.plot([p[0] for p in self.frontier], [p[1] for p in self.frontier], "--", color="#555", linewidth=1,
                    label="Pareto frontier")
        for p in self.points:
            xe, ye = _mpl_err(p.x_interval, p.x), _mpl_err(p.y_interval, p.y)
            ax.errorbar([p.x], [p.y], xerr=xe, yerr=ye, fmt="o", color=p.color or "#1f77b4", markersize=7,
                        markeredgecolor="black" if p.highlight else "white", markeredgewidth=1.5, capsize=2, linewidth=1)
            ax.annotate(p.name, (p.x, p.y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
        if len(self.frontier) > 1:
            ax.legend(fontsize=7, frameon=False)
        _style(ax, self.title, self.x_label, self.y_label)
        _text_off(fig)
        return _save(fig)


def _whisker(iv: Interval | None, centre: float) -> dict | None:
    if not _defined(iv):
        return None
    return dict(type="data", array=[max(0.0, iv.high - centre)], arrayminus=[max(0.0, centre - iv.low)],  # type: ignore[union-attr,operator]
                thickness=1.5, width=5)


def _mpl_err(iv: Interval | None, centre: float) -> list[list[float]] | None:
    if not _defined(iv):
        return None
    return [[max(0.0, centre - iv.low)], [max(0.0, iv.high - centre)]]  # type: ignore[union-attr,operator]


Chart = BoxChart | BarChart | LineChart | ScatterChart
