"""Run: choose models, prompt sets and parameters; queue, watch, cancel or resume a run.

Runs execute in the evaluation worker process (core.worker), one at a time, never in this server:
closing the tab, opening another or restarting the dashboard neither stops nor duplicates a run.
"""
import streamlit as st

from core.jobs import RunBusyError
from core.schemas import GenerationParams, RunSpec
from ui import machine_load, nav, state, throughput, widgets
from ui import format as fmt

REFRESH_BUSY_S = 1.0
REFRESH_IDLE_S = 5.0

nav.guard(__file__)
st.title("Run")
widgets.notice()
if st.session_state.pop("run.toast", False):  # the Start button sits below the fold: point up to the live panel
    st.toast("Run queued: its progress is at the top of this page.", icon=":material/arrow_upward:")
queue = state.queue()
first = queue.snapshot()
st.session_state[state.Keys.run_seen_busy] = first.active


def cancel_button(run_id: str, key: str, label: str = "Cancel run") -> None:
    if st.button(label, icon=":material/stop_circle:", key=key):
        outcome = queue.cancel(run_id)
        st.session_state[state.Keys.notice] = {
            "dequeued": f"Cancelled {run_id} before it started.",
            "requested": f"Cancel requested for {run_id}: it stops within the current generation.",
        }.get(outcome, f"{run_id} was not running any more.")
        st.rerun()


@st.fragment(run_every=REFRESH_BUSY_S if first.active else REFRESH_IDLE_S)
def live() -> None:
    snap = queue.snapshot()
    if snap.active != st.session_state.get(state.Keys.run_seen_busy):
        st.rerun()  # a run started or ended: redraw the whole page (refresh rate, resumable runs)
    info = queue.worker()
    widgets.worker_status(info)
    elsewhere = widgets.external_runs(info.pid if info is not None and info.alive else None)
    queued = queue.queued()
    if snap.state == "idle" and queued.empty:
        if not elsewhere:
            st.caption("No run in progress.")
        return
    if snap.state != "idle":
        with st.container(border=True):
            widgets.live_panel(snap, state.model_colors())
            if snap.done:
                machine_load.notice([snap.run_id])  # how busy the measurement cores were (flagged when often)
            if snap.state == "running":
                cancel_button(snap.run_id, key="run.cancel")
            elif snap.state == "interrupted":
                st.warning(f"Run {snap.run_id} was interrupted: the worker stopped or was killed before it finished. "
                           "Resume runs exactly the samples that are missing.", icon=":material/warning:")
                if st.button("Resume this run", icon=":material/resume:", key="run.resume_live"):
                    resume(snap.run_id)
    if not queued.empty:
        st.markdown(f"**Queued** ({len(queued)}): the worker takes them in this order.")
        st.dataframe(queued, hide_index=True)
        c1, c2 = st.columns([3, 1])
        queued_labels = {r["run_id"]: f"{fmt.run_label({**r, 'created_at': r['queued_at']})} · {int(r['planned']):,} planned"
                         for _, r in queued.iterrows()}
        victim = c1.selectbox("Queued run", list(queued_labels), format_func=queued_labels.get, key="run.queued_pick",
                              label_visibility="collapsed")
        with c2:
            cancel_button(victim, key="run.cancel_queued", label="Cancel queued run")
        if info is None or not info.alive:
            st.warning("Runs are queued but no evaluation worker is running.", icon=":material/warning:")
            if st.button("Start the worker", key="run.start_worker", icon=":material/play_arrow:"):
                if widgets.ensure_worker():
                    st.rerun()


def resume(run_id: str) -> None:
    try:
        queue.resume(run_id, start_worker=False)
    except (RunBusyError, KeyError, ValueError) as exc:
        widgets.show_problem("The run could not be resumed.", str(exc))
        return
    if widgets.ensure_worker():
        st.session_state[state.Keys.notice] = f"Resumed {run_id}: queued for the evaluation worker."
        st.rerun()


live()

# ------------------------------------------------------------------ new run
st.subheader("New run")
infos = {i.spec.name: i for i in state.catalog_infos()}
sets = state.prompt_sets()
if not infos or not sets:
    st.info("A run needs at least one model (Models page) and one prompt set (Prompt sets page).")
    st.stop()

names = sorted(infos, key=lambda n: (not infos[n].available, n))
default = widgets.default_models(infos, state.champion())
if not default:
    st.info("No model in the catalog is available on this machine yet. Train the demo models "
            "(`python scripts/train_demo_models.py`) or add a model on the Models page.")
models = st.multiselect("Models", names, default=default, key="run.models",
                        help="From the catalog; add more on the Models page.")
