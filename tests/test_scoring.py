"""Quality scorers: each scorer on hand-computed inputs, the composite, the bundled set."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import config, scoring
from core.schemas import SCORER_NAMES, PromptItem
from core.scoring import PASS_THRESHOLD, normalize, score_batch, score_item


def item(reference: str | None = None, *specs: dict, **kw) -> PromptItem:
    return PromptItem(id=kw.pop("id", "t"), prompt="p", reference=reference, scorers=list(specs), **kw)


def one(name: str, output: str, reference: str | None = None, **params) -> float | None:
    """The value of a single scorer, or None when it was skipped."""
    res = score_item(output, item(reference, {"name": name, "params": params}))
    return res.scores.get(name)


# --------------------------------------------------------------------------- registry, normalize


def test_registry_covers_every_schema_scorer_name():
    assert set(scoring.registered_scorers()) == set(SCORER_NAMES)
    with pytest.raises(KeyError, match="registered scorers"):
        scoring.get_scorer("bleu")


def test_normalize_lowercases_strips_punctuation_and_collapses_whitespace():
    assert normalize("  Hello,   World!\n\tIt's   $1,250.  ") == "hello world its 1250"
    assert normalize("") == ""


# --------------------------------------------------------------------------- text scorers


def test_exact_match_is_normalised():
    assert one("exact_match", "  The answer: PARIS! ", "the answer paris") == 1.0
    assert one("exact_match", "Paris, France", "Paris") == 0.0


def test_contains_matches_whole_words_of_the_normalised_reference():
    assert one("contains", "The label is: Billing.", "billing") == 1.0
    assert one("contains", "Answer: $2,500 units", "2500") == 1.0
    assert one("contains", "Answer: 420", "42") == 0.0  # not a substring match
    assert one("contains", "technical", "billing") == 0.0


def test_regex_uses_search_and_optional_flags():
    assert one("regex", "Subject: hi\nDear Sam,\nThanks", pattern=r"^dear\b", flags="im") == 1.0
    assert one("regex", "Subject: hi\nDear Sam,", pattern=r"^dear\b", flags="i") == 0.0  # no "m": ^ is text start
    assert one("regex", "Dear Sam", pattern=r"^dear") == 0.0  # case-sensitive by default
    assert one("regex", "order A-77310 shipped", pattern=r"A-\d{5}") == 1.0


def test_regex_needs_no_reference_and_rejects_a_missing_pattern():
    assert score_item("hello", item(None, {"name": "regex", "params": {"pattern": "hel+o"}})).quality == 10.0
    with pytest.raises(ValueError, match="pattern"):
        one("regex", "hello")
    with pytest.raises(ValueError, match="unknown flag"):
        one("regex", "hello", pattern="h", flags="q")


def test_token_f1_squad_style():
    # "the cat sat" vs "cat sat down": overlap {cat, sat} = 2; P = 2/3, R = 2/3 -> F1 = 2/3
    assert one("token_f1", "the cat sat", "cat sat down") == pytest.approx(2 / 3)
    # repeated tokens count once per occurrence: "a a b" vs "a b b": overlap {a, b} = 2 -> 2/3
    assert one("token_f1", "a a b", "a b b") == pytest.approx(2 / 3)
    assert one("token_f1", "Cat, SAT!", "cat sat") == 1.0
    assert one("token_f1", "dog", "cat") == 0.0
    assert one("token_f1", "", "cat") == 0.0


def test_rouge_l_f_measure():
    # output "revenue rose sharply in march" (5 tokens), reference
    # "revenue rose in march and april" (6 tokens): LCS = "revenue rose in march" = 4
    # P = 4/5, R = 4/6, F = 2PR / (P + R) = (16/15) / (22/15) = 8/11
    assert one("rouge_l", "Revenue rose sharply in March.", "revenue rose in march and april") == pytest.approx(8 / 11)
    # word order matters for ROUGE-L but not for token F1: LCS of reversed triples = 1 -> 1/3
    assert one("rouge_l", "gunman killed police", "police killed gunman") == pytest.approx(1 / 3)
    assert one("token_f1", "gunman killed police", "police killed gunman") == 1.0
    assert one("rouge_l", "the cat sat on the mat", "the cat sat on the mat") == 1.0


@given(st.text(max_size=40), st.text(max_size=40))
def test_text_scorers_stay_in_unit_interval(a, b):
    for name in ("token_f1", "rouge_l", "exact_match"):
        value = one(name, a, b)
        assert value is not None and 0.0 <= value <= 1.0
    if normalize(a):
        assert one("rouge_l", a, a) == 1.0


# --------------------------------------------------------------------------- JSON scorer

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}},
    "required": ["name", "qty"],
}


def test_json_valid_parses_plain_fenced_and_embedded_objects():
    assert one("json_valid", '{"a": 1}') == 1.0
    assert one("json_valid", "[1, 2]") == 1.0
    assert one("json_valid", 'Here you go:\n```json\n{"a": [1, 2]}\n```\nAnything else?') == 1.0
    assert one("json_valid", 'Sure! The result is {"a": {"b": 2}} as requested.') == 1.0
    assert one("json_valid", "Sorry {not json} here") == 0.0
    assert one("json_valid", '{"a": 1') == 0.0
    assert one("json_valid", "no json at all") == 0.0


def test_json_valid_with_schema():
    assert one("json_valid", '{"name": "bolt", "qty": 3}', schema=SCHEMA) == 1.0
    assert one("json_valid", '```json\n{"name": "bolt", "qty": 3}\n```', schema=SCHEMA) == 1.0
    assert one("json_valid", '{"name": "bolt", "qty": "3"}', schema=SCHEMA) == 0.0  # wrong type
    assert one("json_valid", '{"name": "bolt"}', schema=SCHEMA) == 0.0  # missing key
    with pytest.raises(ValueError, match="not a valid JSON schema"):
        one("json_valid", "{}", schema={"type": "no-such-type"})


def test_json_valid_match_reference_is_fraction_of_matching_top_level_keys():
    ref = json.dumps({"vendor": "Acme Ltd", "total": 12.5, "paid": True})
    # vendor matches after normalisation, total matches numerically, paid differs -> 2/3
    out = '{"vendor": "ACME Ltd.", "total": 12.50, "paid": false, "extra": 1}'
    assert one("json_valid", out, ref, match_reference=True) == pytest.approx(2 / 3)
    assert one("json_valid", '{"vendor": "Acme Ltd", "total": 12.5, "paid": true}', ref, match_reference=True) == 1.0
    assert one("json_valid", '{"paid": 1}', ref, match_reference=True) == 0.0  # 1 is not true
    assert one("json_valid", "not json", ref, match_reference=True) == 0.0
    assert one("json_valid", '{"vendor": "Acme Ltd"}', None, match_reference=True) is None  # no reference: skipped


def test_two_specs_with_one_name_get_unique_keys_and_both_count():
    it = item(
        json.dumps({"name": "bolt", "qty": 3}),
        {"name": "json_valid", "weight": 1, "params": {"schema": SCHEMA}},
        {"name": "json_valid", "weight": 2, "params": {"match_reference": True}},
    )
    res = score_item('{"name": "bolt", "qty": 4}', it)
    assert res.scores == {"json_valid": 1.0, "json_valid#2": 0.5}
    assert res.quality == pytest.approx(10 * (1 * 1.0 + 2 * 0.5) / 3)


# --------------------------------------------------------------------------- composite


def test_composite_is_ten_times_the_weighted_mean():
    it = item("cat sat down", {"name": "exact_match", "weight": 1}, {"name": "token_f1", "weight": 3})
    res = score_item("the cat sat", it)
    # exact 0.0 (w 1), token F1 2/3 (w 3): 10 * (0 + 3 * 2/3) / 4 = 5.0, exactly the threshold
    assert res.scores == {"exact_match": 0.0, "token_f1": pytest.approx(2 / 3)}
    assert res.quality == pytest.approx(5.0)
    assert res.passed is True and PASS_THRESHOLD == 5.0

    res = score_item("the dog", it)
    assert res.quality == 0.0 and res.passed is False


def test_scorers_without_a_reference_are_skipped_not_faked():
    specs = ({"name": "exact_match"}, {"name": "token_f1"}, {"name": "rouge_l"}, {"name": "contains"})
    res = score_item("anything", item(None, *specs))
    assert res.quality is None and res.passed is None and res.scores == {}

    mixed = item(None, {"name": "exact_match", "weight": 5}, {"name": "regex", "params": {"pattern": "^no"}})
    res = score_item("nope", mixed)
    assert res.scores == {"regex": 1.0}  # exact_match left out, its weight ignored
    assert res.quality == 10.0 and res.passed is True


def test_item_without_scorers_or_reference_has_no_quality_and_default_is_exact_match():
    assert score_item("x", PromptItem(id="a", prompt="p")).quality is None
    res = score_item("Paris.", PromptItem(id="b", prompt="p", reference="paris"))
    assert res.scores == {"exact_match": 1.0} and res.quality == 10.0


def test_score_batch_checks_lengths():
    with pytest.raises(ValueError, match="2 outputs for 1 items"):
        score_batch(["a", "b"], [item("a")])


# --------------------------------------------------------------------------- semantic


@pytest.fixture(scope="module")
def semantic_model():
    """Loads the shipped all-MiniLM-L6-v2 once for this module."""
    return scoring._embedding_model()


def test_semantic_paraphrase_beats_unrelated_and_identity_is_one(semantic_model):
    ref = "The shipment will arrive two days late because of a supplier delay."
    para = "Because our supplier is behind schedule, the delivery is going to be delayed by two days."
    unrelated = "Our cafeteria now serves vegetarian lasagne on Wednesdays."
    same, close, far = (one("semantic", o, ref) for o in (ref, para, unrelated))
    assert same == pytest.approx(1.0, abs=1e-4)
    assert close > far + 0.3
    assert 0.0 <= far < 0.4
    assert one("semantic", ref, None) is None


def test_score_batch_encodes_once_and_equals_score_item(semantic_model, monkeypatch):
    items = [
        item("cat sat down", {"name": "token_f1"}, {"name": "semantic", "weight": 2}, id="a"),
        item(None, {"name": "semantic"}, {"name": "regex", "params": {"pattern": "x"}}, id="b"),
        item("The invoice is overdue.", {"name": "semantic"}, {"name": "rouge_l"}, id="c"),
    ]
    outputs = ["the cat sat", "xyz", "Payment for the invoice is late."]
    expected = [score_item(o, i) for o, i in zip(outputs, items)]

    calls: list[int] = []
    real_encode = semantic_model.encode

    def counting_encode(texts, *args, **kwargs):
        calls.append(len(texts))
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(semantic_model, "encode", counting_encode)
    got = score_batch(outputs, items)
    assert calls == [4]  # one call, distinct texts of the two items with a reference
    for g, e in zip(got, expected):
        assert g.scores.keys() == e.scores.keys()
        assert all(math.isclose(g.scores[k], e.scores[k], abs_tol=1e-5) for k in g.scores)
        assert g.passed == e.passed
    assert "semantic" not in got[1].scores and got[1].scores == {"regex": 1.0}


# --------------------------------------------------------------------------- bundled prompt set

BUSINESS_CORE = config.PROMPT_SETS_DIR / "business-core.jsonl"


def test_business_core_references_pass_their_own_scoring(semantic_model):
    lines = [ln for ln in BUSINESS_CORE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    items = [PromptItem.model_validate(json.loads(ln)) for ln in lines]
    ids = [i.id for i in items]
    assert len(items) >= 40
    assert len(set(ids)) == len(ids)
    assert {i.category for i in items} == {"summarisation", "extraction", "classification", "email", "reasoning"}
    assert all(i.reference and i.scorers and i.max_new_tokens for i in items)

    results = score_batch([i.reference or "" for i in items], items)
    low = {i.id: r.quality for i, r in zip(items, results) if r.quality is None or r.quality < 8}
    assert not low, f"references that fail their own scoring: {low}"
    # every declared scorer ran on its own reference (none was skipped)
    for i, r in zip(items, results):
        assert len(r.scores) == len(i.scorers), i.id
