"""Widgets and render helpers shared by the pages.

User text (prompts, references, outputs, file names, error details that may quote them)
is shown with st.text, st.code or st.dataframe, never as markdown or HTML.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core import catalog, charts
from core.devices import Budget
from core.jobs import JobSnapshot, WorkerInfo, WorkerStartError
from core.prompts import MAX_ERRORS, PromptSetError
from core.schemas import GenerationParams, PromptSet, RunSpec
from ui import state
from ui import format as fmt

RUN_PAGE = "pages/2_run.py"
DEMO_MODELS = ("demo-tiny", "demo-small", "demo-base")
DEMO_SET = "demo-qa"
DEMO_LIMIT = 20


# --------------------------------------------------------------------------- messages

PURPOSE = ("**Which local model should you ship?** Run language models on your own hardware, then compare "
           "their speed, memory, cost per request and answer quality, with confidence intervals and "
           "significance tests instead of single numbers.")


def notice() -> None:
    """Show (once) a message left by the previous page, e.g. after a redirect."""
    msg = st.session_state.pop(state.Keys.notice, None)
    if msg:
        st.success(fmt.md_escape(msg))


def show_problem(summary: str, detail: str | Sequence[str] | None = None) -> None:
    """An error box with a fixed summary, the (possibly user-derived) detail as plain text."""
    st.error(summary, icon=":material/error:")
    if detail:
        st.code(detail if isinstance(detail, str) else "\n".join(detail), language=None, wrap_lines=True)


def line_errors(exc: PromptSetError) -> None:
    n = len(exc.errors)
    st.error(
        f"The file was rejected with {n} problem{'s' * (n != 1)}; nothing was stored. "
        "Fix each line listed below and upload it again.",
        icon=":material/error:",
    )
    shown = exc.errors[:MAX_ERRORS]
    # a static table wraps each problem in full (a data grid cuts long text off at the column's width)
    df = pd.DataFrame({"Line": [str(e.line) if e.line else fmt.DASH for e in shown], "Problem": [e.message for e in shown]})
    st.table(df.set_index("Line"))
    if n > len(shown):
        st.caption(f"The first {len(shown)} of {n} problems are listed.")


def prompt_set_versions(ps: PromptSet, versions: pd.DataFrame) -> None:
    """The stored versions of a set: each run shows the prompts of the version it was made with."""
    st.caption(f"Versions of `{ps.name}` (version = content hash of the items). A run refers to the version it was "
               "made with, so replacing a set never changes what earlier runs show.")
    if versions.empty:
        st.caption(f"Only the current version ({ps.content_hash}) exists; no run has used it yet.")
        return
    st.dataframe(versions, hide_index=True, column_config={
        "version": "Version", "items": st.column_config.NumberColumn("Items", format="%d"), "source": "Source",
        "stored_at": st.column_config.DatetimeColumn("Stored at (UTC)", format="YYYY-MM-DD HH:mm"),
        "current": st.column_config.CheckboxColumn("Current"),
        "runs": st.column_config.NumberColumn("Runs that used it", format="%d")})


# --------------------------------------------------------------------------- tables


def runs_table(df: pd.DataFrame, height: int | str = "auto") -> None:
    cols = ["status", "run_id", "name", "prompt_set", "done", "planned", "errors", "created_at"]
    cols += [c for c in ("mlflow_status",) if c in df.columns]
    view = df[cols].copy()
    if "mlflow_status" in view:
        view["mlflow_status"] = view["mlflow_status"].fillna("-")
    view["progress"] = (view["done"] / view["planned"].where(view["planned"] > 0)).fillna(0.0)
    st.dataframe(
        view,
        hide_index=True,
        height=height,
        column_config={
            "status": "Status",
            "run_id": "Run id",
            "name": "Name",
            "prompt_set": "Prompt set",
            "done": st.column_config.NumberColumn("Done", format="%d", help="samples stored with an outcome: answered, failed or timed out"),
            "planned": st.column_config.NumberColumn("Planned", format="%d"),
            "errors": st.column_config.NumberColumn("Failed", format="%d", help="samples that failed: generation errors and timeouts (cancelled or skipped samples are not counted)"),
            "created_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "mlflow_status": st.column_config.TextColumn("MLflow", help="mirror state: synced, pending (replay with Sync), disabled"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
        },
    )


def catalog_frame(infos: Sequence[catalog.ModelInfo], champion: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "name": i.spec.name,
                "champion": i.spec.name == champion,
                "kind": i.spec.kind,
                "source": i.spec.source,
                "revision": i.spec.revision or "",
                "params": fmt.params(i.params),
                "weights": fmt.mb(i.weights_mb),
                "est. memory": fmt.mb(i.estimated_mb),
                "available": i.available,
                "version": i.version or "",
                "origin": "bundled" if i.spec.bundled else "added",
                "problem": i.problem or "",
            }
            for i in infos
        ]
    )


def kpi_table(summary: pd.DataFrame) -> None:
    view = pd.DataFrame(
        {
            "Model": summary["model"],
            "Samples": summary["n"].map(fmt.count),
            "Failed": summary["errors"].map(fmt.count),
            "Median latency": summary["median_latency_ms"].map(fmt.ms),
            "p90 latency": summary["p90_latency_ms"].map(fmt.ms),
            "Median TTFT": summary["median_ttft_ms"].map(fmt.ms),
            "Throughput": summary["tokens_per_s"].map(fmt.tps),
            "Model footprint": summary["model_footprint_mb"].map(fmt.mb),
            "Peak added per generation": summary["mem_added_mb_max"].map(fmt.mb),
            "Process peak RSS": summary["process_peak_rss_mb"].map(fmt.mb),
            "Mean quality": summary["mean_quality"].map(fmt.quality),
        }
    )
    st.dataframe(view, hide_index=True)


def latency_bars(run_id: str, done: int, summary: pd.DataFrame) -> None:
    """Median latency per model with the KPI table's interval of each median (bootstrap over
    prompts); on a run above HEAVY_SAMPLES the bars come without (the Results page shows them)."""
    heavy = done > state.HEAVY_SAMPLES
    table = None if heavy else state.kpis(run_id)
    ivs = {m: table.interval(m, "latency_ms_p50") for m in table.models} if table is not None else {}
    st.plotly_chart(charts.kpi_bars(summary, state.model_colors(), ivs), key="overview.kpi")
    methods = list(dict.fromkeys(iv.method for iv in ivs.values() if iv is not None and iv.is_defined))
    if methods:
        st.caption(f"Whiskers: the interval of each model's median latency ({', '.join(methods)}, over prompts).")
    else:
        st.caption("No intervals on the bars: " + ("a large run; the Results page shows them." if heavy
                                                  else "too few samples."))


# --------------------------------------------------------------------------- models


def default_models(infos: dict[str, catalog.ModelInfo], champion: str | None) -> list[str]:
    """The champion when it is available, else the smallest available model (the quickest first run)."""
    if champion in infos and infos[champion].available:
        return [champion]
    avail = sorted((i.spec.kind == "http", i.estimated_mb or 0.0, n) for n, i in infos.items() if i.available)
    return [avail[0][-1]] if avail else []


def memory_fit(selected: Sequence[catalog.ModelInfo], budget: Budget) -> None:
    """Estimated memory of the selected models against the budget (one at a time is enough)."""
    if not selected:
        return
    est = [i.estimated_mb or 0.0 for i in selected]
    budget_mb = budget.bytes / 2**20
    largest = max(est)
    total = sum(est)
    c1, c2, c3 = st.columns(3)
    c1.metric("Largest model (est.)", fmt.mb(largest))
    c2.metric("All selected (est.)", fmt.mb(total))
    c3.metric("Memory budget", fmt.mb(budget_mb), help=f"{budget.basis}; change it on the Models page or below")
    unavailable = [i.spec.name for i in selected if not i.available]
    if unavailable:
        st.warning("Not available on this machine (their samples will be recorded as skipped): " + ", ".join(unavailable))
    if largest > budget_mb:
        st.error(f"The largest selected model needs about {fmt.mb(largest)}, more than the {fmt.mb(budget_mb)} budget; it will be skipped.")
    elif total > budget_mb:
        st.info("The selection does not fit in memory at once; models are loaded one after another (least recently used first out).")
    else:
        st.success("The selection fits the memory budget.", icon=":material/check_circle:")


# --------------------------------------------------------------------------- prompt sets


def prompt_preview(ps: PromptSet, key: str, rows: int = 200) -> None:
    """A bounded table of items and one item shown in full, as plain text."""
    items = ps.items[:rows]
    df = pd.DataFrame(
        [{"id": i.id, "category": i.category, "prompt": i.prompt, "reference": i.reference or "",
          "scorers": ", ".join(s.name for s in i.scorers)} for i in items]
    )
    st.caption(f"{len(ps.items):,} items · categories: {', '.join(ps.categories)} · version {ps.content_hash}"
               + (f" · first {rows} shown" if len(ps.items) > rows else ""))
    st.dataframe(df, hide_index=True, height=240)
    if items:
        ids = [i.id for i in items]
        chosen = st.selectbox("Show one item in full", ids, key=f"{key}.item")
        item = items[ids.index(chosen)]
        if item.system:
            st.caption("System prompt")
            st.text(item.system)
        st.caption("Prompt")
        st.code(item.prompt, language=None, wrap_lines=True)
        st.caption("Reference")
        st.code(item.reference or "(none)", language=None, wrap_lines=True)


# --------------------------------------------------------------------------- runs


def demo_spec() -> RunSpec:
    return RunSpec(
        models=DEMO_MODELS, prompt_set=DEMO_SET, limit=DEMO_LIMIT,
        generation=GenerationParams(max_new_tokens=16), name="demo",
    )


def demo_problem() -> str | None:
    """Why the one-click demo cannot run here, or None."""
    infos = {i.spec.name: i for i in state.catalog_infos()}
    missing = [m for m in DEMO_MODELS if m not in infos or not infos[m].available]
    if missing:
        return (f"The demo models {', '.join(missing)} are not on this machine yet. "
                "Create them with `python scripts/train_demo_models.py` (about 20 minutes on a laptop CPU).")
    if DEMO_SET not in state.prompt_sets():
        return "The demo-qa prompt set is missing; `python scripts/train_demo_models.py` writes it."
    return None


def start_runs(specs: Sequence[RunSpec]) -> bool:
    """Queue runs for the evaluation worker (started when none is alive); shows why when it cannot.
    True when queued and a worker is there to run them."""
    queue = state.queue()
    try:
        with st.spinner("Queuing the run…"):
            run_ids = queue.submit(list(specs), start_worker=False)
    except (catalog.CatalogError, KeyError, ValueError) as exc:
        show_problem("The run could not be started.", exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))
        return False
    if not ensure_worker():
        return False
    n = len(run_ids)
    st.session_state[state.Keys.notice] = f"Queued {n} run{'s' * (n != 1)} for the evaluation worker: {', '.join(run_ids)}"
    return True


def ensure_worker() -> bool:
    """Start the evaluation worker if none is alive; on failure show its log's tail (runs stay queued)."""
    try:
        with st.spinner("Starting the evaluation worker…"):
            state.queue().ensure_worker()
    except WorkerStartError as exc:
        show_problem(str(exc), exc.log_tail or "(the worker wrote nothing to its log)")
        return False
    return True


