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

import html
import io
import math
from collections.abc import Mapping, Sequence
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


MONEY_AXIS = dict(tickprefix="$", exponentformat="none", separatethousands=True)  # plotly: "$0.0005", never "500µ"


def _money_tick(v: float, _pos: object = None) -> str:
    if v >= 1:
        return f"${v:,.0f}" if v >= 100 or v == int(v) else f"${v:,.2f}"
    return "$" + np.format_float_positional(v, precision=3, fractional=False, trim="-")


def _money_axis(ax: Any, which: str = "y") -> None:
    """matplotlib: dollar tick labels written out (no 1e-5, no math text), minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(_money_tick))
    axis.set_minor_formatter(NullFormatter())


def _count_tick(v: float, _pos: object = None) -> str:
    """A log-axis tick as plain text: 0.01, 100, 10k, 1M (never math text such as 10^{-2})."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{unit}"
    return f"{v:g}"


def _plain_log_ticks(ax: Any) -> None:
    """Plain tick labels on log axes that still have matplotlib's math-text formatter (a money axis
    keeps its own); minor ticks unlabelled, so labels never crowd or overlap."""
    from matplotlib.ticker import FuncFormatter, LogFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log" and isinstance(axis.get_major_formatter(), LogFormatter):
            axis.set_major_locator(LogLocator(base=10, numticks=8))
            axis.set_major_formatter(FuncFormatter(_count_tick))
            axis.set_minor_formatter(NullFormatter())


