"""The Rate page's widgets: who rates what, the blind rating panel, and the results behind a toggle.

Blindness: nothing a rater sees (labels, widget keys, captions) names a model. The Unit being
rated, which knows its models, stays on the server (the button callbacks' arguments); the
answers are shown as "Answer" or "Answer A" / "Answer B" in the order and on the sides the
rater's stored seed chose (core.ratings).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core import charts
from core import rating_stats as rs
from core import ratings as R
from core.stats import Interval
from core.textfmt import DASH, count_of, fmt_interval, fmt_p
from ui import analysis_widgets as aw
from ui import state, widgets

MODES = {"absolute": "Absolute: score one answer from 0 to 10", "pairwise": "Pairwise: pick the better of two answers"}
SCORE_KEYS = {s: str(s) for s in range(10)} | {10: "t"}  # press 0-9, or T for 10
PREF_KEYS = {"A": "a", "B": "b", "tie": "t"}
PREF_LABELS = {"A": "A is better", "B": "B is better", "tie": "Tie"}
ERROR = "rate.error"  # session-state key: the last refused submission's message
DONE = "rate.last"  # session-state key: what the last submission stored


@dataclass(frozen=True)
class Choice:
    rater: str
    run_id: str
    mode: str


def choose() -> Choice | None:
    """Rater name, run and mode; None (with what to do) until a name is given."""
    runs = aw.finished_runs_or_stop("No runs to rate yet: run an evaluation first (Run page), then come back "
                                    "here to rate its answers.")
    c1, c2 = st.columns([1, 2])
    rater = c1.text_input("Your name", key="rate.rater", max_chars=R.MAX_NAME,
                          help="Use the same name to come back to your queue: it resumes where you stopped.")
    with c2:
        run_id = aw.pick_runs(runs, key="rate.run", multi=False, prefer_several_models=True)[0]
    mode = st.radio("Mode", list(MODES), format_func=MODES.get, key="rate.mode", horizontal=True)
    if not rater.strip():
        st.info("Give your name to start rating. Model names stay hidden, and each rater sees the answers in "
                "an order (and, pairwise, on sides) of their own.", icon=":material/badge:")
        return None
    return Choice(" ".join(rater.split()), run_id, mode)


def _submit(q: R.Queue, unit: R.Unit, comment_key: str, **answer: object) -> None:
    """Button callback: store the rating (the next render shows the next unit)."""
    try:
        seq = R.submit(state.store(), q, unit, comment=st.session_state.get(comment_key), **answer)
    except R.RatingError as exc:
        st.session_state[ERROR] = str(exc)
        return
    st.session_state.pop(ERROR, None)
    st.session_state[DONE] = f"Saved rating #{seq} ({q.position(unit)} of {q.total} in your queue)."


def rate_panel(choice: Choice) -> None:
    """Progress, then the next unrated unit of the rater's queue with its answer buttons."""
    try:
        q = R.queue(state.store(), choice.rater, choice.run_id, choice.mode)
    except R.RatingError as exc:
        widgets.show_problem("Cannot rate this run.", str(exc))
        return
    if q.total == 0 or (choice.mode == "pairwise" and len({m for u in q.units for m in u.models}) < 2):
        st.info("Nothing to rate here: the run has no successful answers"
                + (" from two or more models" if choice.mode == "pairwise" else "") + ".", icon=":material/info:")
        return
    st.progress(q.progress, text=f"{q.done} of {q.total} rated by {choice.rater}")
    if msg := st.session_state.pop(ERROR, None):
        widgets.show_problem("The rating was not saved.", msg)
    elif msg := st.session_state.pop(DONE, None):
        st.caption(msg)
    unit = q.next_unit()
    if unit is None:
        st.success("You have rated every answer in this run in this mode. Thank you!", icon=":material/task_alt:")
        return
    _show_unit(q, unit)


def _show_unit(q: R.Queue, unit: R.Unit) -> None:
    st.markdown(f"**Prompt {q.position(unit)} of {q.total}**")
    st.text(unit.prompt or "(the prompt text is not stored for this run)")
    if unit.reference:
        st.caption("Reference answer")
        st.text(unit.reference)
    comment_key = f"rate.comment.{q.mode}.{q.done}"
    if q.mode == "absolute":
        with st.container(border=True):
            st.markdown("**Answer**")
            st.text(unit.answers[0])
        st.text_input("Comment (optional)", key=comment_key, max_chars=R.MAX_COMMENT)
        st.caption("Score the answer from 0 (useless) to 10 (perfect): click, or press 0-9 (T for 10).")
        cols = st.columns(11)
        for s, col in zip(range(11), cols, strict=True):
            col.button(str(s), key=f"rate.score.{s}", shortcut=SCORE_KEYS[s], on_click=_submit,
                       args=(q, unit, comment_key), kwargs={"score": s}, width="stretch")
        return
    left, right = st.columns(2)
    for col, side, text in zip((left, right), "AB", unit.answers, strict=True):
        with col.container(border=True):
            st.markdown(f"**Answer {side}**")
            st.text(text)
    st.text_input("Comment (optional)", key=comment_key, max_chars=R.MAX_COMMENT)
    st.caption("Which answer is better? Click, or press A, B or T (tie).")
    cols = st.columns(3)
    for col, pref in zip(cols, R.PREFERENCES, strict=True):
        col.button(f"{PREF_LABELS[pref]} ({PREF_KEYS[pref].upper()})", key=f"rate.pref.{pref}",
                   shortcut=PREF_KEYS[pref], on_click=_submit, args=(q, unit, comment_key),
                   kwargs={"preference": pref}, width="stretch")


