"""Outputs side by side: two arms' outputs per prompt, filtered and paged in DuckDB, a word diff
that is safe to show as HTML, and a CSV of the whole filtered set (issue 13, part 4)."""
from __future__ import annotations

import io
import os
from html.parser import HTMLParser

import pandas as pd
import pytest

from core import side_by_side as sbs
from core import textdiff
from core.arms import Arm, ArmError
from core.schemas import PromptItem, PromptSet, RunSpec
from core.store import Store

HOSTILE = '<script>window.__xss = 1</script><img src=x onerror=alert(1)>'


def _items(changed: str | None = None) -> tuple[PromptItem, ...]:
    items = []
    for j in range(12):
        prompt = f"Question {j}: what is {j} plus {j}?"
        if f"q{j:02d}" == changed:
            prompt += " Show your work."
        items.append(PromptItem(id=f"q{j:02d}", prompt=prompt, reference=str(2 * j),
                                category="math" if j % 2 else "trivia"))
    return tuple(items)


def _outputs(j: int, model: str) -> tuple[str, float | None, str]:
    """(output, quality, status) per prompt j: model 'a' answers right on even prompts, 'b' on prompts
    below 6; prompt 3 holds hostile text in b's output; prompt 11 is an error for b."""
    if model == "b" and j == 11:
        return "", None, "error"
    right = (j % 2 == 0) if model == "a" else (j < 6)
    text = f"The answer is {2 * j}." if right else f"I think it is {2 * j + 1}."
    if model == "b" and j == 3:
        text = HOSTILE
    return text, (9.0 if right else 2.0) + (0.5 if model == "b" else 0.0), "ok"


def _run(store: Store, run_id: str, ps: PromptSet, models=("a", "b")) -> None:
    store.keep_prompt_set_version(ps)
    store.create_run(run_id, RunSpec(models=models, prompt_set=ps.name, name=run_id), ps, len(ps.items) * len(models),
                     {"prompt_set_version": ps.content_hash,  # as a real run records them: two different models
                      "models": {m: {"kind": "local", "source": f"/m/{m}", "revision": None} for m in models}},
                     os.getpid())
    rows = []
    for m in models:
        for j, item in enumerate(ps.items):
            text, quality, status = _outputs(j, m)
            rows.append({"result_key": f"{run_id}-{m}-{item.id}", "run_id": run_id, "model": m, "model_version": "v1",
                         "backend": "test", "prompt_set": ps.name, "prompt_set_hash": ps.content_hash, "item_id": item.id,
                         "category": item.category, "repeat": 0, "seq": len(rows), "status": status,
                         "error_kind": "runtime" if status != "ok" else None,
                         "error_message": "boom" if status != "ok" else None, "output_text": text or None,
                         "quality": quality, "passed": None if quality is None else quality >= 5,
                         "scores": None, "latency_ms": 100.0 + j})
    store.append_samples(pd.DataFrame(rows))
    store.set_run_status(run_id, "completed")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    s = Store(tmp_path_factory.mktemp("sbs") / "sbs.duckdb")
    _run(s, "r1", PromptSet("qa", "test", _items()))
    _run(s, "r2", PromptSet("qa", "test", _items(changed="q04")))  # a second version: q04 changed
    return s


@pytest.fixture(scope="module")
def plan(store):
    return sbs.plan(store, Arm("r1", "a"), Arm("r1", "b"))


def _ids(page: sbs.Page) -> list[str]:
    return list(page.rows["item_id"])


def test_every_pair_comes_with_its_prompt_reference_and_scores(store, plan):
    page = sbs.page(store, plan, size=50)
    assert page.total == 12 and _ids(page) == [f"q{j:02d}" for j in range(12)]
    row = page.rows.iloc[2]
    assert row["prompt"] == "Question 2: what is 2 plus 2?" and row["reference"] == "4"
    assert row["a_output"] == "The answer is 4." and row["a_quality"] == 9.0 and bool(row["a_passed"])
    assert row["b_output"] == "The answer is 4." and row["b_quality"] == 9.5
    err = page.rows.iloc[11]
    assert err["b_status"] == "error" and err["b_error"] == "runtime: boom" and pd.isna(err["b_quality"])


