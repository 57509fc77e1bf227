"""The blind human rating as an ordinary per-sample metric (core.analysis.rating_metric): compare, gate, reports."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench.analysis import synthetic_run
from core import analysis as A
from core import queries
from core import ratings as R
from core.analysis.rating_metric import with_human_rating
from core.cli import main
from core.reports import ReportOptions, build_report
from core.stats.metric_registry import by_alias, sample_metrics

N_ITEMS = 6


def _rate(store, run_id: str) -> None:
    """Two raters; model-00's answer is rated higher than model-01's on every prompt; bob corrects one rating."""
    for rater, bump in (("ann", 0.0), ("bob", 1.0)):
        q = R.queue(store, rater, run_id, "absolute")
        for u in q.units:
            R.submit(store, q, u, score=(8.0 if u.models[0] == "model-00" else 4.0) + bump)
    q = R.queue(store, "bob", run_id, "absolute")
    unit = next(u for u in q.units if u.models[0] == "model-00" and u.item_id == q.units[0].item_id)
    R.submit(store, q, unit, score=7.0)  # the later row wins: bob's rating of this answer is 7, not 9


@pytest.fixture
def rated(store):
    run_id = synthetic_run(store, run_id="hr", n_models=2, n_items=N_ITEMS, repeats=2, error_rate=0.0)
    _rate(store, run_id)
    return store, run_id


def test_the_registry_knows_the_metric():
    info = by_alias("human_rating")
    assert info is not None and info in sample_metrics()
    assert (info.label, info.unit, info.lower_is_better, info.effect, info.margin, info.diff_unit) == (
        "human rating", "points", False, "difference", 0.5, "points")
    assert info.heading == "Human rating, blind, mean over raters (0-10)"


def test_fetch_carries_the_mean_of_each_raters_latest_rating_nan_when_unrated(rated):
    store, run_id = rated
    df = queries.fetch(store, run_id, columns=["model", "item_id", "repeat", "seq", "human_rating"])
    first = df[df["repeat"] == 0]
    assert df.loc[df["repeat"] == 1, "human_rating"].isna().all()  # the queue rates the first repeat only
    low = first[first["model"] == "model-01"]["human_rating"]
    assert np.allclose(low, 4.5)
    high = first[first["model"] == "model-00"]["human_rating"].to_numpy()
    assert sorted(high) == [7.5] + [8.5] * (N_ITEMS - 1)  # (8 + 7) / 2 after bob's correction
    assert len(df) == 2 * N_ITEMS * 2  # the join adds no rows
    plain = queries.fetch(store, run_id, columns=["model", "item_id", "seq"])
    assert list(plain.columns) == ["model", "item_id", "seq", "passed"]


def test_compare_gives_the_direction_and_the_rated_prompts(rated):
    store, run_id = rated
    comp = A.compare_run(store, run_id, metrics=["human_rating"], baseline="model-00")
    (c,) = comp.comparisons
    assert (c.metric, c.model_a, c.model_b, c.paired) == ("human_rating", "model-01", "model-00", True)
    assert c.n_pairs == N_ITEMS and c.direction == "b_higher" and c.difference.estimate < -3.5
    assert "model-00 scores" in comp.verdicts()[0] and "points higher on human rating" in comp.verdicts()[0]
    note = next(n for n in comp.notes if n.startswith("human rating:"))
    assert f"model-01 {N_ITEMS} of {2 * N_ITEMS}" in note and f"model-00 {N_ITEMS} of {2 * N_ITEMS}" in note


def test_cli_compare_accepts_the_metric(rated, db_path, capsys):
    _, run_id = rated
    assert main(["compare", run_id, "--db", str(db_path), "--metrics", "human_rating,quality", "--baseline", "model-00",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = [c for c in out["comparisons"] if c["metric"] == "human_rating"]
    assert len(rows) == 1 and rows[0]["n_pairs"] == N_ITEMS
    assert main(["compare", run_id, "--db", str(db_path), "--metrics", "human_rating", "--baseline", "model-00"]) == 0
    assert "human rating" in capsys.readouterr().out


@pytest.mark.parametrize(("candidate", "baseline", "code"), [("model-00", "model-01", 0), ("model-01", "model-00", 1)])
def test_the_gate_decides_a_human_rating_rule(rated, db_path, capsys, candidate, baseline, code):
    _, run_id = rated
    assert main(["gate", "--db", str(db_path), "--baseline", f"{run_id}:{baseline}", "--candidate", f"{run_id}:{candidate}",
                 "--rule", "human_rating >= -0.5"]) == code
    assert ("PASS" if code == 0 else "FAIL") in capsys.readouterr().out


def test_the_gate_across_runs(store, db_path, capsys):
    for run_id in ("hr1", "hr2"):
        synthetic_run(store, run_id=run_id, n_models=2, n_items=N_ITEMS, repeats=1, error_rate=0.0)
        _rate(store, run_id)
    assert main(["gate", "--db", str(db_path), "--baseline", "hr1:model-01", "--candidate", "hr2:model-00",
                 "--rule", "human_rating >= -0.5"]) == 0
    assert main(["gate", "--db", str(db_path), "--baseline", "hr1:model-00", "--candidate", "hr2:model-01",
                 "--rule", "human_rating >= -0.5pts"]) == 1


def test_a_run_without_ratings_is_unaffected(store, db_path, capsys):
    outputs = []
    for run_id in ("r-plain", "r-rated"):  # the same synthetic samples; only the second is rated
        synthetic_run(store, run_id=run_id, n_models=2, n_items=N_ITEMS, repeats=1, error_rate=0.0)
    _rate(store, "r-rated")
    for run_id in ("r-plain", "r-rated"):
        assert main(["compare", run_id, "--db", str(db_path), "--baseline", "model-00"]) == 0
        outputs.append(capsys.readouterr().out.replace(run_id, "RUN"))
    assert outputs[0] == outputs[1]  # the default metrics do not include the ratings
    comp = A.compare_run(store, "r-plain", metrics=["human_rating", "quality"], baseline="model-00")
    assert [c.metric for c in comp.comparisons] == ["quality"]
    assert "human_rating: no values in this run, not compared" in comp.notes


def test_the_report_compares_the_rating_only_when_the_run_has_ratings(rated):
    store, run_id = rated
    plain = synthetic_run(store, run_id="plain", n_models=2, n_items=N_ITEMS, repeats=1, error_rate=0.0)
    o = ReportOptions(n_resamples=200)
    assert any("human rating" in " ".join(r) for r in build_report(store, run_id, o).comparison.rows)
    assert not any("human rating" in " ".join(r) for r in build_report(store, plain, o).comparison.rows)
    assert with_human_rating(store, [plain], ("quality",)) == ("quality",)
    assert with_human_rating(store, [plain, run_id], ("quality",)) == ("quality", "human_rating")
