"""Throughput against per-request latency by load level (a run's throughput sweep, core.throughput):
batch sizes of local models and requests in flight of HTTP models in one figure; one spec for the
Compare page and the reports."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

import core.charts.static as static
from core.analysis.kpi_definitions import KPI_DEFS
from core.textfmt import share

from .layout import esc, hover_text, style

KIND_WORDS = {"batch": "batch size", "concurrency": "requests in flight"}


def level_text(kind: str, level: int) -> str:
    """How a level reads: 'batch size 4' or '4 in flight'."""
    return f"{level} in flight" if kind == "concurrency" else f"batch size {level}"


def point_label(kind: str, level: int) -> str:
    """The short label beside a point: 'b4' (batch size 4) or '4 in flight'."""
    return f"{level} in flight" if kind == "concurrency" else f"b{level}"


@dataclass(frozen=True)
class ThroughputCurve:
    model: str
    batch_sizes: tuple[int, ...]  # the levels: batch sizes, or requests in flight (level_kind)
    latency_ms: tuple[float, ...]
    tokens_per_s: tuple[float, ...]
    color: str | None = None
    level_kind: str = "batch"  # batch | concurrency
    label: str = ""  # the legend entry (the model, with the kind when a model has both)

    @property
    def name(self) -> str:
        return self.label or self.model

    @property
    def point_labels(self) -> list[str]:
        return [point_label(self.level_kind, b) for b in self.batch_sizes]


@dataclass(frozen=True)
class ThroughputChart:
    """Throughput against per-request latency, one line per model and level kind, points labelled by
    batch size (bN) or requests in flight (N in flight) (the LLM-Perf leaderboard's picture): up is
    more tokens/s, right is a longer wait per request."""

    key: str
    title: str
    curves: tuple[ThroughputCurve, ...]
    x_label: str = KPI_DEFS["latency_ms_mean"].heading  # "Mean latency (ms)": the KPIs the points are
    y_label: str = KPI_DEFS["tokens_per_s"].heading  # "Throughput (tokens/s)"
    caption: str = ""

    def figure(self) -> go.Figure:
        fig = go.Figure()
        for c in self.curves:
            hover = [level_text(c.level_kind, b) for b in c.batch_sizes]
            fig.add_trace(go.Scatter(
                x=list(c.latency_ms), y=list(c.tokens_per_s), mode="lines+markers+text", name=esc(c.name),
                text=c.point_labels, textposition="top center", customdata=hover,
                line=dict(color=c.color, dash="dot" if c.level_kind == "concurrency" else None),
                marker=dict(size=9, color=c.color, symbol="diamond" if c.level_kind == "concurrency" else "circle"),
                hovertemplate=f"{hover_text(c.model)}<br>%{{customdata}}<br>mean latency per request %{{x:,.4g}} ms, "
                              "%{y:,.4g} tokens/s<extra></extra>"))
        return style(fig, esc(self.title), esc(self.x_label), esc(self.y_label), height=440, legend_title="Model")

    def png(self) -> bytes:
        fig, ax = static.new_axes()
        for c in self.curves:
            ax.plot(list(c.latency_ms), list(c.tokens_per_s), "-o" if c.level_kind == "batch" else ":D", color=c.color,
                    markersize=5, linewidth=1.2, label=c.name)
            for lab, x, y in zip(c.point_labels, c.latency_ms, c.tokens_per_s, strict=True):
                ax.annotate(lab, (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        if self.curves:
            ax.legend(fontsize=7, frameon=False)
        static.style_axes(ax, self.title, self.x_label, self.y_label)
        static.text_off(fig)
        return static.save(fig)


def throughput_chart(rows: Any, colors: Mapping[str, str] | None = None, key: str = "throughput") -> ThroughputChart:
    """The chart of a run's sweep rows (core.queries.throughput): a frame with model, batch_size,
    level_kind (absent: batch), latency_ms_mean, tokens_per_s and identical_to_b1."""
    colors = colors or {}
    rows = rows if "level_kind" in rows else rows.assign(level_kind="batch")
    rows = rows.assign(level_kind=rows["level_kind"].fillna("batch"))
    curves = []
    for model in dict.fromkeys(rows["model"]):
        mine = rows[rows["model"] == model]
        kinds = list(dict.fromkeys(mine["level_kind"]))
        for kind in kinds:
            r = mine[mine["level_kind"] == kind].sort_values("batch_size")
            label = f"{model} · {KIND_WORDS.get(kind, kind)}" if len(kinds) > 1 else str(model)
            curves.append(ThroughputCurve(str(model), tuple(int(b) for b in r["batch_size"]),
                                          tuple(float(v) for v in r["latency_ms_mean"]),
                                          tuple(float(v) for v in r["tokens_per_s"]), colors.get(str(model)), kind, label))
    kinds = set(rows["level_kind"])
    title = {frozenset({"batch"}): "Throughput against latency by batch size",
             frozenset({"concurrency"}): "Throughput against latency by requests in flight"}.get(
        frozenset(kinds), "Throughput against latency by batch size and requests in flight")
    return ThroughputChart(key, title, tuple(curves), caption=_caption(rows, kinds))


def _caption(rows: Any, kinds: set[str]) -> str:
    parts = []
    if "batch" in kinds:
        parts.append("local models: batched greedy generation at each batch size (bN), left padding; latency is the "
                     "batch's wall time")
    if "concurrency" in kinds:
        parts.append("HTTP models: greedy requests with N in flight; latency is each request's own, memory added not "
                     "observable (remote)")
    same = ", ".join(f"{r.model} {level_text(r.level_kind, int(r.batch_size))}: {share(r.identical_to_b1)}"
                     for r in rows.itertuples())
    return ("Generated tokens/s against the mean latency per request at each level; " + "; ".join(parts)
            + ". Outputs identical to level 1 (batch size 1, or 1 in flight): " + same + ".")
