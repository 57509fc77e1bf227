"""Throughput against per-request latency by batch size (a run's throughput sweep,
core.throughput): one spec for the Compare page and the reports."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

import core.charts.static as static
from core.analysis.kpi_definitions import KPI_DEFS

from .layout import esc, hover_text, style


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
    x_label: str = KPI_DEFS["latency_ms_mean"].heading  # "Mean latency (ms)": the KPIs the points are
    y_label: str = KPI_DEFS["tokens_per_s"].heading  # "Throughput (tokens/s)"
    caption: str = ""

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for c in self.curves:
            fig.add_trace(go.Scatter(
                x=list(c.latency_ms), y=list(c.tokens_per_s), mode="lines+markers+text", name=esc(c.model),
                text=[f"b{b}" for b in c.batch_sizes], textposition="top center",
                line=dict(color=c.color), marker=dict(size=9, color=c.color),
                hovertemplate=f"{hover_text(c.model)}<br>batch %{{text}}<br>%{{x:,.4g}} ms, %{{y:,.4g}} tokens/s<extra></extra>"))
        return style(fig, esc(self.title), esc(self.x_label), esc(self.y_label), height=440, legend_title="Model")

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        for c in self.curves:
            ax.plot(list(c.latency_ms), list(c.tokens_per_s), "-o", color=c.color, markersize=5, linewidth=1.2, label=c.model)
            for b, x, y in zip(c.batch_sizes, c.latency_ms, c.tokens_per_s, strict=True):
                ax.annotate(f"b{b}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        if self.curves:
            ax.legend(fontsize=7, frameon=False)
        static.style_axes(ax, self.title, self.x_label, self.y_label)
        static.text_off(fig)
        return static.save(fig)


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
