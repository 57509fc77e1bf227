"""The one look every figure shares: `style(fig, ...)` (title, axis titles, height, margins, hover,
template), axis titles read from the metric registry, and the helpers that keep user text and
numbers safe in a plotly figure. Pure plotly; no streamlit."""
from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.stats import Interval, metric_info

LAYOUT = dict(margin=dict(l=60, r=20, t=60, b=50), hovermode="closest", template="plotly_white")
MONEY_AXIS = dict(tickprefix="$", exponentformat="none", separatethousands=True)  # plotly: "$0.0005", never "500µ"
ZERO_RANGE = [0, 1]


def style(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None, *, height: int,
          legend_title: str | None = None, **extra: Any) -> go.Figure:
    """The one layout: every figure of the dashboard and the reports goes through here. `legend_title`
    titles the legend; `extra` adds (or overrides) plotly layout keys, e.g. barmode or showlegend."""
    opts: dict[str, Any] = {**LAYOUT, "title": title, "height": height, **extra}
    if x_title is not None:
        opts["xaxis_title"] = x_title
    if y_title is not None:
        opts["yaxis_title"] = y_title
    if legend_title is not None:
        opts["legend_title_text"] = legend_title
    fig.update_layout(**opts)
    return fig


def axis_title(metric: str, stat: str = "") -> str:
    """An axis title from the metric registry: axis_title("latency_ms", "median") -> "Median latency (ms)"."""
    info = metric_info(metric)
    text = f"{stat} {info.label}".strip()
    text = text[:1].upper() + text[1:]
    return f"{text} ({info.axis_unit})" if info.axis_unit else text


def esc(text: object) -> str:
    """User text (model, category, prompt-set and run names) for anything plotly draws: tick labels,
    legends, titles, text labels, hovers. Plotly reads <b>, <br>, <a href=...> and entities in all
    of them, so <, > and & are escaped (plotly shows &lt; as <). Not for matplotlib: it draws text
    as it is."""
    return html.escape(str(text), quote=False)


def hover_text(text: object) -> str:
    """User text for a plotly hover template: escaped (esc), braces as character references, so a
    '%{x}' in a name is shown, not filled in (plotly has no '%%' escape; it shows &#123; as '{')."""
    return esc(text).replace("{", "&#123;").replace("}", "&#125;")


def all_zero(values: Any) -> bool:
    """True when every finite value is 0 (and there is one): plotly would draw that axis from -1
    to 1 and matplotlib around 0, so callers pin the axis to [0, 1] (ZERO_RANGE)."""
    v = np.asarray([x for x in np.ravel(np.asarray(values, dtype=object)) if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    return v.size > 0 and not v.any()


def defined(iv: Interval | None) -> bool:
    return iv is not None and iv.is_defined


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def whisker(iv: Interval | None, centre: float) -> dict | None:
    """A plotly error bar for one point: the interval around `centre`, None without one."""
    if not defined(iv):
        return None
    return dict(type="data", array=[max(0.0, iv.high - centre)], arrayminus=[max(0.0, centre - iv.low)],  # type: ignore[union-attr,operator]
                thickness=1.5, width=5)


def errors(ivs: Any) -> tuple[list, list, list]:
    """Estimates and the error bars above and below them (None where an interval is missing)."""
    est = [iv.estimate if defined(iv) else None for iv in ivs]
    plus = [iv.high - iv.estimate if defined(iv) else None for iv in ivs]
    minus = [iv.estimate - iv.low if defined(iv) else None for iv in ivs]
    return est, plus, minus
