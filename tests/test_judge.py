"""The LLM judge (core.rubrics, core.judge, core.judging, `python -m core judge`): rubrics, parsing,
refusals, the cache, pending judgements and resume, pairwise verdicts, and real local judges end to end."""
from __future__ import annotations

import json

import pytest

from core import catalog, prompts
from core.judge import Judge, JudgeUnavailableError, check_not_self
from core.judging import judge_run, judgement_counts, pairwise_run
from core.queries.aggregate import aggregate
from core.queries.judgements import judge_costs, latest_judgements, pairwise_judgements
from core.rubrics import (
    JudgeParseError,
    RubricError,
    bundled_rubrics,
    check_judge_params,
    parse_preference,
    parse_score,
    render_rubric,
)
from core.runner import Runner
from core.schemas import GenerationParams, Measurement, RunSpec
from core.scoring import score_batch
from tests.conftest import demo_available

JUDGE = {"name": "judge", "params": {"model": "demo-small", "rubric": "correctness", "scale": [0, 10], "reference": True}}
ITEMS = [("q1", "Capital of Peru?", "Lima"), ("q2", "Capital of Poland?", "Warsaw"), ("q3", "2 + 2 =", "4")]


# --------------------------------------------------------------------------- rubrics and parsing


def test_bundled_rubrics_render_with_their_placeholders():
    assert {"correctness", "helpfulness", "business-email", "summary-faithfulness", "pairwise"} <= set(bundled_rubrics())
    text = render_rubric("correctness", "Capital of Peru?", "Lima", "lima", [0, 10])
    assert "Question: Capital of Peru?" in text and "Reference: Lima" in text and "Answer: lima" in text
    assert "Score: 0 if the answer is wrong or 10 if" in text and "{" not in text


def test_placeholders_are_substituted_once_and_literally():
    # an answer holding braces or another placeholder stays as written (never str.format, never a second pass)
    text = render_rubric("Q: {prompt}\nA: {answer}\nR: {reference}", "p {answer}", "r", "{prompt} {0} {x!r}", [1, 5])
    assert text == "Q: p {answer}\nA: {prompt} {0} {x!r}\nR: r"


def test_parse_score_takes_the_first_score_line_within_the_scale():
    assert parse_score("Reasoning...\nScore: 7\nScore: 2", [0, 10]) == 7.0
    assert parse_score("  score = 3.5", [0, 10]) == 3.5
    with pytest.raises(JudgeParseError, match="no 'Score: N' line"):
        parse_score("I would give it a seven.", [0, 10])
    with pytest.raises(JudgeParseError, match="outside the scale"):
        parse_score("Score: 11", [0, 10])
    with pytest.raises(JudgeParseError):
        parse_score("The score: 5", [0, 10])  # not at the start of a line


def test_parse_preference():
    assert parse_preference("Preferred: a") == "A" and parse_preference("x\nPreferred: B") == "B"
    assert parse_preference("preferred = TIE") == "tie"
    with pytest.raises(JudgeParseError):
        parse_preference("Both are fine")


@pytest.mark.parametrize("params, message", [
    ({"model": "demo-small", "rubric": "Grade this: {prompt}"}, r"placeholder \{answer\}"),
    ({"model": "demo-small", "rubric": "A: {answer}", "reference": True}, r"placeholder \{reference\}"),
    ({"model": "demo-small", "rubric": "no-such-rubric"}, "unknown rubric 'no-such-rubric'; bundled rubrics: .*correctness"),
    ({"rubric": "correctness"}, "params.model is required"),
    ({"model": "demo-small", "rubric": "correctness", "scale": [10, 0]}, "min < max"),
    ({"model": "demo-small", "rubric": "correctness", "temperature": 1}, "unknown params temperature"),
])
def test_bad_judge_params_are_refused_with_what_to_fix(params, message):
    with pytest.raises(RubricError, match=message):
        check_judge_params(params)


