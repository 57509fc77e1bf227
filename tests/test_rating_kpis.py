"""The mean human rating in the KPI table (core.analysis.rating_kpis): on Results, `summary` and the report."""
from __future__ import annotations

import json

import pytest

from bench.analysis import synthetic_run
from core import analysis as A
from core import ratings as R
from core.cli import main


@pytest.fixture
def rated(store):
    run_id = synthetic_run(store, run_id="kr", n_models=2, n_items=6, repeats=1, error_rate=0.0)
    for rater, bump in (("ann", 0), ("bob", 1)):
        q = R.queue(store, rater, run_id, "absolute")
        for u in q.units:
            R.submit(store, q, u, score=(8 if u.models[0] == "model-01" else 3) + bump * (u.item_id[-1] in "02468"))
    return store, run_id


def test_the_kpi_table_has_the_mean_rating_with_its_interval_clustered_by_prompt(rated):
    store, run_id = rated
    t = A.kpi_table(store, run_id, by_category=True, n_resamples=200)
    iv = t.interval("model-01", "human_rating")
    assert iv is not None and iv.method == "cluster-bootstrap" and iv.n == 12
    assert iv.low <= iv.estimate <= iv.high and 8 <= iv.estimate <= 9
    assert "2 rater(s) on 6 prompts" in iv.note
    assert t.value("model-00", "human_rating") < 4 and t.definitions["human_rating"].has_interval
    rows = t.frame[t.frame["kpi"] == "human_rating"]
    assert rows["category"].isna().all() and set(rows["section"]) == {"quality"}  # overall rows only
    first = t.frame[t.frame["model"] == "model-01"]
    assert first["category"].isna().iloc[: first["category"].isna().sum()].all()  # before the model's categories
    assert "human_rating" in t.wide().columns and "human_rating_low" in t.wide().columns
    only = A.kpi_table(store, run_id, models=["model-00"], n_resamples=200)
    assert set(only.frame.loc[only.frame["kpi"] == "human_rating", "model"]) == {"model-00"}
    plain = A.kpi_table(store, run_id, intervals=False)
    assert plain.interval("model-01", "human_rating") is None and plain.value("model-01", "human_rating") > 8


def test_summary_shows_the_rating_and_an_unrated_run_does_not(rated, db_path, capsys):
    store, run_id = rated
    assert main(["summary", run_id, "--db", str(db_path)]) == 0
    assert "human_rating" in capsys.readouterr().out
    assert main(["summary", run_id, "--db", str(db_path), "--format", "json"]) == 0
    kpis = [k for k in json.loads(capsys.readouterr().out)["kpis"] if k["kpi"] == "human_rating"]
    assert len(kpis) == 2 and all(k["low"] is not None for k in kpis)
    plain = synthetic_run(store, run_id="unrated", n_models=2, n_items=3, repeats=1, error_rate=0.0)
    t = A.kpi_table(store, plain)
    assert "human_rating" not in set(t.frame["kpi"]) and "human_rating" not in t.definitions
