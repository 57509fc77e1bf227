"""core.queries.explore: bounded chart samples and the sample explorer, on a real DuckDB file."""
from __future__ import annotations

import pytest

from bench.analysis import synthetic_run
from core.queries import explore
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

    failed, n_failed = explore.explorer(store, "big", MODELS, show="errors", max_items=1_000)
    expected = store.query_df(
        "SELECT count(DISTINCT item_id) AS n FROM samples WHERE run_id = 'big' AND \"repeat\" = 0 "
        "AND status IN ('error', 'timeout')")
    assert n_failed == int(expected["n"].iloc[0]) > 0
    assert (failed.groupby("item_id")["status"].apply(lambda s: s.isin(["error", "timeout"]).any())).all()

    # issue 11.14: "wrong answers" are answers that did not pass, not generation errors
    wrong, n_wrong = explore.explorer(store, "big", MODELS, show="wrong", max_items=1_000)
    expected = store.query_df(
        "SELECT count(DISTINCT item_id) AS n FROM samples WHERE run_id = 'big' AND \"repeat\" = 0 "
        "AND status = 'ok' AND NOT passed")
    assert n_wrong == int(expected["n"].iloc[0]) > 0 and n_wrong != n_failed
    answered_wrong = wrong[(wrong["status"] == "ok") & (wrong["passed"] == False)]  # noqa: E712
    assert set(answered_wrong["item_id"]) == set(wrong["item_id"])
    with pytest.raises(ValueError, match="show must be one of"):
        explore.explorer(store, "big", MODELS, show="failures")

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


def test_a_sample_says_whether_it_passed_and_what_each_scorer_gave():
    assert explore.outcome_text("ok", True) == "pass" and explore.outcome_text("ok", False) == "fail"
    assert explore.outcome_text("ok", None) == "no score" and explore.outcome_text("timeout", None) == "timeout"
    assert explore.scores_text('{"exact_match": 0.0, "token_f1": 0.6667}') == "exact_match 0.00 · token_f1 0.67"
    assert explore.scores_text('{"_error": "scoring failed: boom"}') == "scoring failed: boom"
    assert explore.scores_text(None) == "" and explore.scores_text("not json") == ""