def test_pages_are_cut_in_the_query_and_the_total_counts_every_match(store, plan):
    first, third = sbs.page(store, plan, size=5, number=1), sbs.page(store, plan, size=5, number=3)
    assert _ids(first) == ["q00", "q01", "q02", "q03", "q04"] and _ids(third) == ["q10", "q11"]
    assert first.total == third.total == 12
    past = sbs.page(store, plan, size=5, number=9)
    assert past.rows.empty and past.total == 12


def test_disagreements_and_one_side_failing(store, plan):
    # a right on even j, b right on j < 6; b errors on 11 (a fails there too: j odd)
    disagree = sbs.page(store, plan, sbs.Filter(show="disagree"), size=50)
    assert _ids(disagree) == ["q01", "q03", "q05", "q06", "q08", "q10", "q11"]  # 11: one failed, the other answered
    a_only = sbs.page(store, plan, sbs.Filter(show="a_pass_b_fail"), size=50)
    assert _ids(a_only) == ["q06", "q08", "q10"]
    b_only = sbs.page(store, plan, sbs.Filter(show="b_pass_a_fail"), size=50)
    assert _ids(b_only) == ["q01", "q03", "q05"]


def test_category_score_range_and_text_search(store, plan):
    math = sbs.page(store, plan, sbs.Filter(category="math"), size=50)
    assert set(math.rows["category"]) == {"math"} and math.total == 6
    low = sbs.page(store, plan, sbs.Filter(quality_min=0, quality_max=3), size=50)  # either arm scored 0-3
    assert _ids(low) == [f"q{j:02d}" for j in (1, 3, 5, 6, 7, 8, 9, 10, 11)]
    high_b = sbs.page(store, plan, sbs.Filter(quality_min=9.5), size=50)  # only b scores 9.5
    assert _ids(high_b) == [f"q{j:02d}" for j in range(6)]
    by_output = sbs.page(store, plan, sbs.Filter(text="I THINK it is 15"), size=50)  # case-insensitive
    assert _ids(by_output) == ["q07"]
    by_prompt = sbs.page(store, plan, sbs.Filter(text="what is 10 plus"), size=50)
    assert _ids(by_prompt) == ["q10"]
    by_reference = sbs.page(store, plan, sbs.Filter(text="22", show="disagree"), size=50)  # reference '22' of q11
    assert _ids(by_reference) == ["q11"]
    wild = sbs.page(store, plan, sbs.Filter(text="%' OR 1=1 --"), size=50)  # a parameter, not SQL or a pattern
    assert wild.total == 0 and wild.rows.empty
    hostile = sbs.page(store, plan, sbs.Filter(text="<SCRIPT>"), size=50)
    assert _ids(hostile) == ["q03"]


def test_a_bad_filter_is_named(store, plan):
    with pytest.raises(ValueError, match="show must be one of"):
        sbs.page(store, plan, sbs.Filter(show="everything"))
    with pytest.raises(ValueError, match="minimum 8 is above maximum 2"):
        sbs.page(store, plan, sbs.Filter(quality_min=8, quality_max=2))


def test_the_csv_holds_the_whole_filtered_set(store, plan):
    data = sbs.export_csv(store, plan, sbs.Filter(show="disagree"))
    df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert len(df) == 7  # every disagreement, not one page
    assert list(df.columns[:4]) == ["A arm", "B arm", "item", "category"]
    assert set(df["A arm"]) == {"a@r1"} and set(df["B arm"]) == {"b@r1"}
    assert "B quality (0-10)" in df and df.loc[df["item"] == "q03", "B output"].item() == HOSTILE  # text as stored


