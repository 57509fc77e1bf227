"""Charts (core.charts: specs and the dashboard's figures, pure plotly): what a figure draws,
read from the figure objects: violins stop at the data, ECDF markers stay inside 0-100%, an all-zero
axis is [0, 1], log axes on request, intervals on the Overview bars, user text escaped everywhere,
and the static PNGs print plain, non-overlapping tick labels."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import charts as ch
from core.stats import Interval

HTML_NAME = "<b>cat</b>"
COLORS = {"fast": "#1f77b4", "slow": "#ff7f0e", HTML_NAME: "#2ca02c"}


def _values(fast: float = 10.0, slow: float = 1000.0, n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(m, float(v)) for m, c in (("fast", fast), ("slow", slow)) for v in c * rng.lognormal(0, 0.3, n)]
    df = pd.DataFrame(rows, columns=["model", "value"])
    return df.assign(series=df["model"])


def _iv(est: float, low: float, high: float) -> Interval:
    return Interval(est, low, high, "bca-bootstrap", 0.95, 50, 2000, 0)


def test_violin_stops_at_the_smallest_and_largest_value():
    fig = ch.distribution(_values(), "violin", "Latency (ms)", COLORS)
    violins = [t for t in fig.data if t.type == "violin"]
    assert violins and all(t.spanmode == "hard" for t in violins)  # no density below 0 ms


def test_ecdf_interval_markers_sit_on_the_curves_inside_the_axis():
    df = _values()
    ivs = {"fast": _iv(10, 9, 11), "slow": _iv(1000, 900, 1100)}
    fig = ch.distribution(df, "ecdf", "Latency (ms)", COLORS, intervals=ivs)
    markers = next(t for t in fig.data if t.mode == "markers")
    assert all(0 <= y <= 1 for y in markers.y)
    for s, x, y in zip(markers.text, markers.x, markers.y, strict=True):  # on the series' own curve
        assert y == pytest.approx(float((df[df["series"] == s]["value"] <= x).mean()))
    assert list(fig.layout.yaxis.range) == [0, 1]


@pytest.mark.parametrize("kind", ["box", "violin", "ecdf", "histogram"])
def test_an_all_zero_metric_draws_an_axis_from_zero(kind):
    df = pd.DataFrame({"model": ["fast"] * 5 + ["slow"] * 5, "value": [0.0] * 10}).assign(series=lambda d: d["model"])
    fig = ch.distribution(df, kind, "Quality (0-10)", COLORS)
    axis = fig.layout.xaxis if kind in ("ecdf", "histogram") else fig.layout.yaxis
    assert list(axis.range) == ch.ZERO_RANGE
    wide = pd.DataFrame({"category": ["a", "b"], "model": ["fast", "fast"], "error_rate": [0.0, 0.0]})
    assert list(ch.category_bars(wide, "error_rate", "Error rate", COLORS).layout.yaxis.range) == ch.ZERO_RANGE
    box = ch.BoxChart("q", "Quality per model", "Quality", (ch.BoxSeries("fast", 5, 0, 0, 0, 0, 0, 0.0),))
    assert list(box.figure().layout.yaxis.range) == ch.ZERO_RANGE
    other = ch.distribution(_values(), kind, "Latency (ms)", COLORS).layout
    assert (other.xaxis if kind in ("ecdf", "histogram") else other.yaxis).range is None  # only when all zero


def test_latency_distribution_on_a_log_axis_on_request():
    assert ch.distribution(_values(), "box", "Latency (ms)", COLORS, log=True).layout.yaxis.type == "log"
    assert ch.distribution(_values(), "ecdf", "Latency (ms)", COLORS, log=True).layout.xaxis.type == "log"
    assert ch.distribution(_values(), "box", "Latency (ms)", COLORS).layout.yaxis.type in (None, "linear", "-")


def test_overview_latency_bars_carry_the_median_interval():
    summary = pd.DataFrame({"model": ["fast", "slow"], "median_latency_ms": [10.0, 1000.0], "p90_latency_ms": [12.0, 1200.0],
                            "tokens_per_s": [100.0, 1.0], "mean_quality": [5.0, 6.0], "n": [50, 50]})
    fig = ch.kpi_bars(summary, COLORS, {"fast": _iv(10, 9, 12), "slow": _iv(1000, 950, 1100)})
    bar = fig.data[0]
    assert list(bar.error_y.array) == pytest.approx([2, 100]) and list(bar.error_y.arrayminus) == pytest.approx([1, 50])
    assert "95% CI" in fig.layout.title.text and "95% CI 9.0-12.0 ms" in bar.customdata[0][4]
    assert ch.kpi_bars(summary, COLORS).data[0].error_y.array is None  # no intervals: no whiskers, no claim


def test_user_text_is_escaped_in_every_label_and_hover():
    """Issue 11: a category named <b>cat</b> rendered bold on the axis. Plotly reads HTML in tick
    labels, legends, titles, text and hovers; the figure JSON must hold the escaped text only."""
    wide = pd.DataFrame({"category": [HTML_NAME, "plain"], "model": [HTML_NAME, HTML_NAME], "quality_mean": [5.0, 6.0]})
    figs = [
        ch.category_bars(wide, "quality_mean", "Mean quality", COLORS),
        ch.distribution(pd.DataFrame({"model": [HTML_NAME] * 3, "value": [1.0, 2.0, 3.0], "series": [HTML_NAME] * 3}),
                        "box", "Latency (ms)", COLORS, intervals={HTML_NAME: _iv(2, 1, 3)}),
        ch.BoxChart("b", "Latency per model", "ms", (ch.BoxSeries(HTML_NAME, 3, 1, 2, 3, 1, 3, 2.0, 0, _iv(2, 1, 3)),)).figure(),
        ch.break_even_chart(HTML_NAME, 100.0, 0.001, None, {"gpt-4o-mini": 0.002}, 1000, None).figure(),
        ch.kpi_bars(pd.DataFrame({"model": [HTML_NAME], "median_latency_ms": [1.0], "p90_latency_ms": [1.0],
                                       "tokens_per_s": [1.0], "mean_quality": [1.0], "n": [1]}), COLORS),
    ]
    for fig in figs:
        text = json.dumps(json.loads(fig.to_json()))  # plotly's JSON, decoded: what the browser receives
        assert "&lt;b&gt;cat&lt;/b&gt;" in text and HTML_NAME not in text, fig.layout.title.text
    assert ch.hover_text("50% of {x} %{y}") == "50% of &#123;x&#125; %&#123;y&#125;"  # no template filled from a name


def _drawn(monkeypatch, chart) -> object:
    """The matplotlib figure behind chart.png(), drawn (tick labels are set at draw time)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    seen = []
    monkeypatch.setattr(ch.static, "save", lambda fig: seen.append(fig) or b"")
    chart.png()
    fig = seen[0]
    FigureCanvasAgg(fig).draw()
    return fig


