"""Prompt-set parsing, validation and import: every malformed case names its line."""
from __future__ import annotations

import json

import pytest

from core import prompts
from core.prompts import PromptSetError


def _jsonl(*objs) -> bytes:
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs).encode()


GOOD = {"id": "a", "prompt": "2+2?", "reference": "4", "category": "math"}


def _errors(data: bytes, **kw) -> list[str]:
    with pytest.raises(PromptSetError) as exc:
        prompts.parse_bytes(data, source=kw.pop("source", "f.jsonl"), name="x", **kw)
    return [str(e) for e in exc.value.errors]


def test_valid_jsonl_parses_with_defaults():
    ps = prompts.parse_bytes(_jsonl(GOOD, {"id": 2, "prompt": "hi"}), source="f.jsonl", name="x")
    assert [i.id for i in ps.items] == ["a", "2"]
    assert ps.items[0].scorers[0].name == "exact_match"  # default when a reference exists
    assert ps.items[1].scorers == ()  # no reference: no scorer faked
    assert len(ps.content_hash) == 16


def test_content_hash_changes_with_content():
    a = prompts.parse_bytes(_jsonl(GOOD), source="f.jsonl", name="x")
    b = prompts.parse_bytes(_jsonl({**GOOD, "reference": "5"}), source="f.jsonl", name="x")
    assert a.content_hash != b.content_hash


def test_bad_json_names_line():
    lines = [json.dumps({**GOOD, "id": f"i{n}"}) for n in range(20)]
    lines[16] = '{"id": "x", "prompt": '
    errs = _errors("\n".join(lines).encode())
    assert errs == ["line 17: invalid JSON (Expecting value at column 23)"]


def test_missing_prompt_and_unknown_field():
    errs = _errors(_jsonl(GOOD, {"id": "b", "reference": "x"}, {"id": "c", "prompt": "p", "colour": 1}))
    assert errs[0].startswith("line 2: prompt: field required")
    assert errs[1].startswith("line 3: colour: unknown field")


def test_duplicate_id():
    errs = _errors(_jsonl(GOOD, {**GOOD, "prompt": "other"}))
    assert errs == ["line 2: duplicate id 'a' (first seen on line 1)"]


def test_empty_file():
    assert _errors(b"") == ["file is empty: no prompt items found"]
    assert _errors(b"\n  \n") == ["file is empty: no prompt items found"]


def test_wrong_encoding_names_line():
    data = _jsonl(GOOD) + b"\n" + '{"id": "b", "prompt": "caf\u00e9"}'.encode("latin-1")
    errs = _errors(data)
    assert errs[0].startswith("line 2: not valid UTF-8")


def test_size_and_item_limits():
    assert "above the 0 MB limit" in _errors(_jsonl(GOOD), max_bytes=10)[0]
    data = _jsonl(*[{**GOOD, "id": str(i)} for i in range(5)])
    assert _errors(data, max_items=3) == ["5 items, above the limit of 3"]


def test_unknown_scorer_and_bad_max_tokens():
    errs = _errors(_jsonl({**GOOD, "scorers": {"bleu": 1}}, {**GOOD, "id": "b", "max_new_tokens": 0}))
    assert "unknown scorer 'bleu'" in errs[0] and errs[0].startswith("line 1")
    assert errs[1].startswith("line 2: max_new_tokens")


def test_csv_with_line_numbers():
    data = b'id,prompt,reference,category,scorers\na,"Hi, there",x,c,exact_match\n,missing id,x,c,\nc,ok,"y",c,"{""token_f1"": 2}"\n'
    with pytest.raises(PromptSetError) as exc:
        prompts.parse_bytes(data, source="f.csv", name="x")
    assert [e.line for e in exc.value.errors] == [3]
    ok = prompts.parse_bytes(data.replace(b",missing id", b"b,missing id"), source="f.csv", name="x")
    assert ok.items[2].scorers[0].name == "token_f1" and ok.items[2].scorers[0].weight == 2


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".", "x" * 65, "with space"])
def test_name_is_a_label_not_a_path(name):
    with pytest.raises(PromptSetError):
        prompts.validate_name(name)


def test_import_stores_and_rejected_file_stores_nothing(store, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(_jsonl(GOOD))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_jsonl(GOOD, "{oops"))
    with pytest.raises(PromptSetError):
        prompts.import_set(store, bad, "mine")
    assert store.imported_prompt_sets() == []
    ps = prompts.import_set(store, good, "mine", "desc")
    got = prompts.get_set("mine", store)
    assert got.content_hash == ps.content_hash and got.source == "imported"
    with pytest.raises(PromptSetError, match="bundled"):
        prompts.import_set(store, good, "business-core")


def test_bundled_sets_meet_the_contract():
    sets = prompts.bundled_sets()
    assert len(sets["demo-qa"].items) >= 200
    assert len(sets["business-core"].items) >= 40
    assert all(i.reference for i in sets["demo-qa"].items)
    assert len(sets["demo-qa"].categories) >= 4


def test_demo_qa_is_held_out_from_the_demo_models_training_corpus():
    """demo-qa is regenerated from the training script's own split: same task families, no item
    verbatim in training (neither the prompt, nor the prompt with its answer)."""
    import sys

    from core import config

    sys.path.insert(0, str(config.ROOT / "scripts"))
    import train_demo_models as t

    train, test = t.build_data()
    bundled = prompts.get_set("demo-qa")
    assert [i.prompt for i in bundled.items] == [e.prompt for e in test]  # the bundled file is that split
    train_prompts = {e.prompt for e in train}
    train_pairs = {(e.prompt, e.answer) for e in train}
    assert not {i.prompt for i in bundled.items} & train_prompts
    assert not {(i.prompt, i.reference) for i in bundled.items} & train_pairs
    assert {i.category for i in bundled.items} == {e.category for e in train}
    assert len(bundled.items) >= 200