def test_prompt_set_with_a_bad_rubric_is_refused_at_load(store):
    bad = {"id": "a", "prompt": "p", "reference": "r", "scorers": [{"name": "judge", "params": {
        "model": "demo-small", "rubric": "Rate: {prompt}"}}]}
    with pytest.raises(prompts.PromptSetError, match=r"line 2: scorers: .*placeholder \{answer\}"):
        prompts.import_bytes(store, (json.dumps({"id": "ok", "prompt": "p"}) + "\n" + json.dumps(bad)).encode(),
                             filename="bad.jsonl", name="bad")
    assert store.imported_prompt_sets() == []  # nothing stored


# --------------------------------------------------------------------------- a stored run without model calls


def _import_set(store, judge=JUDGE, name="judged", items=ITEMS, extra=()):
    lines = [json.dumps({"id": i, "prompt": p, "reference": r, "scorers": [*extra, judge]}) for i, p, r in items]
    return prompts.import_bytes(store, "\n".join(lines).encode(), filename=f"{name}.jsonl", name=name)


def _stored_run(store, outputs: dict[str, dict[str, str]], set_name="judged", repeats=1):
    """A run of the imported set whose samples are stored directly (outputs[model][item_id]): no generation."""
    from core.runner import plan

    runner = Runner(store)
    run_id = runner.create(RunSpec(models=tuple(outputs), prompt_set=set_name, repeats=repeats, device="cpu"))
    row = store.get_run(run_id)
    ps = prompts.run_set(store, row)
    planned = plan(run_id, row.spec, ps, row.manifest["model_versions"])
    results = score_batch([outputs[p.model][p.item.id] for p in planned], [p.item for p in planned])
    rows = [{"result_key": p.key, "run_id": run_id, "model": p.model, "model_version": p.model_version, "backend": "test",
             "prompt_set": ps.name, "prompt_set_hash": ps.content_hash, "item_id": p.item.id, "category": "general",
             "repeat": p.repeat, "seq": p.seq, "status": "ok", "attempts": 1, "latency_ms": 10.0, "input_tokens": 5,
             "output_tokens": 2, "output_text": outputs[p.model][p.item.id], "quality": r.quality, "passed": r.passed,
             "scores": json.dumps(r.scores)} for p, r in zip(planned, results, strict=True)]
    store.append_samples(rows)
    store.set_run_status(run_id, "completed")
    return run_id


class FakeBackend:
    """A scripted judge: script(judge prompt) -> answer text, or an exception to raise."""

    def __init__(self, script):
        self.script, self.calls = script, 0

    def generate(self, item, params, *, deadline, cancel, seed):
        self.calls += 1
        out = self.script(item.prompt)
        if isinstance(out, BaseException):
            raise out
        return Measurement(text=out, latency_ms=4.0, ttft_ms=None, input_tokens=len(item.prompt.split()),
                           output_tokens=3, peak_rss_mb=None, peak_accel_mb=None)

    def classify_error(self, exc):
        return getattr(exc, "error_kind", "runtime")


class Down(ConnectionError):
    error_kind = "connection"


def _opener(store, backend):
    return lambda name: Judge(catalog.get_spec(name, store), backend, store=store)


def _grader(prompt: str) -> str:
    """A judge that is right: 10 when the answer line equals the reference line, else 0."""
    lines = dict(line.split(": ", 1) for line in prompt.splitlines() if ": " in line and not line.startswith("Reply"))
    return "Score: 10" if lines["Answer"].strip().lower() == lines["Reference"].strip().lower() else "Score: 0"


OUTPUTS = {"demo-tiny": {"q1": "Lima", "q2": "Paris", "q3": "4"}, "demo-base": {"q1": "Lima", "q2": "Warsaw", "q3": "5"}}


def _scores(store, run_id):
    df = store.samples_df(run_id, columns=["model", "item_id", "quality", "passed", "scores", "latency_ms"])
    return {(r.model, r.item_id): (r.quality, json.loads(r.scores), r.latency_ms) for r in df.itertuples()}