def test_arms_from_two_versions_leave_the_changed_item_out(store):
    plan = sbs.plan(store, Arm("r1", "a"), Arm("r2", "b"))
    assert plan.pairing.kind == "changed-items" and plan.pairing.changed == ("q04",)
    page = sbs.page(store, plan, size=50)
    assert page.total == 11 and "q04" not in _ids(page)
    assert page.rows.set_index("item_id").loc["q02", "prompt"] == "Question 2: what is 2 plus 2?"
    same_version = sbs.plan(store, Arm("r2", "a"), Arm("r2", "b"))
    assert sbs.page(store, same_version, size=50).total == 12


def test_bad_arms_are_named(store):
    with pytest.raises(ArmError, match="unknown run 'nope'"):
        sbs.plan(store, Arm("nope", "a"), Arm("r1", "b"))
    with pytest.raises(ArmError, match="listed twice"):
        sbs.plan(store, Arm("r1", "a"), Arm("r1", "a"))


def test_arms_sharing_no_prompt_show_nothing_and_say_why(tmp_path):
    s = Store(tmp_path / "apart.duckdb")
    _run(s, "x1", PromptSet("qa", "test", _items()))
    _run(s, "x2", PromptSet("other", "test", tuple(i.model_copy(update={"id": "z" + i.id}) for i in _items())))
    plan = sbs.plan(s, Arm("x1", "a"), Arm("x2", "b"))
    assert plan.pairs_nothing and "unpaired" in plan.pairing.note
    assert sbs.page(s, plan).total == 0 and sbs.export_frame(s, plan).empty


# ------------------------------------------------------------------ the word diff


def test_the_word_diff_of_known_strings():
    segs = textdiff.word_diff("the cat sat on the mat", "the dog sat on a mat")
    assert [(s.kind, s.text) for s in segs] == [
        ("equal", "the "), ("a", "cat"), ("b", "dog"), ("equal", " sat on "), ("a", "the"), ("b", "a"), ("equal", " mat")]
    assert textdiff.side_text(segs, "a") == "the cat sat on the mat"
    assert textdiff.side_text(segs, "b") == "the dog sat on a mat"
    assert textdiff.stats(segs) == (4, 2, 2)
    assert textdiff.word_diff("same", "same") == [textdiff.Segment("equal", "same")]
    assert textdiff.word_diff("", "new words") == [textdiff.Segment("b", "new words")]
    assert [s.kind for s in textdiff.word_diff("It is 4.", "It is 4!")] == ["equal", "a", "b"]  # punctuation is a token
    joined = textdiff.word_diff("I think it is 3.", "The answer is 2.")  # whitespace between changes joins them
    assert [(s.kind, s.text) for s in joined] == [
        ("a", "I think it"), ("b", "The answer"), ("equal", " is "), ("a", "3"), ("b", "2"), ("equal", ".")]
    long = " ".join(["word"] * (textdiff.MAX_TOKENS + 1))
    assert textdiff.side_text(textdiff.word_diff(long, long + "!"), "b") == long + "!"  # too long to diff: shown whole


class _Reader(HTMLParser):
    """The tags and the text a browser would see in an HTML fragment."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(fragment)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
        self.tags.append(tag)

    def handle_data(self, data):  # noqa: ANN001, ANN201
        self.text += data


def test_hostile_text_is_escaped_in_the_diff_html():
    hostile = HOSTILE + "\n\n# not a heading & <b>bold</b>"
    segs = textdiff.word_diff("The answer is 4.", hostile)
    b_html, a_html = textdiff.side_html(segs, "b"), textdiff.side_html(segs, "a")
    seen = _Reader(b_html)
    assert seen.text == hostile  # shown literally, character for character
    assert set(seen.tags) == {"div", "span"} and set(_Reader(a_html).tags) <= {"div", "span"}
    assert "<script" not in b_html and "<img" not in b_html and "<b>" not in b_html and "&lt;script&gt;" in b_html
    assert "\n" not in b_html and "&#10;&#10;# not a heading" in b_html  # a blank line cannot end the HTML block
    assert 'class="diff-b"' in b_html and 'class="diff-a"' in a_html and "diff-b" not in a_html
    quote = textdiff.side_html(textdiff.word_diff("a", 'x" onmouseover="alert(1)'), "b")
    assert 'onmouseover="' not in quote and "&quot;" in quote
