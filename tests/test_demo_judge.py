"""The bundled demo-judge (scripts/demo_judge.py, trained by scripts/train_demo_models.py): its data
comes from the training corpus only and is labelled by exact match; the bundled model agrees with exact
match on real demo-model answers, locally and served over HTTP by `transformers serve`."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from core import catalog, config
from core.judge import Judge
from core.prompts import get_set
from core.rubrics import render_rubric
from core.scoring import normalize
from tests.conftest import ROOT, demo_available

sys.path.insert(0, str(ROOT / "scripts"))
import demo_judge  # noqa: E402
import train_demo_models  # noqa: E402

JUDGE_DIR = config.MODELS_DIR / "demo-judge"
needs_judge = pytest.mark.skipif(
    not demo_available("demo-judge") or not demo_available("demo-small"),
    reason="demo models not trained (python scripts/train_demo_models.py --only demo-judge)")


# --------------------------------------------------------------------------- the synthetic data


def test_judge_data_is_the_training_corpus_rendered_as_the_product_renders_it():
    train, test = train_demo_models.build_data()
    template = demo_judge.rubric_text(ROOT)
    data = demo_judge.build_judge_data(train[::8], template, seed=7, per_example=4)
    held_out = [e.prompt for e in test]
    assert not any(p in ex.prompt for ex in data for p in held_out)  # never a demo-qa question
    kinds = {k for k, _ in demo_judge.KINDS}
    assert {ex.kind for ex in data} == kinds
    assert {ex.answer for ex in data} == {"Score: 0", "Score: 10"}
    for ex in data[:200]:
        question, reference, answer = _fields(ex.prompt)
        assert ex.prompt.rstrip("\n") == render_rubric("correctness", question, reference, answer, (0, 10)).rstrip("\n")
        assert ex.answer == ("Score: 10" if normalize(answer) == normalize(reference) else "Score: 0")
    right = [_fields(ex.prompt) for ex in data if ex.kind == "right"]
    assert all(normalize(a) == normalize(r) for _, r, a in right)
    restyled = [a != r for _, r, a in right]
    assert 0.2 < sum(restyled) / len(restyled) < 0.8  # case, punctuation, spacing
    wrong_restyled = [_fields(ex.prompt)[2] for ex in data if ex.kind == "other"]
    assert any(a != a.lower() and a != a.title() for a in wrong_restyled)  # wrong ones restyled too: style tells nothing
    wrong = [ex for ex in data if ex.kind in {"near", "truncated", "repeat", "other", "empty"}]
    assert sum(ex.answer == "Score: 0" for ex in wrong) > 0.9 * len(wrong)


def test_judge_data_swaps_references_so_that_knowing_the_fact_predicts_nothing(monkeypatch):
    # the judge must compare the answer with the reference, not answer the question itself: part of
    # the references are another answer of the family, and the true answer graded against them is a 0
    monkeypatch.setattr(demo_judge, "SWAPPED", 0.4)
    train, _ = train_demo_models.build_data()
    truth = {e.prompt: e.answer for e in train}
    data = demo_judge.build_judge_data(train[::8], demo_judge.rubric_text(ROOT), seed=7, per_example=4)
    fields = [(_fields(ex.prompt), ex) for ex in data]
    swapped = [(q, r, a, ex) for (q, r, a), ex in fields if r != truth[q]]
    assert 0.25 < len(swapped) / len(data) < 0.55
    true_graded = [ex for q, r, a, ex in swapped if normalize(a) == normalize(truth[q])]
    assert true_graded and all(ex.answer == "Score: 0" for ex in true_graded)
    assert any(ex.answer == "Score: 10" for *_, ex in swapped)
    for (q, r, a), ex in fields[:50]:
        lo, hi = ex.answer_span
        assert ex.prompt[lo:hi] == a


def test_judge_loss_is_on_the_graded_answer_and_the_verdict_only():
    train, _ = train_demo_models.build_data()
    data = demo_judge.build_judge_data(train[:40], demo_judge.rubric_text(ROOT), seed=3, per_example=2)
    tok = train_demo_models.train_tokenizer(data, max_length=256, lowercase=True)
    for ex in data[:20]:
        ids, labels = train_demo_models.encode_judge(tok, ex)
        learned = tok.decode([x for x in labels if x != -100], skip_special_tokens=True)
        _, reference, answer = _fields(ex.prompt)
        verdict = tok.decode(tok(" " + ex.answer, add_special_tokens=False)["input_ids"])
        assert learned.replace(" ", "") == (answer + verdict).lower().replace(" ", "").replace("score", "Score")
        assert len(ids) == len(labels)


def _fields(rendered: str) -> tuple[str, str, str]:
    """(question, reference, answer) back out of a rendered correctness rubric."""
    head, rest = rendered.split("\nQuestion: ", 1)
    question, rest = rest.split("\nReference: ", 1)
    reference, rest = rest.split("\nAnswer: ", 1)
    answer = rest.rsplit("\nReply with one line", 1)[0]
    return question, reference, answer


def test_agreement_and_kappa_against_a_hand_computed_table():
    # 40 both pass, 5 judge only, 5 exact only, 50 neither: agreement 0.9; chance agreement
    # 0.45 * 0.45 + 0.55 * 0.55 = 0.505; kappa (0.9 - 0.505) / (1 - 0.505) = 0.79798
    judge = np.array([True] * 45 + [False] * 55)
    exact = np.array([True] * 40 + [False] * 5 + [True] * 5 + [False] * 50)
    agreement, kappa, cells = demo_judge.agreement_stats(judge, exact, np.arange(100) // 2, seed=3, resamples=500)
    assert cells == (40, 5, 5, 50)
    assert agreement.estimate == pytest.approx(0.9) and kappa.estimate == pytest.approx(0.395 / 0.495)
    assert agreement.low < 0.9 < agreement.high and kappa.low < kappa.estimate < kappa.high
    assert (agreement.n_resamples, agreement.seed, agreement.method) == (500, 3, "cluster-bootstrap")


def test_model_card_says_which_loss_and_which_reference_swap_trained_the_judge(tmp_path, monkeypatch):
    ev = demo_judge.JudgeEval(n=720, n_prompts=240, agreement=0.8, agreement_ci=(0.77, 0.83), kappa=0.556,
                              kappa_ci=(0.49, 0.62), cells=(100, 20, 30, 570), errors=0,
                              per_model={"demo-tiny": (240, 0.3, 0.8)}, disagreements=())
    plan = train_demo_models.JUDGE_PLAN
    monkeypatch.setattr(demo_judge, "SWAPPED", 0.0)
    demo_judge.write_card(tmp_path, plan, 1_120_000, 100, 9.0, 0.95, ev, 42, 1, loss="all")
    card = (tmp_path / "README.md").read_text()
    assert "on every token" in card and "answers of the question's family" not in card
    assert "**80.0%**" in card and "77.0% to 83.0%" in card and "**0.556**" in card
    monkeypatch.setattr(demo_judge, "SWAPPED", 0.4)
    demo_judge.write_card(tmp_path, plan, 1_120_000, 100, 9.0, 0.95, ev, 42, 1, loss="answer")
    card = (tmp_path / "README.md").read_text()
    assert "in 40% of them the reference is drawn from the answers of the question's family" in card
    assert "never on the question" in card and "one token per digit" in card
    monkeypatch.setattr(demo_judge, "SWAPPED", 1.0)
    demo_judge.write_card(tmp_path, plan, 1_120_000, 100, 9.0, 0.95, ev, 42, 1, loss="answer", split_digits=False)
    card = (tmp_path / "README.md").read_text()
    assert "in every one of them the reference is drawn" in card and "numbers are BPE pieces" in card
    assert "never trained it" in card  # says how the design was chosen


def test_parse_verdict_passes_at_five_and_refuses_what_has_no_score():
    assert demo_judge.parse_verdict(" Score: 10") is True and demo_judge.parse_verdict("Score: 5") is True
    assert demo_judge.parse_verdict("Score: 4") is False
    assert demo_judge.parse_verdict("Paris") is None and demo_judge.parse_verdict("Score: 11") is None


# --------------------------------------------------------------------------- the bundled model


def _answers(n_items: int = 60) -> list[tuple[str, str, str]]:
    """(prompt, reference, answer) from real greedy generations: every fourth demo-qa item, answered by
    demo-tiny (mostly wrong) and demo-small (mostly right) in turn."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    items = get_set("demo-qa").items[::4][:n_items]
    out = []
    for name, chunk in (("demo-tiny", items[0::2]), ("demo-small", items[1::2])):
        tok = AutoTokenizer.from_pretrained(config.MODELS_DIR / name)
        model = AutoModelForCausalLM.from_pretrained(config.MODELS_DIR / name).eval()
        with torch.inference_mode():
            for it in chunk:
                enc = tok(it.prompt, return_tensors="pt", add_special_tokens=False)
                ids = model.generate(**enc, max_new_tokens=it.max_new_tokens or 10, do_sample=False)
                out.append((it.prompt, it.reference, tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()))
    return out


