"""core.analysis.rules: the baseline rule, the best-quality model and the Pareto objectives, each
written once and read by the comparison, the recommendation, the report and the Compare page."""
from __future__ import annotations

import math

import pytest

from bench.analysis import synthetic_run
from core import analysis as A
from core.analysis import rules
from core.store import Store


def test_the_baseline_is_the_argument_then_the_champion_then_the_best_then_all_pairs():
    present = ["a", "b", "c"]
    assert rules.choose_baseline("r", present, "b", "c", "a") == ("b", "argument")
    assert rules.choose_baseline("r", present, None, "c", "a") == ("c", "champion")
    assert rules.choose_baseline("r", present, None, "gone", "a") == ("a", "best quality")
    assert rules.choose_baseline("r", present, None, None, None) == (None, "all pairs")
    assert rules.choose_baseline("r", present, None, None, "gone") == (None, "all pairs")


def test_a_baseline_without_results_is_refused_with_the_models_that_have_some():
    with pytest.raises(ValueError, match=r"baseline 'x' has no successful requests in run r; models: a, b"):
        rules.choose_baseline("r", ["a", "b"], "x", None)
    with pytest.raises(ValueError, match="models: none"):
        rules.choose_baseline("r", [], "x", None)


def test_the_best_quality_model_wins_ties_on_latency_and_needs_a_score():
    q = {"a": 7.0, "b": 7.0, "c": None, "d": 6.0}
    assert rules.best_quality(q, {"a": 200.0, "b": 150.0, "c": 1.0, "d": 1.0}) == "b"
    assert rules.best_quality(q, {"a": 200.0, "b": None}) == "a"  # a missing latency loses the tie
    assert rules.best_quality({"a": None}, {"a": 1.0}) is None and rules.best_quality({}, {}) is None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("rules") / "r.duckdb")
    return store, synthetic_run(store, run_id="rules", n_models=4, n_items=40, repeats=2, error_rate=0.05)


def test_the_pareto_objectives_from_the_kpi_table_equal_the_comparisons(run):
    """The Compare page draws the frontier from the KPI table before the tests are computed, then
    from the comparison: the same objective values and the same efficient models either way."""
    store, run_id = run
    comp = A.compare_run(store, run_id, metrics=("quality",), use_champion=False)
    table = A.kpi_table(store, run_id, intervals=False)
    frame, efficient = A.kpi_pareto(table, list(table.models))
    assert list(frame.columns) == list(rules.PARETO_COLUMNS)
    assert efficient == {p.model: p.efficient for p in comp.pareto} and any(efficient.values())
    want = comp.pareto_table.set_index("model")
    for r in frame.itertuples(index=False):
        for col in ("quality", "latency_ms", "cost"):
            assert getattr(r, col) == pytest.approx(want.loc[r.model, col], rel=1e-9), (r.model, col)
        assert (r.memory_needed_mb is None or math.isnan(r.memory_needed_mb)) == (want.loc[r.model, "memory_needed_mb"] is None
                                                                                   or math.isnan(want.loc[r.model, "memory_needed_mb"]))


def test_the_recommendations_best_is_the_best_quality_rule(run):
    store, run_id = run
    rec = A.recommend(store, run_id)
    t = A.compare_run(store, run_id, metrics=("quality",), use_champion=False).pareto_table.set_index("model")
    efficient = list(rec.efficient)
    best = rules.best_quality({m: t.loc[m, "quality"] for m in efficient}, {m: t.loc[m, "latency_ms"] for m in efficient})
    assert rec.considered[0] == best
