"""Blind human ratings (core.ratings): the queue, submissions, latest-wins, statistics, on a real DuckDB file."""
from __future__ import annotations

import pandas as pd
import pytest

from bench.analysis import synthetic_run
from core import ratings as R
from core.queries import ratings as rq
from core.store import Store


@pytest.fixture
def run(store):
    return store, synthetic_run(store, run_id="rate", n_models=3, n_items=6, repeats=2, error_rate=0.0)


def test_migration_creates_append_only_tables(store):
    assert "0011_ratings" in store.applied_migrations()
    assert rq.history(store, "nothing").empty and not rq.has_ratings(store, "nothing")


def test_absolute_queue_covers_first_repeat_of_each_model_and_item(run):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "absolute")
    assert q.total == 3 * 6 and q.done == 0 and q.progress == 0
    assert {u.repeat for u in q.units} == {0} and len({u.key for u in q.units}) == 18
    assert all(u.mode == "absolute" and len(u.models) == 1 for u in q.units)


def test_pairwise_queue_has_every_pair_once_and_sides_vary(run):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "pairwise")
    assert q.total == 3 * 6  # three pairs of three models, six items
    assert len({u.key for u in q.units}) == q.total
    firsts = [u.models[0] == min(u.models) for u in q.units]
    assert any(firsts) and not all(firsts)  # sides are randomised, not alphabetical
    assert len(R.queue(store, "ann", run_id, "pairwise", models=("model-00", "model-01")).units) == 6


def test_blind_order_is_reproducible_per_rater_and_differs_between_raters(run, db_path):
    store, run_id = run
    a1 = R.queue(store, "ann", run_id, "pairwise")
    a2 = R.queue(Store(db_path), "ann", run_id, "pairwise")  # come back later, another connection
    b = R.queue(store, "bob", run_id, "pairwise")
    assert a1.seed == a2.seed and a1.units == a2.units
    assert a1.seed != b.seed
    assert [u.key for u in a1.units] != [u.key for u in b.units]
    assert [u.models for u in a1.units] != [u.models for u in sorted(b.units, key=lambda u: [x.key for x in a1.units].index(u.key))]
    assert store.rater_seed("ann", run_id, "pairwise", 12345) == a1.seed  # the stored seed is kept


def _units_one_group_at_a_time(answers: pd.DataFrame, mode: str, seed: int) -> list[tuple]:
    """The queue as first written (a loop over every (item, repeat) group): the reference the
    column-wise build must equal."""
    from itertools import combinations

    first = answers[answers["repeat"] == answers.groupby("item_id")["repeat"].transform("min")]
    out = []
    for (item, rep), g in first.groupby(["item_id", "repeat"], sort=True):
        text = dict(zip(g["model"], g["output_text"], strict=True))
        groups = [(m,) for m in sorted(text)] if mode == "absolute" else combinations(sorted(text), 2)
        for models in groups:
            key = R.unit_key(str(item), int(rep), models)
            if len(models) == 2 and R._digest(seed, key)[-1] & 1:
                models = (models[1], models[0])
            out.append((key, tuple(models), tuple(text[m] for m in models)))
    return sorted(out, key=lambda t: R._digest(seed, t[0]))


@pytest.mark.parametrize("mode", R.MODES)
def test_the_column_wise_queue_equals_the_group_loop_and_is_rebuilt_when_answers_change(run, mode):
    """At a million samples the queue is built column-wise and kept between page reruns; it must be
    the queue the plain loop gives, and a change in the run's answers must rebuild it."""
    store, run_id = run
    q = R.queue(store, "ann", run_id, mode)
    expected = _units_one_group_at_a_time(rq.rateable(store, run_id), mode, q.seed)
    assert [(u.key, u.models, u.answers) for u in q.units] == expected
    assert R.queue(store, "ann", run_id, mode).units is q.units  # kept: the rerun after a rating is cheap
    gone = q.units[0]
    with store.connect() as con:  # one answer of the first repeat turns into an error
        con.execute("UPDATE samples SET status = 'error' WHERE run_id = ? AND item_id = ? AND \"repeat\" = ? AND model = ?",
                    [run_id, gone.item_id, gone.repeat, gone.models[0]])
    again = R.queue(store, "ann", run_id, mode)
    assert again.total < q.total and gone.key not in {u.key for u in again.units}


def test_resume_continues_where_the_rater_stopped(run):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "absolute")
    first, second = q.units[0], q.units[1]
    assert q.next_unit() == first
    R.submit(store, q, first, score=7, comment="fine")
    q = R.queue(store, "ann", run_id, "absolute")
    assert q.done == 1 and q.next_unit() == second and q.position(second) == 2
    assert R.queue(store, "bob", run_id, "absolute").done == 0  # progress is per rater


@pytest.mark.parametrize("kwargs, message", [
    ({"score": 11}, "from 0 to 10"), ({"score": -1}, "from 0 to 10"), ({"score": float("nan")}, "from 0 to 10"),
    ({"score": "good"}, "must be a number"), ({"score": None}, "must be a number"),
    ({"score": 5, "comment": "x" * 3000}, "at most 2000"),
])
def test_bad_absolute_submissions_are_refused_and_store_nothing(run, kwargs, message):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "absolute")
    with pytest.raises(R.RatingError, match=message):
        R.submit(store, q, q.units[0], **kwargs)
    assert rq.history(store, run_id).empty