def test_judge_scores_become_ordinary_scores(store):
    _import_set(store, extra=[{"name": "exact_match"}])
    run_id = _stored_run(store, OUTPUTS)
    before = _scores(store, run_id)
    assert "judge" not in before[("demo-tiny", "q1")][1]  # pending until judged; the other scores are there
    fake = FakeBackend(_grader)
    summary = judge_run(store, run_id, open_judge=_opener(store, fake))
    # both models answered q1 "Lima": one judge prompt, asked once
    assert summary.counts == {"ok": 6} and summary.calls == 5 == fake.calls
    after = _scores(store, run_id)
    assert after[("demo-tiny", "q1")][1] == {"exact_match": 1.0, "judge": 1.0}
    assert after[("demo-tiny", "q2")][:2] == (0.0, {"exact_match": 0.0, "judge": 0.0})
    assert all(after[k][2] == before[k][2] for k in after)  # the samples' timing is untouched
    agg = aggregate(store, run_id, scorers=["judge"]).set_index("model")
    assert agg.loc["demo-base", "score_judge_mean"] == pytest.approx(2 / 3)
    assert agg.loc["demo-base", "quality_mean"] == pytest.approx(10 * 2 / 3)
    counts = judgement_counts(store, run_id)
    assert counts[["expected", "judged", "errored", "pending"]].sum().tolist() == [6, 6, 0, 0]
    rows = latest_judgements(store, run_id)
    assert set(rows["judge_model"]) == {"demo-small"} and rows["cached"].sum() == 1
    assert (rows.loc[~rows["cached"], "input_tokens"] > 0).all() and (rows.loc[~rows["cached"], "latency_ms"] == 4.0).all()
    assert judge_costs(store, run_id)[["calls", "cached"]].values.tolist() == [[5, 1]]


def test_second_pass_makes_no_model_call_and_another_run_hits_the_cache(store):
    _import_set(store)
    run_id = _stored_run(store, OUTPUTS)
    fake = FakeBackend(_grader)
    judge_run(store, run_id, open_judge=_opener(store, fake))
    n_rows = len(store.query_df("SELECT * FROM judgements"))
    again = judge_run(store, run_id, open_judge=_opener(store, fake))
    assert fake.calls == 5 and again.calls == 0 and again.counts == {"ok": 6}
    assert len(store.query_df("SELECT * FROM judgements")) == n_rows  # current verdicts: nothing written
    other = _stored_run(store, OUTPUTS)  # same prompts, same answers, same judge and rubric
    third = judge_run(store, other, open_judge=_opener(store, fake))
    assert fake.calls == 5 and third.cached == 6
    assert latest_judgements(store, other)["cached"].all()
    assert judge_costs(store, other)[["calls", "input_tokens"]].values.tolist() == [[0, 0]]


def test_an_unparseable_answer_is_a_judge_error_never_a_zero(store):
    _import_set(store)
    run_id = _stored_run(store, OUTPUTS)
    judge_run(store, run_id, open_judge=_opener(store, FakeBackend(lambda p: "Looks fine to me {}")))
    rows = latest_judgements(store, run_id)
    assert set(rows["status"]) == {"error"} and set(rows["error_kind"]) == {"parse"}
    assert set(rows["raw_text"]) == {"Looks fine to me {}"} and rows["score"].isna().all()
    after = _scores(store, run_id)
    assert all(q is None or q != q for q, s, _ in after.values()) and all("judge" not in s for _, s, _ in after.values())
    assert judgement_counts(store, run_id)["errored"].sum() == 6


