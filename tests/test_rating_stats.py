"""What human ratings say (core.rating_stats): agreement, the ranking, and the rating as a KPI in the exports."""
from __future__ import annotations

import io
import random

import pandas as pd
import pytest

from bench.analysis import synthetic_run
from core import rating_stats as RS
from core import ratings as R
from core import reports
from core.queries import ratings as rq


@pytest.fixture
def rated(store):
    """Three raters: absolute scores that follow the model's number, pairwise always the later model (some ties)."""
    run_id = synthetic_run(store, run_id="hr", n_models=3, n_items=8, repeats=1, error_rate=0.0)
    for rater in ("ann", "bob", "cy"):
        rnd = random.Random(rater)
        qa, qp = R.queue(store, rater, run_id, "absolute"), R.queue(store, rater, run_id, "pairwise")
        for u in qa.units:
            R.submit(store, qa, u, score=min(10, int(u.models[0][-1]) * 3 + rnd.randint(0, 2)))
        for u in qp.units:
            pref = "tie" if rnd.random() < 0.2 else "A" if u.models[0] == max(u.models) else "B"
            R.submit(store, qp, u, preference=pref)
    return store, run_id


def test_agreement_and_ranking_from_the_latest_ratings(rated):
    store, run_id = rated
    hr = RS.human_ratings(store, run_id, n_resamples=300)
    assert hr.counts == {"absolute": (72, 3), "pairwise": (72, 3)}  # 24 units (8 items x 3 models or pairs) x 3 raters
    a = hr.absolute_agreement
    assert a.statistic.startswith("Krippendorff") and a.raters == 3 and a.interval.estimate > 0.7
    assert a.interval.low <= a.interval.estimate <= a.interval.high and a.interval.method == "cluster-bootstrap"
    assert hr.pairwise_agreement.statistic == "Fleiss' kappa" and hr.pairwise_agreement.interval.estimate is not None
    assert [r.model for r in hr.ranking.leaderboard] == ["model-02", "model-01", "model-00"]
    assert hr.judge_absolute is None and hr.judge_pairwise is None  # no judge ran on this run
    assert [m.model for m in hr.models] == ["model-00", "model-01", "model-02"]


def test_two_raters_use_cohens_kappa_and_one_rater_has_no_agreement(store):
    run_id = synthetic_run(store, run_id="two", n_models=2, n_items=6, repeats=1, error_rate=0.0)
    q = R.queue(store, "ann", run_id, "pairwise")
    for u in q.units:
        R.submit(store, q, u, preference="A")
    assert RS.human_ratings(store, run_id, n_resamples=200).pairwise_agreement is None
    q = R.queue(store, "bob", run_id, "pairwise")
    for u in q.units:
        R.submit(store, q, u, preference="tie")
    assert RS.human_ratings(store, run_id, n_resamples=200).pairwise_agreement.statistic == "Cohen's kappa"


def test_rating_is_a_kpi_with_an_interval_in_the_csv_and_parquet_exports(rated):
    store, run_id = rated
    for fmt in ("csv", "parquet"):
        files = reports.files(store, run_id, fmt, f"out.{fmt}")
        data = files[f"out.kpis.{fmt}"]
        k = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
        rows = k[k["kpi"] == RS.RATING_METRIC]
        assert sorted(rows["model"]) == ["model-00", "model-01", "model-02"]
        assert (rows["low"] <= rows["value"]).all() and (rows["value"] <= rows["high"]).all()
        assert set(rows["method"]) == {"cluster-bootstrap"} and "mean human rating" in rows.iloc[0]["note"]
    plain = synthetic_run(store, run_id="unrated", n_models=2, n_items=3, repeats=1, error_rate=0.0)
    assert RS.RATING_METRIC not in set(reports.kpi_frame(store, plain)["kpi"])


# --------------------------------------------------------------------------- the judge against the raters, end to end

CAPITALS = [("c1", "Capital of Peru?", "Lima"), ("c2", "Capital of Poland?", "Warsaw"), ("c3", "Capital of Chile?", "Santiago"),
            ("c4", "Capital of Kenya?", "Nairobi"), ("c5", "Capital of Japan?", "Tokyo"), ("c6", "Capital of Egypt?", "Cairo"),
            ("c7", "Capital of Spain?", "Madrid"), ("c8", "Capital of Ghana?", "Accra")]
