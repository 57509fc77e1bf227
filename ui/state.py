"""Cached resources and cached queries shared by the pages, plus session-state keys.

Resources (st.cache_resource, shared by every session, hence thread-safe objects only):
the Store for the database the CLI uses (LLM_EVAL_DB or the default runtime path) and the
RunQueue through which runs go to the evaluation worker process (core.worker). The dashboard
never loads a model or imports torch: timed generations run in the worker.

Queries (st.cache_data) take the database path and a data version (the file's size and
modification time, WAL included) as arguments, so they are recomputed as soon as a run
writes new samples, whoever wrote them (this server or a CLI run).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd
import streamlit as st

from core import catalog, config, jobs, prompts
from core.devices import Budget, default_budget
from core.queries import planned_models
from core.scale import POLICY
from core.schemas import PromptSet
from core.store import Store
from ui import format as fmt

if TYPE_CHECKING:
    from core import analysis
    from core import champion as ch
    from core.analysis import costs as C

CACHE_TTL_S = 30  # catalog files and process liveness can change without a database write


class Keys:
    """Session-state keys used by more than one page."""

    run_seen_busy = "run.seen_busy"
    cost_settings = "costs.settings"  # core.analysis.costs.CostSettings chosen on the Costs page
    notice = "notice"  # a message to show once on the next page render


class ChampionView(NamedTuple):
    current: ch.Champion | None
    previous: ch.Entry | None
    history: pd.DataFrame
    promotable: dict[str, list[str]]  # run id -> its models with results


# --------------------------------------------------------------------------- resources


def db_path() -> Path:
    return config.db_path()


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path)  # shared by session threads and the run worker: Store serialises its connections


def store() -> Store:
    return _store(str(db_path()))



@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import the statistics stack (scipy, ~1.5 s) and the price data in the background once the server has served
    its first page, so the first visit to Results, Compare or Costs does not pay for it."""
    def work() -> None:
        import core.analysis  # noqa: F401
        import genai_prices  # noqa: F401  (cloud prices on the Costs page, ~0.1 s)

    thread = threading.Thread(target=work, name="llm-eval-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _queue(path: str) -> jobs.RunQueue:
    return jobs.RunQueue(_store(path), after_spawn=_isolate)


def queue() -> jobs.RunQueue:
    """Runs go to the evaluation worker through the store (queue, cancel, resume, progress)."""
    q = _queue(str(db_path()))
    _isolated(str(db_path()))
    return q


def _isolate(info: jobs.WorkerInfo) -> None:
    """Keep the dashboard off the worker's measurement cores (it has the others to itself)."""
    from core.affinity import isolate_from

    if info.local:
        isolate_from(info.cores)


@st.cache_resource(show_spinner=False, ttl=CACHE_TTL_S)
def _isolated(path: str) -> bool:
    """Once per server (re-checked every CACHE_TTL_S): step off a live worker's cores, e.g. one started
    before this dashboard or by another client."""
    info = jobs.worker_info(_store(path))
    if info is not None and info.alive:
        _isolate(info)
        return True
    return False


def worker() -> jobs.WorkerInfo | None:
    return queue().worker()


def data_version(path: str | Path | None = None) -> tuple[int, ...]:
    """Changes whenever the database file (or its write-ahead log) changes."""
    p = Path(path or db_path())
    out: list[int] = []
    for f in (p, p.with_name(p.name + ".wal")):
        try:
            st_ = f.stat()
            out += [st_.st_mtime_ns, st_.st_size]
        except FileNotFoundError:
            out += [0, 0]
    return tuple(out)


def budget() -> Budget:
    """The worker's default memory budget for CPU models, computed here without torch."""
    return default_budget("cpu")


# --------------------------------------------------------------------------- cached queries


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _runs(path: str, version: tuple[int, ...]) -> pd.DataFrame:
    return _store(path).runs_df(limit=500)


def runs() -> pd.DataFrame:
    """Runs, newest first, with done / planned / errors and live status."""
    path = str(db_path())
    return _runs(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def _summary(path: str, run_id: str, version: tuple[int, ...]) -> pd.DataFrame:
    return _store(path).latency_summary(run_id)


def run_summary(run_id: str) -> pd.DataFrame:
    path = str(db_path())
    return _summary(path, run_id, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _catalog(path: str, version: tuple[int, ...]) -> list[catalog.ModelInfo]:
    return [catalog.describe(s) for s in catalog.all_specs(_store(path)).values()]


def catalog_infos() -> list[catalog.ModelInfo]:
    path = str(db_path())
    return _catalog(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _prompt_sets(path: str, version: tuple[int, ...]) -> dict[str, PromptSet]:
    return prompts.all_sets(_store(path))


def prompt_sets() -> dict[str, PromptSet]:
    path = str(db_path())
    return _prompt_sets(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=16)
def _prompt_set_versions(path: str, version: tuple[int, ...], name: str, current: str | None) -> pd.DataFrame:
    return _store(path).prompt_set_versions(name, current)


def prompt_set_versions(ps: PromptSet) -> pd.DataFrame:
    """The stored versions of ps's name (ps's own is flagged current), newest first."""
    path = str(db_path())
    return _prompt_set_versions(path, data_version(path), ps.name, ps.content_hash)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _champion(path: str, version: tuple[int, ...]) -> str | None:
    return _store(path).get_setting("champion")


def champion() -> str | None:
    """The champion's model name, the default baseline for comparisons (promoted on the Models page)."""
    path = str(db_path())
    return _champion(path, data_version(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _champion_view(path: str, version: tuple[int, ...]) -> ChampionView:
    from core import champion as ch

    s = _store(path)
    entries = ch.history(s)
    return ChampionView(ch.current(s, entries), ch.previous(s, entries), ch.history_frame(s), ch.promotable(s))


def champion_view() -> ChampionView:
    """The champion in force, the one a rollback restores, the history table and the promotable arms."""
    path = str(db_path())
    return _champion_view(path, data_version(path))


def model_colors() -> dict[str, str]:
    """Colour per model over every model known (catalog + runs), the same on every page."""
    names = {i.spec.name for i in catalog_infos()}
    df = runs()
    if not df.empty:
        for spec in df["spec"]:
            names.update(planned_models(spec))
    return fmt.model_colors(names)


# --------------------------------------------------------------------------- analysis (Results, Compare, Costs)

HEAVY_SAMPLES = POLICY.dashboard_samples  # above this many samples the category breakdown is opt-in (core.scale)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def _run_version(path: str, run_id: str, version: tuple[int, ...]) -> tuple:
    from core.queries import run_data_version

    return run_data_version(_store(path), run_id)


def run_version(run_id: str) -> tuple:
    """Changes only when this run's data changes (status, last write, samples, its latest rating or LLM
    judgement: core.queries.run_data_version), not on other runs' writes; read once per database write."""
    path = str(db_path())
    return _run_version(path, run_id, data_version(path))


def cost_settings() -> "C.CostSettings":
    """The cost assumptions of this session (edited on the Costs page; used on Results too)."""
    from core.analysis import costs as C

    return st.session_state.get(Keys.cost_settings) or C.CostSettings()


@st.cache_data(ttl=3600, show_spinner="Computing the KPI table…", max_entries=32)
def _kpis(path: str, run_id: str, version: tuple, models: tuple[str, ...], by_category: bool, intervals: bool,
          settings: "C.CostSettings") -> "analysis.KpiTable":
    from core import analysis_cache

    # a large run's table is kept on disk by data version (core.analysis_cache): computed once, by the worker
    return analysis_cache.kpis(_store(path), run_id, models=models, by_category=by_category, intervals=intervals,
                               settings=settings, version=version)


def kpis(run_id: str, models: tuple[str, ...] = (), *, by_category: bool = False, intervals: bool = True) -> "analysis.KpiTable":
    return _kpis(str(db_path()), run_id, run_version(run_id), tuple(models), by_category, intervals, cost_settings())


@st.cache_data(ttl=3600, show_spinner="Comparing the models…", max_entries=16)
def _comparison(path: str, run_id: str, version: tuple, metrics: tuple[str, ...], baseline: str | None,
                correction: str, margins: tuple[tuple[str, float], ...], alpha: float,
                settings: "C.CostSettings") -> "analysis.RunComparison":
    from core import analysis_cache

    return analysis_cache.comparison(_store(path), run_id, metrics=metrics, baseline=baseline, correction=correction,
                                     margins=margins, alpha=alpha, settings=settings, version=version)


def comparison(run_id: str, metrics: tuple[str, ...], baseline: str | None, correction: str,
               margins: dict[str, float], alpha: float) -> "analysis.RunComparison":
    return _comparison(str(db_path()), run_id, run_version(run_id), tuple(metrics), baseline, correction,
                       tuple(sorted(margins.items())), alpha, cost_settings())


@st.cache_data(ttl=3600, show_spinner="Resampling response times and token counts…", max_entries=8)
def _cost_resamples(path: str, run_id: str, version: tuple, n_resamples: int | None) -> "analysis.CostResamples":
    """The resampled means behind every cost interval: they do not depend on the assumptions,
    so they are computed once per run (and data version), whatever the Costs page settings."""
    from core import analysis

    return analysis.cost_resamples(_store(path), run_id, n_resamples=n_resamples)


@st.cache_data(ttl=3600, show_spinner="Computing costs…", max_entries=32)
def _cost_report(path: str, run_id: str, version: tuple, settings: "C.CostSettings",
                 n_resamples: int | None) -> "analysis.CostReport":
    from core import analysis

    return analysis.cost_report(_store(path), run_id, settings,
                                resamples=_cost_resamples(path, run_id, version, n_resamples))


def cost_report(run_id: str, settings: "C.CostSettings") -> "analysis.CostReport":
    return _cost_report(str(db_path()), run_id, run_version(run_id), settings, None)


@st.cache_data(ttl=3600, show_spinner="Computing sample sizes…", max_entries=32)
def _sample_size(path: str, run_id: str, version: tuple, metric: str, effect: float, baseline: str | None) -> "analysis.SampleSizeReport":
    from core import analysis

    return analysis.sample_size(_store(path), run_id, metric, effect, baseline=baseline)


def sample_size(run_id: str, metric: str, effect: float, baseline: str | None) -> "analysis.SampleSizeReport":
    return _sample_size(str(db_path()), run_id, run_version(run_id), metric, effect, baseline)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _values(path: str, run_ids: tuple[str, ...], versions: tuple, models: tuple[str, ...], column: str) -> pd.DataFrame:
    from core.queries import explore

    return explore.value_sample(_store(path), run_ids, models, column)


def values(run_ids: tuple[str, ...], models: tuple[str, ...], column: str) -> pd.DataFrame:
    """A bounded, seeded sample of one column per (run, model) for distribution charts."""
    return _values(str(db_path()), tuple(run_ids), tuple(run_version(r) for r in run_ids), tuple(models), column)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=64)
def _explorer(path: str, run_id: str, version: tuple, models: tuple[str, ...], category: str | None,
              show: str, disagree_only: bool, max_items: int, offset: int) -> tuple[pd.DataFrame, int]:
    from core.queries import explore

    return explore.explorer(_store(path), run_id, models, category=category, show=show,
                            disagree_only=disagree_only, max_items=max_items, offset=offset)


def explorer(run_id: str, models: tuple[str, ...], category: str | None, show: str, disagree_only: bool,
             max_items: int = 50, offset: int = 0) -> tuple[pd.DataFrame, int]:
    return _explorer(str(db_path()), run_id, run_version(run_id), tuple(models), category, show,
                     disagree_only, max_items, offset)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=32)
def _categories(path: str, run_id: str, version: tuple) -> list[str]:
    from core.queries import explore

    return explore.categories(_store(path), run_id)


def categories(run_id: str) -> list[str]:
    return _categories(str(db_path()), run_id, run_version(run_id))


@st.cache_data(ttl=3600, show_spinner=False, max_entries=32)
def _drift_points(path: str, run_id: str, version: tuple, models: tuple[str, ...]) -> pd.DataFrame:
    from core.queries import explore

    return explore.drift_points(_store(path), run_id, models)


def drift_points(run_id: str, models: tuple[str, ...]) -> pd.DataFrame:
    return _drift_points(str(db_path()), run_id, run_version(run_id), tuple(models))


@st.cache_data(ttl=3600, show_spinner=False, max_entries=32)
def _prompt_items(path: str, run_id: str, version: tuple) -> dict[str, tuple[str, str | None]]:
    """item id -> (prompt, reference) of the run's own prompt-set version (kept when the set is replaced)."""
    store_ = _store(path)
    ps = prompts.run_set(store_, store_.get_run(run_id))
    return {i.id: (i.prompt, i.reference) for i in ps.items} if ps is not None else {}


def prompt_items(run_id: str) -> dict[str, tuple[str, str | None]]:
    return _prompt_items(str(db_path()), run_id, run_version(run_id))