# --------------------------------------------------------------------------- results (behind the page's toggle)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=16)
def _summary(path: str, run_id: str, version: tuple) -> rs.HumanRatings:
    return rs.human_ratings(state.store(), run_id)


def _iv(iv: Interval | None, unit: str = "") -> str:
    if iv is None:
        return DASH
    text = fmt_interval(iv.estimate, iv.low, iv.high, unit)
    return f"{text} ({iv.note})" if iv.note else text


def results(run_id: str) -> None:
    """Mean ratings, agreement (raters, judge), the Bradley-Terry ranking of the run's ratings."""
    hr = _summary(str(state.db_path()), run_id, state.data_version())
    if hr.empty:
        st.info("No ratings for this run yet.", icon=":material/info:")
        return
    (na, ra), (np_, rp) = hr.counts["absolute"], hr.counts["pairwise"]
    st.caption(f"{count_of(na, 'absolute rating')} by {count_of(ra, 'rater')}, {count_of(np_, 'pairwise rating')} by "
               f"{count_of(rp, 'rater')} (each rater's latest rating of an answer counts). Intervals: "
               f"{hr.models[0].interval.confidence * 100 if hr.models else 95:g}% cluster bootstrap over prompts, "
               f"{rs.RESAMPLES:,} resamples, seed 0.")
    if hr.models:
        st.subheader("Mean human rating")
        st.dataframe(pd.DataFrame({
            "Model": [r.model for r in hr.models],
            "Mean rating (0-10) [95% CI]": [_iv(r.interval, "quality") for r in hr.models],
            "Ratings": [r.ratings for r in hr.models], "Raters": [r.raters for r in hr.models],
            "Prompts": [r.prompts for r in hr.models]}), hide_index=True, key="rate.means")
    _agreement(hr)
    _ranking(hr)


def _agreement(hr: rs.HumanRatings) -> None:
    st.subheader("Agreement")
    rows = []
    for what, a in (("Raters with each other, absolute", hr.absolute_agreement),
                    ("Raters with each other, pairwise", hr.pairwise_agreement)):
        rows.append((what, a.statistic if a else DASH, _iv(a.interval) if a else "needs two raters rating the same answers"))
    for what, j in (("Judge with the raters, absolute", hr.judge_absolute), ("Judge with the raters, pairwise", hr.judge_pairwise)):
        if j is None:
            rows.append((what, DASH, "no judge verdicts on the rated answers"))
            continue
        kind = "quadratic-weighted Cohen's kappa" if j.weights else "Cohen's kappa"
        rows.append((what, f"{kind} (mean over raters)", _iv(j.judge_kappa)))
        if j.spearman is not None:
            rows.append((what, "Spearman correlation with the raters' mean", _iv(j.spearman)))
    st.dataframe(pd.DataFrame(rows, columns=["Between", "Statistic", "Value [95% CI]"]), hide_index=True, key="rate.agree")
    for j in (hr.judge_absolute, hr.judge_pairwise):
        if j is not None:
            (st.success if j.stands_in else st.warning)(j.sentence, icon=":material/gavel:")


def _ranking(hr: rs.HumanRatings) -> None:
    st.subheader("Ranking from the pairwise ratings (Bradley-Terry)")
    bt = hr.ranking
    if bt is None:
        st.info(f"No ranking: {hr.ranking_note}.", icon=":material/info:")
        return
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.leaderboard_chart(bt, "human raters"), key="rate.leaderboard")
    c2.plotly_chart(charts.win_rate_heatmap(bt, "human raters"), key="rate.heatmap")
    st.dataframe(pd.DataFrame({
        "Pair (higher ranked first)": [f"{p.model_a} vs {p.model_b}" for p in bt.pairs],
        "Strength difference [95% CI]": [_iv(p.difference) for p in bt.pairs],
        f"p ({bt.correction}-adjusted)": [fmt_p(p.p_adjusted) for p in bt.pairs],
        "Distinguishable": ["yes" if p.distinguishable else "no" for p in bt.pairs]}), hide_index=True, key="rate.pairs")
    if bt.note:
        st.caption(bt.note)