if models:
    chosen = widgets.catalog_frame([infos[m] for m in models])
    st.dataframe(chosen[["name", "params", "est. memory", "available", "problem"]], hide_index=True)
widgets.memory_fit([infos[m] for m in models], state.budget())

set_default = ["demo-qa"] if "demo-qa" in sets else list(sets)[:1]
chosen_sets = st.multiselect("Prompt sets", list(sets), default=set_default, key="run.sets",
                             help="One run per prompt set, run one after another.")
for name in chosen_sets:
    with st.expander(f"Preview: {name} ({len(sets[name].items):,} items)"):
        widgets.prompt_preview(sets[name], key=f"run.preview.{name}")

with st.expander("Generation and measurement settings", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    max_new = c1.number_input("Max new tokens", 1, 8192, 64, key="run.max_new",
                              help="Cap per answer; items may ask for fewer.")
    temperature = c2.number_input("Temperature", 0.0, 2.0, 0.0, 0.1, key="run.temperature", help="0 = greedy")
    top_p = c3.number_input("Top-p", 0.01, 1.0, 1.0, 0.05, key="run.top_p")
    seed = c4.number_input("Seed", 0, 2**31 - 1, 0, key="run.seed")
    c1, c2, c3, c4 = st.columns(4)
    limit = c1.number_input("Items per set (0 = all)", 0, 100_000, 0, key="run.limit")
    repeats = c2.number_input("Repeats", 1, 100, 1, key="run.repeats", help="Each item runs this many times per model.")
    device = c3.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="run.device")
    timeout = c4.number_input("Per-sample limit (s)", 1.0, 3600.0, 60.0, key="run.timeout")
    c1, c2 = st.columns(2)
    budget_gb = c1.number_input("Memory budget (GB, 0 = default)", 0.0, 4096.0, 0.0, 0.5, key="run.budget")
    run_name = c2.text_input("Run name (optional)", key="run.name", max_chars=100)

concurrency, goodput_ttft, goodput_latency = 1, 0.0, 0.0
if any(infos[m].spec.kind == "http" for m in models):
    with st.expander("HTTP models: requests in flight and goodput", expanded=True):
        c1, c2, c3 = st.columns(3)
        concurrency = c1.number_input("Requests in flight per HTTP model", 1, 256, 1, key="run.concurrency",
                                      help="1 gives clean per-request latency; more measures the server under load "
                                           "(capped by each model's max concurrency).")
        goodput_ttft = c2.number_input("Goodput TTFT limit (ms, 0 = none)", 0.0, 1e7, 0.0, key="run.goodput_ttft")
        goodput_latency = c3.number_input("Goodput latency limit (ms, 0 = none)", 0.0, 1e7, 0.0, key="run.goodput_latency")

specs = [
    RunSpec(
        models=tuple(models), prompt_set=s, limit=int(limit) or None, repeats=int(repeats),
        generation=GenerationParams(int(max_new), float(temperature), float(top_p)), device=device,
        seed=int(seed), memory_budget_gb=float(budget_gb) or None, timeout_s=float(timeout),
        concurrency=int(concurrency), goodput_ttft_ms=float(goodput_ttft) or None, goodput_latency_ms=float(goodput_latency) or None,
        name=f"{run_name} [{s}]" if run_name and len(chosen_sets) > 1 else run_name,
    )
    for s in chosen_sets
]
planned = sum(len(sets[s].items[: int(limit) or None]) * len(models) * int(repeats) for s in chosen_sets)
st.caption(f"{fmt.count_of(planned, 'sample')} planned ({fmt.count_of(len(models), 'model')} × "
           f"{fmt.count_of(len(chosen_sets), 'prompt set')} × {fmt.count_of(int(repeats), 'repeat')}).")
if st.button("Start run", type="primary", icon=":material/play_arrow:", key="run.start",
             disabled=not models or not chosen_sets):
    if widgets.start_runs(specs):
        st.session_state["run.toast"] = True
        st.rerun()
if first.active:
    st.caption("One run at a time keeps timings clean: a new run waits in the queue until the current one ends.")

throughput.sweep_form(infos, sets)  # queued for the worker like a run; its chart is on Compare

# ------------------------------------------------------------------ resume
resumable = queue.resumable_runs()
if not resumable.empty:
    st.subheader("Resume an interrupted run")
    st.caption("Samples already stored are kept; only the missing ones run.")
    labels = {r["run_id"]: f"{fmt.run_label(r)} of {int(r['planned']):,}" for _, r in resumable.iterrows()}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key="run.resume_id")
    if st.button("Resume", icon=":material/resume:", key="run.resume"):
        resume(run_id)
st.caption(f"Database: {fmt.md_escape(str(state.db_path()))}")