def test_bad_pairwise_input_and_bad_requests_are_refused(run):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "pairwise")
    for bad in ("C", None, "a", 1):
        with pytest.raises(R.RatingError, match="A, B or tie"):
            R.submit(store, q, q.units[0], preference=bad)
    with pytest.raises(R.RatingError, match="rater name"):
        R.queue(store, "   ", run_id, "absolute")
    with pytest.raises(R.RatingError, match="unknown rating mode"):
        R.queue(store, "ann", run_id, "ranking")
    with pytest.raises(R.RatingError, match="no run 'missing'"):
        R.queue(store, "ann", "missing", "absolute")
    with pytest.raises(R.RatingError, match="at least two models"):
        R.queue(store, "ann", run_id, "pairwise", models=("model-00",))
    stranger = R.Unit("item-9999", 0, ("model-00",), ("x",))
    with pytest.raises(R.RatingError, match="not in this rater's queue"):
        R.submit(store, R.queue(store, "ann", run_id, "absolute"), stranger, score=5)
    assert rq.history(store, run_id).empty


def test_two_tabs_submitting_one_unit_keep_both_rows_and_the_later_wins(run, db_path):
    store, run_id = run
    tab1 = R.queue(store, "ann", run_id, "pairwise")
    tab2 = R.queue(Store(db_path), "ann", run_id, "pairwise")
    unit = tab1.units[0]
    s1 = R.submit(store, tab1, unit, preference="A")
    s2 = R.submit(Store(db_path), tab2, tab2.units[0], preference="tie")
    assert s2 > s1
    hist = rq.history(store, run_id, rater="ann")
    assert list(hist["preference"]) == ["A", "tie"] and list(hist["seq"]) == [s1, s2]
    latest = rq.latest(store, run_id, "pairwise")
    assert len(latest) == 1 and latest.iloc[0]["preference"] == "tie"
    assert R.queue(store, "ann", run_id, "pairwise").done == 1


def test_latest_wins_for_a_pair_whichever_side_each_model_was_shown(run):
    store, run_id = run
    q = R.queue(store, "ann", run_id, "pairwise")
    unit = q.units[0]
    swapped = R.Unit(unit.item_id, unit.repeat, unit.models[::-1], unit.answers[::-1])
    R.submit(store, q, unit, preference="A")
    R.submit(store, q, swapped, preference="A")  # the other model now, as shown on side A
    latest = rq.latest(store, run_id, "pairwise")
    assert len(latest) == 1
    prefs = R.preferences(latest)
    assert prefs.iloc[0]["winner"] == unit.models[1] and prefs.iloc[0]["outcome"] == "A"


def test_model_ratings_use_latest_rows_with_an_interval_clustered_by_prompt(run):
    store, run_id = run
    for rater, offset in (("ann", 0), ("bob", 1)):
        q = R.queue(store, rater, run_id, "absolute")
        for u in q.units:
            R.submit(store, q, u, score=min(10, int(u.models[0][-1]) * 3 + offset + int(u.item_id[-1]) % 2))
    q = R.queue(store, "ann", run_id, "absolute")
    fix = next(u for u in q.units if u.models[0] == "model-00")
    R.submit(store, q, fix, score=10)  # a correction: the later row counts, the earlier stays in the history
    latest = rq.latest(store, run_id, "absolute")
    assert len(latest) == 36 and len(rq.history(store, run_id)) == 37
    out = {r.model: r for r in R.model_ratings(latest, n_resamples=500)}
    assert set(out) == {"model-00", "model-01", "model-02"}
    m2 = out["model-02"]
    assert m2.ratings == 12 and m2.raters == 2 and m2.prompts == 6
    assert m2.interval.method == "cluster-bootstrap" and m2.interval.low <= m2.interval.estimate <= m2.interval.high
    sub = latest[latest["model"] == "model-00"]["score"]
    assert out["model-00"].interval.estimate == pytest.approx(sub.mean())
    assert out["model-00"].interval.estimate < out["model-01"].interval.estimate < m2.interval.estimate


def test_agreement_matrices_line_up_raters_per_unit(run):
    store, run_id = run
    for rater in ("ann", "bob"):
        qa, qp = R.queue(store, rater, run_id, "absolute"), R.queue(store, rater, run_id, "pairwise")
        for u in qa.units[:4]:
            R.submit(store, qa, u, score=5)
        for u in qp.units:
            R.submit(store, qp, u, preference="A" if u.models[0] == max(u.models) else "B")  # always the later name
    am = R.absolute_matrix(rq.latest(store, run_id, "absolute"))
    assert {"ann", "bob"} <= set(am.columns) and len(am) >= 4
    pm = R.pairwise_matrix(rq.latest(store, run_id, "pairwise"))
    assert len(pm) == 18 and (pm["ann"] == "B").all() and (pm["bob"] == "B").all()
    assert R.pairwise_matrix(pd.DataFrame()).empty and R.model_ratings(pd.DataFrame()) == []
