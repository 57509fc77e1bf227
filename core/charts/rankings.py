"""Rankings from pairwise preferences (core.stats.bradley_terry): the leaderboard with intervals
and the win-rate matrix as a heatmap. Labels come from the metric registry (preference_strength,
win_rate); numbers are written by core.textfmt; model names are escaped."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.stats import metric_info
from core.stats.bradley_terry import BradleyTerry
from core.textfmt import count, fmt_interval, pct

import core.charts.static as static
from .layout import defined, esc, hover_text, style


def leaderboard_chart(result: BradleyTerry, source: str = "preferences") -> go.Figure:
    """Each model's Bradley-Terry strength with its interval, strongest on top; the hover gives
    the rank, the range of bootstrap ranks and the record. source: whose preferences ("human", "judge")."""
    info = metric_info("preference_strength")
    rows = result.leaderboard
    names = [f"{r.rank}. {esc(r.model)}" for r in rows]
    est = [r.strength.estimate for r in rows]
    plus = [r.strength.high - r.strength.estimate if defined(r.strength) else None for r in rows]
    minus = [r.strength.estimate - r.strength.low if defined(r.strength) else None for r in rows]
    level = f"{rows[0].strength.confidence * 100:g}%" if rows else "95%"
    hover = [
        f"{hover_text(r.model)}<br>{info.label} {fmt_interval(r.strength.estimate, r.strength.low, r.strength.high, info.format)}"
        f"<br>rank {r.rank} (bootstrap ranks {r.rank_low}-{r.rank_high})"
        f"<br>won {count(r.wins)}, lost {count(r.losses)}, tied {count(r.ties)}"
        for r in rows
    ]
    fig = go.Figure(go.Scatter(
        x=est, y=names, mode="markers", marker=dict(size=10, color="#4c78a8"),
        error_x=dict(type="data", array=plus, arrayminus=minus, thickness=1.5, width=5),
        text=hover, hovertemplate="%{text}<extra></extra>",
    ))
    fig.add_vline(x=0, line=dict(color="#999", dash="dot"))
    title = f"Leaderboard from {esc(source)}: {info.label} with {level} interval (bootstrap over prompts)"
    return style(fig, title, info.heading, "Rank. model", height=140 + 40 * max(len(rows), 1),
                 yaxis=dict(autorange="reversed"), showlegend=False)


def win_rate_heatmap(result: BradleyTerry, source: str = "preferences") -> go.Figure:
    """The row model's share of its comparisons with the column model that it won (a tie counting
    half), with the number of comparisons; blank where a pair was never compared."""
    info = metric_info("win_rate")
    models = [r.model for r in result.leaderboard]  # by rank
    rates = result.win_rates.loc[models, models].to_numpy(float)
    n = result.comparisons.loc[models, models].to_numpy(float)
    text = [["" if not np.isfinite(rates[i, j]) else f"{pct(rates[i, j])}<br>of {count(n[i, j])}"
             for j in range(len(models))] for i in range(len(models))]
    labels = [esc(m) for m in models]
    fig = go.Figure(go.Heatmap(
        z=rates, x=labels, y=labels, text=text, texttemplate="%{text}", zmin=0, zmax=1, colorscale="RdBu",
        colorbar=dict(title=info.title), hovertemplate="row %{y} against column %{x}<br>%{text} comparisons won<extra></extra>",
    ))
    title = f"{info.title[:1].upper() + info.title[1:]} of the row model against the column model ({esc(source)})"
    return style(fig, title, "Model (column)", "Model (row)", height=120 + 70 * max(len(models), 1),
                 yaxis=dict(autorange="reversed"))


@dataclass(frozen=True)
class RankingChart:
    """A report chart spec of a ranking: kind "leaderboard" (strengths with intervals) or "heatmap"
    (win rates); figure() for the dashboard and HTML, png() for PDF and Markdown."""

    key: str
    result: BradleyTerry
    kind: str = "leaderboard"  # leaderboard | heatmap
    source: str = "preferences"
    caption: str = ""

    @property
    def title(self) -> str:
        if self.kind == "heatmap":
            return f"Win rate (a tie counting half) of the row model against the column model ({self.source})"
        return f"Leaderboard from {self.source}: {metric_info('preference_strength').label} with interval (bootstrap over prompts)"

    def figure(self) -> go.Figure:
        return (win_rate_heatmap if self.kind == "heatmap" else leaderboard_chart)(self.result, self.source)

    def png(self) -> bytes:
        rows = self.result.leaderboard
        models = [r.model for r in rows]
        fig, ax = static.new_axes()
        if self.kind == "heatmap":
            rates = self.result.win_rates.loc[models, models].to_numpy(float)
            ax.imshow(np.ma.masked_invalid(rates), cmap="RdBu", vmin=0, vmax=1)
            for i in range(len(models)):
                for j in range(len(models)):
                    if np.isfinite(rates[i, j]):
                        ax.text(j, i, pct(rates[i, j]), ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(models)), models, rotation=30, ha="right")
            ax.set_yticks(range(len(models)), models)
            static.style_axes(ax, self.title, "Model (column)", "Model (row)")
            ax.grid(False)
        else:
            y = np.arange(len(rows))[::-1]
            for yi, r in zip(y, rows, strict=True):
                err = static.interval_err(r.strength, r.strength.estimate) if r.strength.estimate is not None else None
                ax.errorbar([r.strength.estimate], [yi], xerr=err, fmt="o", color="#4c78a8", capsize=3)
            ax.axvline(0, color="#999", linestyle=":")
            ax.set_yticks(y, [f"{r.rank}. {r.model}" for r in rows])
            static.style_axes(ax, self.title, metric_info("preference_strength").heading, "Rank. model")
        static.text_off(fig)
        return static.save(fig)
