"""Every chart of the dashboard and the reports, in one package (pure plotly; no streamlit).

One look: every figure goes through `layout.style` (one layout), takes its axis titles from the
metric registry where a metric has one (`layout.axis_title`), writes its numbers with
core.textfmt, and escapes user text (`esc`, `hover_text`). ui/ only hands figures to
st.plotly_chart; core.reports draws the same specs.

A report chart is a frozen spec holding only what it draws (numbers, names, colours):

    chart.figure()   -> plotly.graph_objects.Figure   (dashboard, HTML report)
    chart.png()      -> PNG bytes                     (PDF and Markdown reports; no browser)

    layout          the one layout, axis titles from the registry, escaping, whiskers
    static          matplotlib plumbing behind png() (imported lazily)
    distributions   box plots (spec), box/violin/ECDF/histogram of samples, KPI per category
    comparison      pairwise-test heatmap, Pareto (figure and spec), latency drift
    costs           cost per 1,000 requests (local vs cloud), break-even lines
    throughput      throughput against latency by batch size / requests in flight
    panels          the Run page's live trace, the Overview's bars, the Models page's gauge
    rankings        the leaderboard from pairwise preferences, the win-rate heatmap
"""
from __future__ import annotations

from core.palette import model_colors  # noqa: F401 - the dashboard's colours, for the reports

from . import static  # noqa: F401 - tests draw PNGs through it
from .comparison import Point, ScatterChart, drift_chart, latency_pareto_chart, pareto, pvalue_heatmap
from .costs import BarChart, BarSeries, Line, LineChart, break_even_chart, cost_per_1k_chart
from .distributions import POINTS_LIMIT, BoxChart, BoxSeries, category_bars, distribution
from .layout import LAYOUT, MONEY_AXIS, ZERO_RANGE, all_zero, axis_title, esc, hover_text, style
from .panels import kpi_bars, latency_trace, memory_gauge
from .rankings import leaderboard_chart, win_rate_heatmap
from .throughput import ThroughputChart, ThroughputCurve, level_text, throughput_chart

Chart = BoxChart | BarChart | LineChart | ScatterChart | ThroughputChart

__all__ = [
    "LAYOUT", "MONEY_AXIS", "POINTS_LIMIT", "ZERO_RANGE", "BarChart", "BarSeries", "BoxChart", "BoxSeries", "Chart", "Line",
    "LineChart", "Point", "ScatterChart", "ThroughputChart", "ThroughputCurve", "all_zero", "axis_title", "break_even_chart",
    "category_bars", "cost_per_1k_chart", "distribution", "drift_chart", "esc", "hover_text", "kpi_bars", "latency_pareto_chart",
    "latency_trace", "memory_gauge", "model_colors", "pareto", "pvalue_heatmap", "style", "throughput_chart", "level_text",
    "leaderboard_chart", "win_rate_heatmap",
]
