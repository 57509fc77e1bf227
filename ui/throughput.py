"""The throughput sweep in the dashboard: the Run page's form that queues a sweep for the evaluation
worker (the dashboard never measures), and the Compare page's chart of a run's sweep."""
from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from core import catalog, charts, queries
from core.throughput import DEFAULT_LEVELS, parse_batch_sizes, parse_concurrency
from ui import format as fmt
from ui import state, widgets

LEVELS_TEXT = ",".join(map(str, DEFAULT_LEVELS))


def sweep_form(infos: Mapping, sets: Mapping) -> None:
    """An expander to choose models, prompt set, levels and a limit, and queue the sweep."""
    with st.expander("Throughput sweep", icon=":material/speed:"):
        st.caption("Tokens/s against latency per request at several load levels: batch sizes for local models, requests "
                   "in flight for HTTP models (greedy, the first N prompts). The evaluation worker measures it like a "
                   "run; the chart appears on the Compare page.")
        models = st.multiselect("Models", sorted(infos), key="run.sweep.models")
        http = [m for m in models if infos[m].spec.kind == "http"]
        local = [m for m in models if m not in http]
        c1, c2 = st.columns(2)
        prompt_set = c1.selectbox("Prompt set", list(sets), key="run.sweep.set")
        limit = c2.number_input("First N prompts", 1, 10_000, 16, key="run.sweep.limit")
        c1, c2, c3 = st.columns(3)
        batch = c1.text_input("Batch sizes (local models)", LEVELS_TEXT, key="run.sweep.batch", disabled=not local,
                              help="Comma-separated; batch size 1 always runs (the reference for identical outputs).")
        flight = c2.text_input("Requests in flight (HTTP models)", LEVELS_TEXT, key="run.sweep.flight", disabled=not http,
                               help="Comma-separated, at most each model's max concurrency; 1 always runs.")
        max_new = c3.number_input("Max new tokens", 1, 8192, 16, key="run.sweep.max_new")
        device = st.selectbox("Device (local models)", ["cpu", "auto", "cuda", "mps"], key="run.sweep.device")
        if st.button("Start sweep", icon=":material/speed:", key="run.sweep.start", disabled=not models or not prompt_set):
            _start(models, prompt_set, batch if local else None, flight if http else None, int(limit), int(max_new), device)


def _start(models: list[str], prompt_set: str, batch: str | None, flight: str | None, limit: int, max_new: int,
           device: str) -> None:
    queue = state.queue()
    try:
        sizes = parse_batch_sizes(batch) if batch is not None else None
        levels = parse_concurrency(flight) if flight is not None else None
        with st.spinner("Queuing the sweep…"):
            run_id = queue.submit_sweep(models, prompt_set, sizes, levels, start_worker=False, limit=limit,
                                        max_new_tokens=max_new, device=device)
    except (catalog.CatalogError, KeyError, ValueError) as exc:
        widgets.show_problem("The sweep could not be started.", exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))
        return
    if widgets.ensure_worker():
        st.session_state[state.Keys.notice] = f"Queued throughput sweep {run_id} for the evaluation worker."
        st.rerun()


def sweep_section(run_id: str, key: str = "compare.throughput") -> bool:
    """A run's throughput chart under its heading, with its caption; False when the run has no sweep."""
    rows = queries.throughput(state.store(), run_id)
    if rows.empty:
        return False
    chart = charts.throughput_chart(rows, state.model_colors())
    st.subheader("Throughput sweep")
    st.plotly_chart(chart.figure(), key=key)
    st.caption(fmt.md_escape(chart.caption))
    return True
