"""core.analysis.kpi_intervals: every KPI interval of one model from its sample rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.analysis import synthetic_run
from core.analysis.kpi_intervals import group_intervals, prompt_codes
from core.queries import fetch, run_scorers
from core.stats.cluster_codes import factorize_labels
from core.store import Store


def _rows(tmp_path, n_items: int) -> tuple[pd.DataFrame, list[str]]:  # noqa: ANN001
    store = Store(tmp_path / "kpi.duckdb")
    synthetic_run(store, run_id="r", n_models=1, n_items=n_items, repeats=2, error_rate=0.05)
    scorers = run_scorers(store, "r")
    return fetch(store, "r", scorers=scorers), scorers


def _intervals(rows: pd.DataFrame, scorers: list[str]) -> dict[str, str]:
    out = group_intervals(rows, "model-00", scorers, None, confidence=0.95, n_resamples=200, seed=4)
    return {kpi: repr(iv) for kpi, iv in out.items()}  # repr: every field, NaN equal to NaN


@pytest.mark.parametrize("n_items", [300, 5_200])  # the count bootstrap; the multiplier bootstrap (prompts)
def test_prompt_codes_of_a_categorical_give_the_intervals_of_the_labels_as_text(tmp_path, n_items: int) -> None:  # noqa: ANN001
    """fetch hands item_id over as a Categorical: its integer codes are renumbered in order of
    first appearance (the statistics then skip factorizing). Categories in another order than
    the rows, or the labels as plain text, must give exactly the same intervals."""
    rows, scorers = _rows(tmp_path, n_items)
    assert isinstance(rows["item_id"].dtype, pd.CategoricalDtype)
    reordered = rows.assign(item_id=rows["item_id"].cat.reorder_categories(rows["item_id"].cat.categories[::-1]))
    as_text = rows.assign(item_id=rows["item_id"].astype(str).astype(object))
    want = factorize_labels(as_text["item_id"].to_numpy())[0]
    assert np.array_equal(prompt_codes(reordered), want) and np.array_equal(prompt_codes(rows), want)
    assert (rows["status"] != "ok").any()  # the ok rows' prompts are numbered again
    expected = _intervals(as_text, scorers)
    assert ("multiplier-bootstrap" in expected["latency_ms_p90"]) == (n_items > 5_000)
    assert _intervals(rows, scorers) == expected
    assert _intervals(reordered, scorers) == expected