@pytest.fixture(scope="module")
def answers():
    if not demo_available("demo-judge") or not demo_available("demo-small"):
        pytest.skip("demo models not trained")
    return _answers()


# The 90% bar is the model card's, over all 720 demo answers (94.3% there). On these 60 answers the
# judge agrees on 54 (0.90); a 60-answer check keeps a margin of three answers for numeric differences
# between CPUs (the answers are generated live), and still fails for a judge that does not compare
# (one that always answers the same score agrees on about half of them).
SUBSET_BAR = 0.85


def _agreement(judge: Judge, answers: list[tuple[str, str, str]]) -> tuple[float, list]:
    from core.judge import GradeRequest

    verdicts = judge.grade_many([GradeRequest(*a) for a in answers], rubric="correctness", scale=(0, 10), reference=True)
    agree = [v.status == "ok" and (v.score >= 5) == (normalize(a) == normalize(r))
             for v, (_, r, a) in zip(verdicts, answers, strict=True)]
    return sum(agree) / len(agree), verdicts


@needs_judge
def test_bundled_demo_judge_agrees_with_exact_match_on_real_answers(answers, loader):
    exact = [normalize(a) == normalize(r) for _, r, a in answers]
    assert len(answers) == 60 and sum(exact) >= 10 and len(exact) - sum(exact) >= 10  # right and wrong ones
    judge = Judge.open("demo-judge", loader=loader)
    agreement, verdicts = _agreement(judge, answers)
    assert all(v.status == "ok" and v.score in (0.0, 10.0) for v in verdicts), [v.raw_text for v in verdicts]
    assert agreement >= SUBSET_BAR, agreement
    assert "demo-judge" in catalog.all_specs() and catalog.get_spec("demo-judge").source == "data/models/demo-judge"


@needs_judge
@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_demo_judge_served_by_transformers_serve_is_an_http_judge(answers, store, loader, endpoint):
    # served, it is the same judge: the same verdict as in process on every answer, so the same bar
    # on the same 60 answers (a smaller sample would test the bar with less power, not the serving)
    from helpers_http import shared_server

    server = shared_server(JUDGE_DIR)
    store.add_model(catalog.make_http_spec(f"judge-{endpoint}", server.base_url, server.served_model, endpoint=endpoint))
    judge = Judge.open(f"judge-{endpoint}", store)
    agreement, verdicts = _agreement(judge, answers)
    assert all(v.status == "ok" for v in verdicts), [(v.error_kind, v.error_message, v.raw_text) for v in verdicts]
    _, local = _agreement(Judge.open("demo-judge", loader=loader), answers)
    assert [v.score for v in verdicts] == [v.score for v in local]
    assert agreement >= SUBSET_BAR, agreement
    assert all(v.input_tokens and v.output_tokens for v in verdicts)
