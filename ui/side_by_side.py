"""Outputs side by side: two arms' outputs per prompt with a word diff, filters, pages and a CSV.

Used by the Results page (sample explorer) and the Compare page. The pairing, the filters and the
paging are core.side_by_side (DuckDB); the diff is core.textdiff, whose HTML escapes every piece
of user text before it is wrapped in a span, the only HTML this module lets through.
"""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core import side_by_side as sbs
from core import textdiff
from core.arms import Arm, ArmError
from core.queries.explore import outcome_text, scores_text
from ui import format as fmt
from ui import state

PAGE_SIZE = 10
NO_PROMPT_TEXT = "(prompt text unavailable: no copy of the prompt-set version this run used is stored)"


@st.cache_data(ttl=3600, show_spinner=False, max_entries=32)
def _plan(path: str, versions: tuple, a: tuple[str, str], b: tuple[str, str]) -> sbs.Plan:
    return sbs.plan(state._store(path), Arm(*a), Arm(*b))


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _page(path: str, versions: tuple, a: tuple[str, str], b: tuple[str, str], filt: tuple, number: int) -> sbs.Page:
    return sbs.page(state._store(path), _plan(path, versions, a, b), sbs.Filter(*filt), size=PAGE_SIZE, number=number)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=32)
def _categories(path: str, versions: tuple, a: tuple[str, str], b: tuple[str, str]) -> list[str]:
    return sbs.categories(state._store(path), _plan(path, versions, a, b))


def pick_and_show(run_id: str, models: Sequence[str], *, key: str) -> None:
    """Two selectboxes (A, B) over the models of one run, then the section for that pair."""
    models = list(models)
    if len(models) < 2:
        st.info("Side by side needs two models: choose a run (and models) with at least two.")
        return
    c1, c2 = st.columns(2)
    model_a = c1.selectbox("A", models, index=0, key=f"{key}.a")
    model_b = c2.selectbox("B", models, index=1, key=f"{key}.b")
    if model_a == model_b:
        st.info("Choose two different models for A and B.")
        return
    section(Arm(run_id, model_a), Arm(run_id, model_b), key=key)


def _filters(cats: list[str], key: str) -> sbs.Filter:
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2])
    show = c1.selectbox("Show", list(sbs.SHOW), format_func=sbs.SHOW.get, key=f"{key}.show", help=sbs.SHOW_HELP)
    category = c2.selectbox("Category", ["(all)", *cats], key=f"{key}.cat")
    lo, hi = c3.slider("Quality (0-10)", 0.0, 10.0, (0.0, 10.0), 0.5, key=f"{key}.quality",
                       help="A prompt matches when either arm's quality score lies in this range; the full range "
                            "also keeps prompts without a score (errors, no scorer).")
    full = (lo, hi) == (0.0, 10.0)
    text = c4.text_input("Search", key=f"{key}.text", placeholder="prompt, reference or output",
                         help="Case-insensitive; matches the prompt, the reference or either output.")
    return sbs.Filter(show, None if category == "(all)" else category, None if full else lo, None if full else hi,
                      text.strip() or None)


def section(arm_a: Arm, arm_b: Arm, *, key: str) -> None:
    """Filters, one page of prompts (prompt, reference, A and B with the word diff and their scores), a CSV."""
    path = str(state.db_path())
    versions = (state.run_version(arm_a.run_id), state.run_version(arm_b.run_id))
    a, b = (arm_a.run_id, arm_a.model), (arm_b.run_id, arm_b.model)
    try:
        plan = _plan(path, versions, a, b)
    except ArmError as exc:
        st.error(fmt.md_escape(str(exc)))
        return
    st.caption(f"A = {fmt.md_escape(arm_a.label)}, B = {fmt.md_escape(arm_b.label)}: {fmt.md_escape(plan.pairing.note)}.")
    if plan.pairing.changed:
        st.caption("Left out (changed between the prompt-set versions): "
                   + fmt.md_escape(", ".join(plan.pairing.changed)))
    if plan.pairs_nothing:
        st.info("These arms share no prompt, so there is nothing to put side by side.")
        return
    filt = _filters(_categories(path, versions, a, b), key)
    fields = (filt.show, filt.category, filt.quality_min, filt.quality_max, filt.text)
    page_key = f"{key}.page"
    number = int(st.session_state.get(page_key, 1))
    page = _page(path, versions, a, b, fields, number)
    pages = max(1, -(-page.total // PAGE_SIZE))
    if number > pages:
        st.session_state[page_key] = number = 1
        page = _page(path, versions, a, b, fields, 1)
    if page.total == 0:
        st.info("No paired prompt matches these filters.")
        return
    c1, c2 = st.columns([3, 1])
    if pages > 1:
        c2.number_input("Page", 1, pages, key=page_key)
    c1.caption(f"{fmt.count_of(page.total, 'prompt')} {'matches' if page.total == 1 else 'match'}; page {number} of "
               f"{pages} (first repeat of each prompt). Quality: the score (0-10); scorers: each in [0, 1]. In the "
               "outputs, words only A has are struck through in red, words only B has are green.")
    st.download_button(
        f"Download the {fmt.count_of(page.total, 'matching prompt')} (CSV)",
        lambda: sbs.export_csv(state._store(path), plan, sbs.Filter(*fields)),
        file_name=f"side-by-side-{fmt.slug(arm_a.label, 40)}-vs-{fmt.slug(arm_b.label, 40)}.csv",
        mime="text/csv", key=f"{key}.csv", on_click="ignore")
    for row in page.rows.itertuples(index=False):
        _prompt(row, arm_a, arm_b)


def _side(col, row, side: str, label: str, segments: list[textdiff.Segment]) -> None:  # noqa: ANN001
    status, passed, quality = getattr(row, f"{side}_status"), getattr(row, f"{side}_passed"), getattr(row, f"{side}_quality")
    col.caption(f"{side.upper()} · {fmt.md_escape(label)} · {outcome_text(status, passed)} · quality "
                f"{fmt.quality(quality)} · latency {fmt.ms(getattr(row, f'{side}_latency_ms'))}")
    if status != "ok":
        col.code(f"({status}: {getattr(row, f'{side}_error')})", language=None, wrap_lines=True)
    else:
        col.markdown(textdiff.side_html(segments, side), unsafe_allow_html=True)  # every segment escaped
    detail = scores_text(getattr(row, f"{side}_scores"))
    if detail:
        col.caption(f"Scorers (0-1): {fmt.md_escape(detail)}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _prompt(row, arm_a: Arm, arm_b: Arm) -> None:  # noqa: ANN001 - a row of core.side_by_side.Page.rows
    with st.container(border=True):
        st.markdown(f"**{fmt.md_escape(str(row.item_id))}** · {fmt.md_escape(str(row.category or ''))}")
        c1, c2 = st.columns(2)
        c1.caption("Prompt")
        c1.code(row.prompt if isinstance(row.prompt, str) else NO_PROMPT_TEXT, language=None, wrap_lines=True)
        c2.caption("Reference")
        c2.code(row.reference if isinstance(row.reference, str) else "(none)",
                language=None, wrap_lines=True)
        a_ok, b_ok = row.a_status == "ok", row.b_status == "ok"
        segments = textdiff.word_diff(_text(row.a_output) if a_ok else "", _text(row.b_output) if b_ok else "")
        c1, c2 = st.columns(2)
        _side(c1, row, "a", arm_a.label, segments)
        _side(c2, row, "b", arm_b.label, segments)