ANSWERS = {"demo-tiny": {"c1": "Lima", "c2": "Paris", "c3": "Santiago", "c4": "Oslo", "c5": "Tokyo", "c6": "Rome",
                         "c7": "Madrid", "c8": "Bern"},
           "demo-base": {"c1": "Lima", "c2": "Warsaw", "c3": "Lima", "c4": "Nairobi", "c5": "Tokyo", "c6": "Cairo",
                         "c7": "Madrid", "c8": "Accra"}}


def _prefer_right(prompt: str) -> str:
    """A scripted pairwise judge: the answer equal to the reference, else a tie."""
    lines = dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line and not line.startswith("Reply"))
    a, b = (lines[k].strip() == lines["Reference"].strip() for k in ("Answer A", "Answer B"))
    return "Preferred: A" if a and not b else "Preferred: B" if b and not a else "Preferred: tie"


def test_the_judge_against_the_raters_end_to_end(store):
    from core.judging import judge_run, pairwise_run
    from tests.test_judge import FakeBackend, _grader, _import_set, _opener, _stored_run

    _import_set(store, items=CAPITALS)
    run_id = _stored_run(store, ANSWERS)
    judge_run(store, run_id, open_judge=_opener(store, FakeBackend(_grader)))
    pairwise_run(store, run_id, "demo-tiny", "demo-base", open_judge=_opener(store, FakeBackend(_prefer_right)))
    right = {(m, i): a == dict((c, r) for c, _, r in CAPITALS)[i] for m, out in ANSWERS.items() for i, a in out.items()}
    for rater in ("ann", "bob"):
        qa, qp = R.queue(store, rater, run_id, "absolute"), R.queue(store, rater, run_id, "pairwise")
        for u in qa.units:
            R.submit(store, qa, u, score=10 if right[(u.models[0], u.item_id)] else 0)
        for u in qp.units:
            a, b = (right[(m, u.item_id)] for m in u.models)
            R.submit(store, qp, u, preference="A" if a and not b else "B" if b and not a else "tie")
    hr = RS.human_ratings(store, run_id, n_resamples=300)
    ja, jp = hr.judge_absolute, hr.judge_pairwise
    assert ja.n_units == 16 and ja.n_raters == 2 and ja.judge_kappa.estimate == pytest.approx(1.0)
    assert ja.spearman.estimate == pytest.approx(1.0) and ja.stands_in and "can stand in" in ja.sentence
    assert jp.n_units == 8 and jp.judge_kappa.estimate == pytest.approx(1.0) and jp.sentence
    prefs = RS.judge_preferences(store, run_id, n_resamples=300)
    assert prefs.bias.n_pairs == 8 and prefs.bias.n_order_dependent == 0  # this judge ignores the order
    assert [r.model for r in prefs.ranking.leaderboard] == ["demo-base", "demo-tiny"]


def test_two_tabs_submitting_the_same_unit_keep_both_rows_and_the_later_wins(store):
    run_id = synthetic_run(store, run_id="tabs", n_models=2, n_items=4, repeats=1, error_rate=0.0)
    tab1, tab2 = R.queue(store, "ann", run_id, "absolute"), R.queue(store, "ann", run_id, "absolute")
    unit = tab1.units[0]
    assert tab2.units[0] == unit  # the same rater sees the same order in both tabs
    R.submit(store, tab1, unit, score=2)
    R.submit(store, tab2, unit, score=9)  # the second tab never saw the first's submission
    hist = rq.history(store, run_id, rater="ann")
    assert list(hist["score"]) == [2.0, 9.0]
    latest = rq.latest(store, run_id, "absolute")
    assert list(latest["score"]) == [9.0]
    hr = RS.human_ratings(store, run_id, n_resamples=100)
    assert [(m.model, m.interval.estimate, m.ratings) for m in hr.models] == [(unit.models[0], 9.0, 1)]
