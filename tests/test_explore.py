"""core.explore: bounded chart samples and the sample explorer, on a real DuckDB file."""
from __future__ import annotations

import pytest

from bench.analysis import synthetic_run
from core import explore
from core.store import Store

MODELS = ["model-00", "model-01", "model-02"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    s = Store(tmp_path_factory.mktemp("explore") / "explore.duckdb")
    synthetic_run(s, run_id="big", n_models=3, n_items=500, repeats=2, error_rate=0.05)
    synthetic_run(s, run_id="small", n_models=2, n_items=10, repeats=1, error_rate=0.0)
    return s


def test_value_sample_caps_each_series_and_is_stable(store):
    df = explore.value_sample(store, ["big"], MODELS, "latency_ms", max_points=300)
    sizes = df.groupby("model").size()
    assert list(sizes.index) == MODELS and (sizes <= 100).all() and (sizes >= 90).all()
    assert df["value"].notna().all() and (df["value"] > 0).all()
    ok = store.query_df("SELECT item_id, seq, model FROM samples WHERE run_id = 'big' AND status = 'ok'")
    assert set(zip(df["model"], df["seq"])) <= set(zip(ok["model"], ok["seq"]))  # successful samples only
    again = explore.value_sample(store, ["big"], MODELS, "latency_ms", max_points=300)
    assert again.equals(df)  # the same points on every render


def test_value_sample_returns_small_series_whole(store):
    df = explore.value_sample(store, ["small", "big"], MODELS[:2], "quality", max_points=1_000)
    sizes = df.groupby(["run_id", "model"]).size()
    assert sizes[("small", "model-00")] == 10 and sizes[("small", "model-01")] == 10
    assert sizes[("big", "model-00")] <= 250
    with pytest.raises(ValueError, match="unknown column"):
        explore.value_sample(store, ["big"], MODELS, "output_text; DROP TABLE samples")


def test_explorer_filters_pages_and_counts(store):
    rows, total = explore.explorer(store, "big", MODELS, max_items=7)
    assert total == 500 and rows["item_id"].nunique() == 7 and len(rows) == 21
    assert set(rows["model"]) == set(MODELS) and (rows.groupby("item_id").size() == 3).all()
    page2, total2 = explore.explorer(store, "big", MODELS, max_items=7, offset=7)
    assert total2 == 500 and not set(page2["item_id"]) & set(rows["item_id"])

    failed, n_failed = explore.explorer(store, "big", MODELS, failures_only=True, max_items=1_000)
    expected = store.query_df(
        "SELECT count(DISTINCT item_id) AS n FROM samples WHERE run_id = 'big' AND \"repeat\" = 0 AND status <> 'ok'")
    assert n_failed == int(expected["n"].iloc[0]) > 0
    assert (failed.groupby("item_id")["status"].apply(lambda s: (s != "ok").any())).all()

    cat, n_cat = explore.explorer(store, "big", MODELS, category="math", max_items=1_000)
    assert n_cat == len(set(cat["item_id"])) > 0 and set(cat["category"]) == {"math"}

    none, n_none = explore.explorer(store, "big", MODELS, category="no-such-category")
    assert n_none == 0 and none.empty
    assert explore.categories(store, "big") == ["code", "facts", "math", "writing"]  # bench.analysis.CATEGORIES, sorted


def test_drift_points_are_block_medians_above_the_cap(store):
    df = explore.drift_points(store, "big", MODELS[:1], max_points=100)
    assert 90 <= len(df) <= 100 and df["block_size"].max() > 1
    assert df["seq"].is_monotonic_increasing
    whole = explore.drift_points(store, "small", ["model-00"], max_points=100)
    assert len(whole) == 10 and (whole["block_size"] == 1).all()
