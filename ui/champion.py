"""The champion on the Models page: who reigns, a promote form, a confirmed roll back (core.champion)."""
from __future__ import annotations

import streamlit as st

from core import champion as ch
from core.arms import Arm
from core.registry import ALIAS
from ui import format as fmt
from ui import state, widgets

__all__ = ["ALIAS", "current", "promote_form", "rollback_button"]


def current(view: state.ChampionView) -> None:
    now = view.current
    if now is None:
        st.info("No champion yet: promote a model of a finished run below. Until then the Compare page asks for a baseline.",
                icon=":material/trophy:")
        return
    e, since = now.entry, now.since
    how = "promoted" if since.action == "promote" else "restored by a rollback" if since.action == "rollback" else "adopted"
    when = since.at.strftime("%Y-%m-%d %H:%M UTC") if since.at else "before the history began"
    st.markdown(f":material/trophy: **Champion:** {fmt.md_escape(e.label)}, {how} {when}"
                + (f" by {fmt.md_escape(since.actor)}" if since.actor else "") + f" (history row {since.seq}).")
    if e.note:
        st.caption("Note: " + fmt.md_escape(e.note))
    if e.run_id:
        st.caption(fmt.md_escape("Evidence: " + ch.evidence_text(e) + (f"; gate: {ch.gate_verdict(e.gate)}" if e.gate else "")))


def promote_form(view: state.ChampionView) -> None:
    """Pick a finished run and one of its models, a note and (optionally) a gate result; promote."""
    arms = view.promotable
    if not arms:
        st.caption("Nothing to promote yet: a champion is a model of a finished run with successful results.")
        return
    runs = state.runs()
    labels = {str(r["run_id"]): fmt.run_label(r) for r in runs.to_dict("records")}
    with st.expander("Promote a champion", icon=":material/upgrade:", expanded=view.current is None):
        c1, c2 = st.columns([3, 2])
        run_id = c1.selectbox("Run", list(arms), format_func=lambda r: labels.get(r, r), key="models.promote.run")
        model = c2.selectbox("Model", arms.get(run_id, []), key="models.promote.model")
        note = st.text_input("Note (why)", max_chars=500, key="models.promote.note")
        upload = st.file_uploader("Gate result (JSON from `python -m core gate --json`, optional)", type=["json"],
                                  key="models.promote.gate")
        if st.button("Promote to champion", key="models.promote", type="primary", icon=":material/trophy:",
                     disabled=model is None):
            _promote(Arm(run_id, model), note, upload)


def _promote(arm: Arm, note: str, upload) -> None:  # noqa: ANN001 - an UploadedFile or None
    try:
        gate = ch.read_gate(upload.getvalue().decode("utf-8", "replace"), upload.name) if upload is not None else None
        with st.spinner("Promoting (and mirroring to the MLflow Model Registry)..."):
            change = ch.promote(state.store(), arm, note=note, gate=gate, actor=ch.who("dashboard"))
    except ch.ChampionError as exc:
        widgets.show_problem(f"{arm} was not promoted.", str(exc))
        return
    _done(f"{arm} is now the champion (history row {change.entry.seq}).", change)


def rollback_button(view: state.ChampionView) -> None:
    """Roll back to the previous champion, after ticking a confirmation that names both arms."""
    if view.current is None:
        return
    if view.previous is None:
        st.caption(f"Roll back: no previous champion ({view.current.label} is the first one in force).")
        return
    sure = st.checkbox(f"Restore {view.previous.label} as the champion (replaces {view.current.label})",
                       key="models.rollback.confirm")
    if st.button("Roll back", key="models.rollback", icon=":material/undo:", disabled=not sure,
                 help="Appends a rollback row to the history; the history itself is never edited."):
        try:
            with st.spinner("Rolling back (and moving the MLflow alias)..."):
                change = ch.rollback(state.store(), actor=ch.who("dashboard"))
        except ch.ChampionError as exc:
            widgets.show_problem("The champion was not rolled back.", str(exc))
            return
        _done(f"Rolled back: {change.entry.label} is the champion again (history row {change.entry.seq}).", change)


def _done(message: str, change: ch.Change) -> None:
    from core import registry

    if change.mirror.status == registry.PENDING:
        message += f" The MLflow mirror failed ({change.mirror.message}); the history is stored: replay with " \
                   "`python -m core champion sync`."
    elif change.mirror.status == registry.SYNCED:
        message += f" MLflow alias '{ALIAS}' -> {change.mirror.registered_model} version {change.mirror.version}."
    st.session_state.pop("models.rollback.confirm", None)
    st.session_state[state.Keys.notice] = message
    st.rerun()