def test_png_log_axes_print_plain_ticks_that_do_not_overlap(monkeypatch):
    """Issue 11: the PDF's log-scale charts printed '$\\mathdefault{10^{-2}}$' and overlapping labels."""
    chart = ch.break_even_chart("demo-small", 55.0, 0.0005, None, {"gpt-4o-mini": 0.000004, "gpt-4o": 0.00006}, 100_000, None)
    fig = _drawn(monkeypatch, chart)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    for axis in (ax.xaxis, ax.yaxis):
        labels = [t for t in axis.get_ticklabels() if t.get_text() and t.get_visible()]
        assert labels and not any("mathdefault" in t.get_text() or "^" in t.get_text() for t in labels)
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: (b.x0, b.y0))
        assert not any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in labels]
    assert {"1k", "1M"} <= {t.get_text() for t in ax.xaxis.get_ticklabels()}


# ---------------------------------------------------------------------------- one chart for the dashboard and the report


def _without_colours(spec: dict) -> dict:
    """A figure's JSON less its marker colours: the dashboard colours every model it knows (catalog
    included), the report only the run's, so a model's colour slot may differ between the two."""
    for trace in spec["data"]:
        if isinstance(trace.get("marker", {}).get("color"), list):
            trace["marker"].pop("color")
    return spec


def test_the_costs_page_and_the_report_draw_one_cost_chart(tmp_path, monkeypatch):
    """One function builds the cost-per-1,000-requests chart for the Costs page and the report:
    for the same run and the same assumptions the figures are the same, trace for trace."""
    from streamlit.testing.v1 import AppTest

    from bench.analysis import synthetic_run
    from core.reports.model import ReportOptions
    from core.reports.run_report import build_report
    from core.store import Store
    from ui.state import Keys

    db = tmp_path / "costs.duckdb"
    run_id = synthetic_run(Store(db), run_id="costs", n_models=2, n_items=20, repeats=1, error_rate=0.0)
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file("../app.py", default_timeout=120).run()
    at.switch_page("pages/5_costs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    page = json.loads(at.get("plotly_chart")[0].proto.spec)
    settings = at.session_state[Keys.cost_settings]
    report = build_report(Store(db), run_id, ReportOptions(settings=settings))
    chart = next(c for c in report.cost_charts if c.key == "cost_per_1k")
    drawn = json.loads(chart.figure().to_json())
    assert page["layout"]["title"]["text"] == "Cost per 1,000 requests: local vs cloud (same token counts)"
    assert len(page["data"]) == 1 + len(settings.cloud_models) and page["layout"]["yaxis"]["type"] == "log"
    assert _without_colours(page) == _without_colours(drawn)
    assert chart.caption in [c.value for c in at.caption]

