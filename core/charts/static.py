"""Static charts: the matplotlib plumbing behind every spec's `png()` (PDF and Markdown reports;
no browser). matplotlib is imported inside the functions, so a page that never draws a PNG never
loads it; math text is off, so a `$` in a model name is just a `$`."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from core.stats import Interval
from core.textfmt import count_tick, usd_tick

from .layout import defined

PNG_SIZE = (7.5, 3.8)  # inches; at PNG_DPI this fits a portrait A4 page width
PNG_DPI = 130
MPL_DASH = {"solid": "-", "dot": ":", "dash": "--", "dashdot": "-.", "longdash": (0, (8, 3)), "longdashdot": (0, (8, 3, 2, 3))}


def new_axes(size: tuple[float, float] = PNG_SIZE) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    fig = Figure(figsize=size, dpi=PNG_DPI, layout="constrained")
    return fig, fig.add_subplot()


def save(fig: Any) -> bytes:
    import matplotlib as mpl

    buf = io.BytesIO()
    with mpl.rc_context({"text.parse_math": False}):
        fig.savefig(buf, format="png", dpi=PNG_DPI)
    return buf.getvalue()


def money_axis(ax: Any, which: str = "y") -> None:
    """matplotlib: dollar tick labels written out (no 1e-5, no math text), minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(usd_tick))
    axis.set_minor_formatter(NullFormatter())


def plain_log_ticks(ax: Any) -> None:
    """Plain tick labels on log axes that still have matplotlib's math-text formatter (a money axis
    keeps its own); minor ticks unlabelled, so labels never crowd or overlap."""
    from matplotlib.ticker import FuncFormatter, LogFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log" and isinstance(axis.get_major_formatter(), LogFormatter):
            axis.set_major_locator(LogLocator(base=10, numticks=8))
            axis.set_major_formatter(FuncFormatter(count_tick))
            axis.set_minor_formatter(NullFormatter())


def style_axes(ax: Any, title: str, x_label: str, y_label: str) -> None:
    plain_log_ticks(ax)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel(x_label, fontsize=8)
    ax.set_ylabel(y_label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def name_ticks(ax: Any, names: Sequence[str]) -> None:
    ax.set_xticks(range(len(names)), list(names), rotation=30 if len(names) > 4 else 0,
                  ha="right" if len(names) > 4 else "center")


def text_off(fig: Any) -> None:
    """Math text off for every label already set (rc_context at save time covers the rest)."""
    for t in fig.findobj(lambda a: hasattr(a, "set_parse_math")):
        t.set_parse_math(False)


def interval_err(iv: Interval | None, centre: float) -> list[list[float]] | None:
    """A matplotlib error bar for one point: [[below], [above]], None without an interval."""
    if not defined(iv):
        return None
    return [[max(0.0, centre - iv.low)], [max(0.0, iv.high - centre)]]  # type: ignore[union-attr,operator]