def test_an_unreachable_judge_leaves_judgements_pending_and_judge_resumes(store):
    _import_set(store, extra=[{"name": "exact_match"}])
    run_id = _stored_run(store, OUTPUTS)
    down = FakeBackend(lambda p: Down("connection refused"))
    summary = judge_run(store, run_id, open_judge=_opener(store, down))
    assert summary.counts == {"pending": 6} and down.calls == 3  # the breaker stops asking after 3 in a row
    assert _scores(store, run_id)[("demo-tiny", "q1")][1] == {"exact_match": 1.0}  # the other scores stay
    assert judgement_counts(store, run_id)["pending"].sum() == 6
    assert "connection refused" in latest_judgements(store, run_id)["error_message"].iloc[0]
    from core.analysis.kpis import kpi_table

    notes = kpi_table(store, run_id, intervals=False).notes  # the KPI table (and the reports) say how many
    assert f"demo-tiny, judge scorer 'judge': 3 judgements pending (judge unreachable or not run yet; `python -m core judge {run_id}`" in " ".join(notes)
    up = FakeBackend(_grader)
    judge_run(store, run_id, open_judge=_opener(store, up))
    assert up.calls == 5 and judgement_counts(store, run_id)["judged"].sum() == 6


def test_a_crash_mid_judging_loses_nothing_and_resume_judges_the_rest(store, monkeypatch):
    import core.judging

    monkeypatch.setattr(core.judging, "CHUNK", 2)
    _import_set(store)
    run_id = _stored_run(store, OUTPUTS)

    def crash_after_three(prompt, state={"n": 0}):  # noqa: B006 - a counter across calls
        state["n"] += 1
        return SystemExit("killed") if state["n"] > 3 else _grader(prompt)

    with pytest.raises(SystemExit):
        judge_run(store, run_id, open_judge=_opener(store, FakeBackend(crash_after_three)))
    # chunks of 2: base q1, q2 (2 calls) | base q3, tiny q1 (1 call: tiny q1 = base q1, cached) | crash
    assert judgement_counts(store, run_id)["judged"].sum() == 4  # the chunks before the crash were stored
    fake = FakeBackend(_grader)
    judge_run(store, run_id, open_judge=_opener(store, fake))
    assert judgement_counts(store, run_id)["judged"].sum() == 6 and fake.calls == 2


def test_unknown_judge_model_is_refused_at_run_start(store):
    _import_set(store, judge={"name": "judge", "params": {"model": "no-such-judge", "rubric": "correctness"}})
    with pytest.raises(RubricError, match="judge scorer: unknown model 'no-such-judge'"):
        Runner(store).create(RunSpec(models=("demo-tiny",), prompt_set="judged", device="cpu"))
    assert store.runs_df().empty


def test_a_judge_never_grades_its_own_answers(store):
    _import_set(store)  # judge: demo-small
    with pytest.raises(RubricError, match="judge model 'demo-small' would grade its own answers as evaluated model 'demo-small'"):
        Runner(store).create(RunSpec(models=("demo-tiny", "demo-small"), prompt_set="judged", device="cpu"))
    twin = catalog.make_spec("small-twin", str(catalog.resolve_path(catalog.get_spec("demo-small"))))
    with pytest.raises(RubricError, match="'demo-small' would grade its own answers as evaluated model 'small-twin' "
                                          r"\(both load .*demo-small"):
        check_not_self(catalog.get_spec("demo-small"), twin)
    assert store.runs_df().empty


def test_pairwise_verdicts_in_both_orders(store):
    _import_set(store)
    run_id = _stored_run(store, OUTPUTS)
    always_a = FakeBackend(lambda p: "Preferred: A")
    pairwise_run(store, run_id, "demo-tiny", "demo-base", open_judge=_opener(store, always_a))
    rows = pairwise_judgements(store, run_id)
    assert len(rows) == 6 and set(rows["answer_order"]) == {"AB", "BA"} and set(rows["preference"]) == {"A"}
    # position bias: the answer shown first wins in both orders
    assert rows.set_index(["item_id", "answer_order"]).loc[("q1", "AB"), "winner"] == "demo-tiny"
    assert rows.set_index(["item_id", "answer_order"]).loc[("q1", "BA"), "winner"] == "demo-base"
    judge = Judge(catalog.get_spec("demo-small"), FakeBackend(lambda p: "Preferred: tie"))
    assert judge.prefer("q", "r", "a", "b") == "tie"
    with pytest.raises(JudgeParseError):
        Judge(catalog.get_spec("demo-small"), FakeBackend(lambda p: "hmm")).prefer("q", "r", "a", "b")
    with pytest.raises(JudgeUnavailableError):
        Judge(catalog.get_spec("demo-small"), FakeBackend(lambda p: Down("down"))).prefer("q", "r", "a", "b")