def _style(ax: Any, title: str, x_label: str, y_label: str) -> None:
    _plain_log_ticks(ax)
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
                x=[esc(s.name)], q1=[s.q1], median=[s.median], q3=[s.q3], lowerfence=[s.low], upperfence=[s.high],
                mean=[s.mean] if s.mean is not None else None, name=esc(s.name), marker_color=s.color, boxpoints=False,
                hovertemplate=f"{_hover(s.name)}<br>n = {s.n:,}<br>%{{y}}<extra></extra>",
            ))
        ivs = [s for s in self.series if _defined(s.interval)]
        if ivs:
            conf = ivs[0].interval.confidence  # type: ignore[union-attr]
            fig.add_trace(go.Scatter(
                x=[esc(s.name) for s in ivs], y=[s.interval.estimate for s in ivs], mode="markers",  # type: ignore[union-attr]
                name=f"{self.stat} with {conf:.0%} CI", marker=dict(color="black", symbol="diamond", size=8),
                error_y=dict(type="data", array=[s.interval.high - s.interval.estimate for s in ivs],  # type: ignore[union-attr,operator]
                             arrayminus=[s.interval.estimate - s.interval.low for s in ivs], thickness=2, width=8),  # type: ignore[union-attr,operator]
                hovertemplate="%{x}<br>" + self.stat + " %{y:,.4g}<extra></extra>",
            ))
        fig.update_layout(title=esc(self.title), xaxis_title="Model", yaxis_title=esc(self.y_label), height=420, showlegend=bool(ivs),
                          legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"), **LAYOUT)
        if self.log_y:
            fig.update_yaxes(type="log")
        elif all_zero(self._values()):
            fig.update_yaxes(range=ZERO_RANGE)
        return fig

    def _values(self) -> list[float | None]:
        return [v for s in self.series for v in (s.q1, s.median, s.q3, s.low, s.high, s.mean)]

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
        elif all_zero(self._values()):
            ax.set_ylim(*ZERO_RANGE)
        _style(ax, self.title, "Model", self.y_label)
        _text_off(fig)
        return _save(fig)


def hover_text(text: object) -> str:
    """User text for a plotly hover template: escaped (esc), braces as character references, so a
    '%{x}' in a name is shown, not filled in (plotly has no '%%' escape; it shows &#123; as '{')."""
    return esc(text).replace("{", "&#123;").replace("}", "&#125;")


_hover = hover_text


def all_zero(values: Any) -> bool:
    """True when every finite value is 0 (and there is one): plotly would draw that axis from -1
    to 1 and matplotlib around 0, so callers pin the axis to [0, 1] (ZERO_RANGE)."""
    v = np.asarray([x for x in np.ravel(np.asarray(values, dtype=object)) if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    return v.size > 0 and not v.any()


ZERO_RANGE = [0, 1]


def esc(text: object) -> str:
    """User text (model, category, prompt-set and run names) for anything plotly draws: tick labels,
    legends, titles, text labels, hovers. Plotly reads <b>, <br>, <a href=...> and entities in all
    of them, so <, > and & are escaped (plotly shows &lt; as <). Not for matplotlib: it draws text
    as it is."""
    return html.escape(str(text), quote=False)


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
    y_money: bool = False  # dollar tick labels

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for s in self.series:
            plus, minus = _errors(s)
            marker = dict(color=list(s.colors)) if s.colors else dict(
                color="rgba(0,0,0,0)", line=dict(color="#444", width=1.5), pattern=dict(shape="/"))
            fig.add_trace(go.Bar(x=[esc(c) for c in self.categories], y=list(s.values), name=esc(s.name), marker=marker,
                                 error_y=dict(type="data", array=plus, arrayminus=minus) if s.lows else None,
                                 hovertemplate=f"%{{x}}: {_hover(s.name)}<br>%{{y:,.4g}}<extra></extra>"))
        fig.update_layout(title=esc(self.title), xaxis_title=esc(self.x_label), yaxis_title=esc(self.y_label), barmode="group",
                          height=420, legend_title_text="Where", **LAYOUT)
        if self.log_y:
            fig.update_yaxes(type="log")
        elif all_zero([v for s in self.series for v in s.values]):
            fig.update_yaxes(range=ZERO_RANGE)
        if self.y_money:
            fig.update_yaxes(**MONEY_AXIS)
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
        if self.y_money:
            _money_axis(ax)
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
    y_money: bool = False  # dollar tick labels

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for ln in self.lines:
            fig.add_trace(go.Scatter(x=list(ln.x), y=list(ln.y), mode="lines", name=esc(ln.name),
                                     line=dict(color=ln.color, dash=ln.dash, width=ln.width),
                                     hovertemplate=f"{_hover(ln.name)}<br>%{{x:,.0f}}: %{{y:,.4g}}<extra></extra>"))
        if self.marker_x is not None:
            fig.add_vline(x=self.marker_x, line=dict(color="#888", dash="dash"), annotation_text=esc(self.marker_label),
                          annotation_position="top left")
        fig.update_layout(title=esc(self.title), xaxis=dict(title=esc(self.x_label), type="log" if self.log_x else "linear"),
                          yaxis=dict(title=esc(self.y_label), type="log" if self.log_y else "linear"), height=420,
                          legend_title_text="Option", **LAYOUT)
        if self.y_money:
            fig.update_yaxes(**MONEY_AXIS)
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
        if self.y_money:
            _money_axis(ax)
        ax.legend(fontsize=7, frameon=False)
        _style(ax, self.title, self.x_label, self.y_label)
        _text_off(fig)
        return _save(fig)


def break_even_chart(model: str, fixed_per_month: float, per_request: float, capacity_per_month: float | None,
                     cloud_per_request: Mapping[str, float], volume: int, color: str | None, cost_model: str = "dedicated") -> LineChart:
    """Monthly cost against monthly volume: local (fixed_per_month per machine, more machines as
    needed, + per_request x volume; core.cost.monthly_cost_terms) vs each cloud model. The
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
                x=[p.x], y=[p.y], mode="markers+text", name=esc(p.name), text=[esc(p.name)], textposition="top center",
                marker=dict(size=14, color=p.color, line=dict(width=2, color="black" if p.highlight else "white")),
                error_x=_whisker(p.x_interval, p.x), error_y=_whisker(p.y_interval, p.y),
                hovertemplate=f"{_hover(p.name)}<br>%{{x:,.4g}}, %{{y:,.3g}}<extra></extra>"))
        fig.update_layout(title=esc(self.title), xaxis_title=esc(self.x_label), yaxis_title=esc(self.y_label), height=440,
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


@dataclass(frozen=True)
class ThroughputCurve:
    model: str
    batch_sizes: tuple[int, ...]
    latency_ms: tuple[float, ...]
    tokens_per_s: tuple[float, ...]
    color: str | None = None


@dataclass(frozen=True)
class ThroughputChart:
    """Throughput against per-request latency, one line per model, points labelled by batch size
    (the LLM-Perf leaderboard's picture): up is more tokens/s, right is a longer wait per request."""

    key: str
    title: str
    curves: tuple[ThroughputCurve, ...]
    x_label: str = "mean latency per request (ms)"
    y_label: str = "throughput (generated tokens/s)"
    caption: str = ""

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for c in self.curves:
            fig.add_trace(go.Scatter(
                x=list(c.latency_ms), y=list(c.tokens_per_s), mode="lines+markers+text", name=esc(c.model),
                text=[f"b{b}" for b in c.batch_sizes], textposition="top center",
                line=dict(color=c.color), marker=dict(size=9, color=c.color),
                hovertemplate=f"{_hover(c.model)}<br>batch %{{text}}<br>%{{x:,.4g}} ms, %{{y:,.4g}} tokens/s<extra></extra>"))
        fig.update_layout(title=esc(self.title), xaxis_title=esc(self.x_label), yaxis_title=esc(self.y_label), height=440,
                          legend_title_text="Model", **LAYOUT)
        return fig

    def png(self) -> bytes:
        fig, ax = _new_axes()
        for c in self.curves:
            ax.plot(list(c.latency_ms), list(c.tokens_per_s), "-o", color=c.color, markersize=5, linewidth=1.2, label=c.model)
            for b, x, y in zip(c.batch_sizes, c.latency_ms, c.tokens_per_s, strict=True):
                ax.annotate(f"b{b}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        if self.curves:
            ax.legend(fontsize=7, frameon=False)
        _style(ax, self.title, self.x_label, self.y_label)
        _text_off(fig)
        return _save(fig)


def throughput_chart(rows: Any, colors: Mapping[str, str] | None = None, key: str = "throughput") -> ThroughputChart:
    """The chart of a run's sweep rows (core.queries.throughput): a frame with model, batch_size,
    latency_ms_mean and tokens_per_s."""
    colors = colors or {}
    curves = []
    for model in dict.fromkeys(rows["model"]):
        r = rows[rows["model"] == model].sort_values("batch_size")
        curves.append(ThroughputCurve(str(model), tuple(int(b) for b in r["batch_size"]),
                                      tuple(float(v) for v in r["latency_ms_mean"]),
                                      tuple(float(v) for v in r["tokens_per_s"]), colors.get(str(model))))
    return ThroughputChart(key, "Throughput against latency by batch size", tuple(curves),
                           caption="Each point is one batch size (bN); batched greedy generation, left padding.")


def _whisker(iv: Interval | None, centre: float) -> dict | None:
    if not _defined(iv):
        return None
    return dict(type="data", array=[max(0.0, iv.high - centre)], arrayminus=[max(0.0, centre - iv.low)],  # type: ignore[union-attr,operator]
                thickness=1.5, width=5)


def _mpl_err(iv: Interval | None, centre: float) -> list[list[float]] | None:
    if not _defined(iv):
        return None
    return [[max(0.0, centre - iv.low)], [max(0.0, iv.high - centre)]]  # type: ignore[union-attr,operator]


Chart = BoxChart | BarChart | LineChart | ScatterChart | ThroughputChart