def worker_status(info: WorkerInfo | None) -> None:
    """One line on the evaluation worker: alive or not, pid, cores, threads, metrics, what it does."""
    if info is None or not info.alive:
        gone = f" (the last one, pid {info.pid}, stopped or died)" if info is not None else ""
        st.caption(f"Evaluation worker: not running{gone}. It starts when a run is queued.")
        return
    cores = ", ".join(map(str, info.cores)) if info.cores else "all"
    doing = f"running {info.run_id}" if info.run_id else fmt.md_escape(info.message or info.state)
    metrics = f" · metrics http://127.0.0.1:{info.metrics_port}/metrics" if info.metrics_port else ""
    st.caption(f"Evaluation worker: pid {info.pid} on {fmt.md_escape(info.host)} · cores {cores} · "
               f"{info.torch_threads or '?'} torch threads · {doing}{metrics}")


def getting_started(expanded: bool) -> None:
    with st.expander("Getting started", expanded=expanded, icon=":material/rocket_launch:"):
        st.markdown(
            "1. **Try the demo**: three small bundled models answer the first "
            f"{DEMO_LIMIT} questions of `demo-qa` (about a minute on a laptop CPU).\n"
            "2. **Bring your own**: add a model on the *Models* page and import a prompt set "
            "(CSV or JSONL) on the *Prompt sets* page.\n"
            "3. **Run** them on the *Run* page and watch progress live; runs continue if you close the tab."
        )
        problem = demo_problem()
        if st.button("Run the demo models on demo-qa", type="primary", disabled=bool(problem),
                     icon=":material/play_arrow:", key="overview.demo"):
            if start_runs([demo_spec()]):
                st.switch_page(RUN_PAGE)
        if problem:
            st.info(problem)
        c1, c2, c3 = st.columns(3)
        c1.page_link(RUN_PAGE, label="Configure a run", icon=":material/play_circle:")
        c2.page_link("pages/6_prompt_sets.py", label="Import a prompt set", icon=":material/list_alt:")
        c3.page_link("pages/7_models.py", label="Add a model", icon=":material/memory:")