def test_cli_judge_json_and_bad_input(store, db_path, capsys):
    from core.cli.main import main

    _import_set(store)
    run_id = _stored_run(store, OUTPUTS)
    assert main(["judge", run_id, "--scorer", "nope", "--db", str(db_path)]) == 2
    assert "has no judge scorer 'nope'; its judge scorers: judge" in capsys.readouterr().err
    assert main(["judge", "no-such-run", "--db", str(db_path)]) == 2
    assert main(["judge", run_id, "--pairwise", "demo-tiny", "demo-tiny", "--db", str(db_path)]) == 2


# --------------------------------------------------------------------------- real judges end to end


@pytest.mark.skipif(not demo_available("demo-tiny") or not demo_available("demo-base"), reason="demo models not trained")
def test_demo_tiny_as_a_real_local_judge_end_to_end(store, db_path, loader, capsys):
    """The runner judges demo-base's answers with demo-tiny after demo-base's generation. demo-tiny was
    never trained to judge: its answers are judge errors (stored with their text) unless they hold a score."""
    from core.cli.main import main

    judge = {"name": "judge", "params": {"model": "demo-tiny", "rubric": "correctness", "reference": True}}
    _import_set(store, judge=judge, extra=[{"name": "exact_match"}])
    runner = Runner(store, loader=loader)
    run_id = runner.create(RunSpec(models=("demo-base",), prompt_set="judged", device="cpu",
                                   generation=GenerationParams(max_new_tokens=8)))
    assert runner.execute(run_id).status == "completed"
    rows = latest_judgements(store, run_id)
    assert len(rows) == 3 and set(rows["status"]) <= {"ok", "error"} and rows["raw_text"].notna().all()
    assert (rows["output_tokens"] > 0).all() and (rows["latency_ms"] > 0).all()
    assert (rows.loc[rows["status"] == "error", "error_kind"] == "parse").all()
    for (_, _), (q, scores, _) in _scores(store, run_id).items():
        assert "exact_match" in scores  # the sample's other scores stay, whatever the judge said
    assert main(["judge", run_id, "--json", "--db", str(db_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["calls"] == 0 and sum(out["verdicts"].values()) == 3  # re-judging costs nothing


@pytest.mark.skipif(not demo_available("demo-judge") or "demo-judge" not in catalog.all_specs(),
                    reason="demo-judge not trained yet (scripts/train_demo_models.py --only demo-judge)")
def test_demo_judge_grades_demo_tiny_end_to_end(store, loader):
    judge = {"name": "judge", "params": {"model": "demo-judge", "rubric": "correctness", "scale": [0, 10], "reference": True}}
    qa = prompts.get_set("demo-qa").limited(12)
    _import_set(store, judge=judge, extra=[{"name": "exact_match"}],
                items=[(i.id, i.prompt, i.reference) for i in qa.items])
    runner = Runner(store, loader=loader)
    run_id = runner.create(RunSpec(models=("demo-tiny",), prompt_set="judged", device="cpu",
                                   generation=GenerationParams(max_new_tokens=10)))
    runner.execute(run_id)
    rows = latest_judgements(store, run_id)
    assert len(rows) == 12 and (rows["status"] == "ok").mean() >= 0.9
    agree = [(s.get("judge") is not None and s["judge"] == s["exact_match"]) for _, s, _ in _scores(store, run_id).values()]
    assert sum(agree) / len(agree) >= 0.75
