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


# ---------------------------------------------------------------------------- hostile files (issue 11)


def test_deeply_nested_json_is_an_error_naming_its_line_not_a_crash():
    deep = '{"id": "b", "prompt": "p", "scorers": ' + "[" * 5000 + "]" * 5000 + "}"
    middling = '{"id": "c", "prompt": "p", "scorers": [{"name": "regex", "params": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}]}"
    errs = _errors(_jsonl(GOOD, deep, middling))
    assert [e.split(":")[0] for e in errs] == ["line 2", "line 3"]
    assert all("nested more than" in e for e in errs)
    csv_deep = b'id,prompt,scorers\na,p,"' + b"[" * 5000 + b"]" * 5000 + b'"\n'
    assert "line 2: JSON nested more than" in _errors(csv_deep, source="f.csv")[0]


def test_csv_unterminated_quote_is_an_error_naming_its_line():
    data = b'id,prompt\na,first\nb,"never closed\nc,third\nd,fourth\n'
    errs = _errors(data, source="f.csv")
    assert len(errs) == 1 and errs[0].startswith("line 3: unterminated quote")
    assert "lines 3-5" in errs[0]
    stray = b'id,prompt\na,first\nb,"opened\nc,"closed" late\n'
    assert _errors(stray, source="f.csv")[0].startswith("line 3: malformed CSV: a quoted cell must end")
    multi = prompts.parse_bytes(b'id,prompt\na,"two\nlines"\nb,next\n', source="f.csv", name="x")
    assert [i.prompt for i in multi.items] == ["two\nlines", "next"]  # a closed multi-line cell is fine


def test_validator_errors_are_whole_and_in_plain_words():
    errs = _errors(_jsonl({**GOOD, "scorers": ["bleu"]}))
    assert errs == ["line 1: scorers.0.name: unknown scorer 'bleu'; known scorers: exact_match, contains, regex, "
                    "token_f1, rouge_l, json_valid, semantic, judge"]


# ---------------------------------------------------------------------------- versions (issue 11)


def _run_with(store, name: str, limit: int | None = None) -> str:
    from core.runner import Runner
    from core.schemas import RunSpec

    return Runner(store).create(RunSpec(models=("demo-tiny",), prompt_set=name, limit=limit, device="cpu"), queued=True)


def test_replacing_a_set_asks_first_and_earlier_runs_keep_their_version(store):
    from core.reports.run_facts import _prompts

    v1 = prompts.import_bytes(store, _jsonl(GOOD, {"id": "b", "prompt": "old b"}), filename="f.jsonl", name="mine")
    run_id = _run_with(store, "mine", limit=1)
    new = _jsonl({**GOOD, "prompt": "new a"})
    with pytest.raises(prompts.PromptSetExistsError) as exc:
        prompts.import_bytes(store, new, filename="f.jsonl", name="mine")
    assert exc.value.current == v1.content_hash and "Replace it" in str(exc.value)
    assert prompts.get_set("mine", store).content_hash == v1.content_hash  # nothing replaced without a yes
    v2 = prompts.import_bytes(store, new, filename="f.jsonl", name="mine", replace=True)
    prompts.import_bytes(store, new, filename="f.jsonl", name="mine")  # the same content again: no question
    assert prompts.get_set("mine", store).content_hash == v2.content_hash
    run = store.get_run(run_id)
    assert prompts.run_set(store, run).items == v1.items[:1]  # the run's own version, limited as it ran
    assert _prompts(store, run) == {"a": ("2+2?", "4")}  # the report's and explorer's lookup
    versions = store.prompt_set_versions("mine")
    assert list(versions["version"]) == [v2.content_hash, v1.content_hash]
    assert list(versions["current"]) == [True, False] and list(versions["runs"]) == [0, 1]
    store.delete_prompt_set("mine")  # the name goes; the version a run used stays with the run
    assert prompts.run_set(store, run).items == v1.items[:1]
    assert [ps.content_hash for ps in store.stored_prompt_sets("mine")] == [v1.content_hash]


def test_a_queued_run_executes_the_version_it_was_made_with(store):
    from core.runner import Runner

    prompts.import_bytes(store, _jsonl({"id": "q", "prompt": "Question: what is 2+2?\nAnswer:"}), filename="f.jsonl",
                         name="queued")
    run_id = _run_with(store, "queued")
    prompts.import_bytes(store, _jsonl({"id": "other", "prompt": "x"}), filename="f.jsonl", name="queued", replace=True)
    Runner(store).execute(run_id)
    assert list(store.samples_df(run_id)["item_id"]) == ["q"]
    assert store.get_run(run_id).status == "completed"


def test_a_bundled_set_version_is_kept_when_a_run_uses_it(store):
    run_id = _run_with(store, "business-core", limit=2)
    run = store.get_run(run_id)
    assert run.manifest["prompt_set_version"] == prompts.get_set("business-core").content_hash
    assert [ps.source for ps in store.stored_prompt_sets("business-core")] == ["bundled"]
    assert len(prompts.run_set(store, run).items) == 2
