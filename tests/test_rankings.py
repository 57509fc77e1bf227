"""core.charts.rankings: the leaderboard with intervals and the win-rate heatmap."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core import charts
from core.stats import metric_info
from core.stats.bradley_terry import rank_by_preferences


def _result():
    rows = [(f"p{k}", "<b>a</b>", "b{x}", "A") for k in range(6)] + [(f"q{k}", "b{x}", "<b>a</b>", "A") for k in range(2)]
    rows += [(f"r{k}", "b{x}", "c", o) for k, o in enumerate("AABtie".replace("tie", "T"))]
    rows = [(p, a, b, "tie" if o == "T" else o) for p, a, b, o in rows]
    return rank_by_preferences(pd.DataFrame(rows, columns=["prompt", "model_a", "model_b", "outcome"]), n_resamples=100)


def test_leaderboard_chart_ranks_intervals_and_escapes_names():
    r = _result()
    fig = charts.leaderboard_chart(r, source="human raters")
    trace = fig.data[0]
    assert list(trace.y) == [f"{row.rank}. {charts.esc(row.model)}" for row in r.leaderboard]
    assert "&lt;b&gt;a&lt;/b&gt;" in trace.y[0] and "<b>a</b>" not in "".join(trace.y)
    assert fig.layout.xaxis.title.text == metric_info("preference_strength").heading
    assert "&#123;" in "".join(trace.text)  # braces in a name are not filled in by the hover template
    assert list(trace.x) == [row.strength.estimate for row in r.leaderboard]


def test_win_rate_heatmap_cells_and_blank_pairs():
    r = _result()
    fig = charts.win_rate_heatmap(r, source="judge")
    z = np.array(fig.data[0].z, dtype=float)
    order = [row.model for row in r.leaderboard]
    i, j = order.index("<b>a</b>"), order.index("b{x}")
    assert z[i, j] == r.win_rates.loc["<b>a</b>", "b{x}"] == 0.75
    assert fig.data[0].text[i][j] == "75.0%<br>of 8"
    c = order.index("c")
    assert np.isnan(z[i, c]) and fig.data[0].text[i][c] == ""  # never compared
    assert fig.data[0].colorbar.title.text == metric_info("win_rate").title