def external_runs(worker_pid: int | None) -> bool:
    """Progress of runs measured outside the worker (e.g. `python -m core run`); True if any."""
    df = state.runs()
    if df.empty:
        return False
    other = df[(df["status"] == "running") & (df["pid"] != (worker_pid or -1))]
    for r in other.itertuples():
        frac = r.done / r.planned if r.planned else 0.0
        st.progress(min(1.0, frac), text=f"Run {r.run_id} from another process (pid {int(r.pid)}): "
                                         f"{int(r.done):,} / {int(r.planned):,} samples")
    return not other.empty


def live_panel(snap: JobSnapshot, colors: dict[str, str]) -> None:
    """Progress of the worker's current (or last) run: per model, ETA, latency trace, memory, errors."""
    label = {"running": "Running", "loading": "Loading a model", "cancelling": "Cancelling after the current generation",
             "completed": "Completed", "cancelled": "Cancelled", "failed": "Failed",
             "interrupted": "Interrupted (the worker stopped before the run finished)"}.get(snap.state, snap.state)
    name = (snap.prompt_set or "").replace("`", "'")  # a code span shows its text literally (no markdown escapes)
    st.markdown(f"**{label}** · run `{snap.run_id}` · prompt set `{name}`")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Samples", f"{snap.done:,} / {snap.planned:,}")
    if snap.active:
        rough = snap.eta_rough or snap.eta_s is None
        c2.metric("Time left (rough)" if rough else "Time left (est.)",
                  ("~" if rough and snap.eta_s is not None else "") + fmt.duration(snap.eta_s),
                  help="Remaining samples x smoothed seconds per sample. Rough while fewer than 20 samples are "
                       "timed, or while models that have not started (and may be faster or slower) are left.")
    else:
        c2.metric("Elapsed", fmt.duration(snap.elapsed_s))
    c3.metric("Worker memory (RSS)", fmt.mb(snap.rss_mb), help="Resident memory of the evaluation worker process")
    c4.metric("Failed samples", fmt.count(sum(m.errors for m in snap.models)))
    st.progress(min(1.0, snap.fraction), text=f"{fmt.pct(snap.fraction, 0)} of all samples")
    for m in snap.models:
        last = f" · last {fmt.ms(m.last_latency_ms)}" if m.last_latency_ms else ""
        errs = f" · {m.errors} failed" if m.errors else ""
        eta = f" · about {fmt.duration(m.eta_s)} left" if m.phase == "running" and m.eta_s else ""
        st.progress(min(1.0, m.fraction),
                    text=f"{fmt.md_escape(m.model)} · {m.phase} · {m.done}/{m.planned}{last}{errs}{eta}")
    if snap.trace:
        st.plotly_chart(charts.latency_trace(snap.trace, colors), key="run.trace")
    if snap.messages:
        show_problem("Problems reported during the run:", list(snap.messages))
    if snap.run_id and (snap.messages or any(m.errors for m in snap.models)):
        errs = state.queue().recent_errors(snap.run_id)
        if not errs.empty:
            st.caption("Latest failed samples")
            st.dataframe(errs, hide_index=True)
    if not snap.active:
        if snap.error:
            show_problem("The run stopped with an error; what was measured is kept and it can be resumed.", snap.error)
