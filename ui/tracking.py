"""The MLflow panel (Overview page): each run's MLflow state and run id, how to open MLflow,
and a button that replays pending runs (core.tracking.sync, idempotent)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state, widgets
from ui import format as fmt

STATUS_TEXT = {
    "synced": "mirrored",
    "pending": "pending: the mirror failed; sync to replay it",
    "disabled": "not mirrored (LLM_EVAL_MLFLOW=off)",
}


def section(runs: pd.DataFrame) -> None:
    from core import tracking

    with st.expander("Experiment tracking (MLflow)", icon=":material/science:"):
        ids = runs["run_id"].tolist()
        labels = {r["run_id"]: fmt.run_label(r) for _, r in runs.iterrows()}
        run_id = st.selectbox("Run", ids, format_func=labels.get, key="tracking.run")
        row = runs[runs["run_id"] == run_id].iloc[0]  # runs_df's columns: no query per render
        mlflow_status, mlflow_run_id, message = (_text(row.get(c)) for c in ("mlflow_status", "mlflow_run_id", "mlflow_message"))
        status = STATUS_TEXT.get(mlflow_status or "", mlflow_status or "not mirrored yet (mirrored when the run finishes)")
        c1, c2 = st.columns(2)
        c1.markdown(f"**MLflow state:** {fmt.md_escape(status)}")
        c2.markdown(f"**MLflow run id:** `{mlflow_run_id}`" if mlflow_run_id else "**MLflow run id:** none yet")
        if message:
            st.caption("Last message from the mirror:")
            st.code(message, language=None, wrap_lines=True)
        uri = tracking.display_uri(state.store())
        st.caption(f"Tracking store: {fmt.md_escape(uri)}. Open MLflow's own UI with:")
        st.code(tracking.mlflow_ui_command(state.store()), language="bash")
        pending = int((runs["mlflow_status"] == "pending").sum()) if "mlflow_status" in runs else 0
        b1, b2 = st.columns(2)
        if b1.button(f"Sync pending runs ({pending})", key="tracking.sync_pending", disabled=pending == 0,
                     icon=":material/sync:"):
            _sync(None)
        if b2.button("Sync this run", key="tracking.sync_one", icon=":material/sync:",
                     disabled=mlflow_status == "synced"):
            _sync(run_id)


def _text(v: object) -> str | None:
    return v if isinstance(v, str) else None  # NULL reads as None or NaN


def _sync(run_id: str | None) -> None:
    from core import tracking

    with st.spinner("Replaying to MLflow..."):
        try:
            results = tracking.sync(state.store(), run_id)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the store is untouched
            widgets.show_problem("Sync to MLflow failed; the runs stay pending.", f"{type(exc).__name__}: {exc}")
            return
    failed = [r for r in results if r.status != "synced"]
    if failed:
        widgets.show_problem("Sync to MLflow failed; the runs stay pending.", [f"{r.run_id}: {r.message}" for r in failed])
    else:
        st.session_state[state.Keys.notice] = f"Synced {len(results)} run{'s' * (len(results) != 1)} to MLflow."
        st.rerun()  # the write changes state.data_version, so state.runs() reloads the runs with their new state
