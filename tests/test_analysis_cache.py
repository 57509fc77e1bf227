"""A large run's statistics kept on disk by data version (core.analysis_cache)."""
from __future__ import annotations

import pytest

from bench.analysis import synthetic_run
from core import analysis, analysis_cache
from core.store import Store

RUN = "kept"


@pytest.fixture
def store(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    s = Store(tmp_path / "kept.duckdb")
    synthetic_run(s, run_id=RUN, n_models=3, n_items=40, repeats=2, error_rate=0.0)  # 240 samples
    monkeypatch.setattr(analysis_cache, "MIN_SAMPLES", 100)  # counts as large here
    monkeypatch.delenv("LLM_EVAL_STATS_CACHE", raising=False)
    monkeypatch.setenv("LLM_EVAL_STATS_CACHE_DIR", str(tmp_path / "cache"))
    return s


@pytest.fixture
def calls(monkeypatch):  # noqa: ANN001, ANN201
    """How often the real computations ran."""
    from core import parity

    counted = {"kpi_table": 0, "compare_run": 0, "parity_report": 0}
    for name in counted:
        module = parity if name == "parity_report" else analysis
        real = getattr(module, name)

        def counting(*a, __real=real, __name=name, **k):  # noqa: ANN002, ANN003, ANN202
            counted[__name] += 1
            return __real(*a, **k)

        monkeypatch.setattr(module, name, counting)
    return counted


def _files(s: Store) -> list[str]:
    return sorted(p.name for p in analysis_cache.cache_dir(s.path).glob("*.pkl"))


def test_a_large_runs_table_is_computed_once_and_read_back_equal(store, calls) -> None:  # noqa: ANN001
    first = analysis_cache.kpis(store, RUN)
    again = analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 1
    assert len(_files(store)) == 1
    assert again.frame.equals(first.frame) and again.models == first.models
    # other arguments are another result
    analysis_cache.kpis(store, RUN, by_category=True)
    assert calls["kpi_table"] == 2 and len(_files(store)) == 2


@pytest.mark.parametrize("change", ["sample", "rating", "judgement"])
def test_new_data_is_a_new_version(store, calls, change) -> None:  # noqa: ANN001
    analysis_cache.kpis(store, RUN)
    if change == "sample":
        row = store.samples_df(RUN).iloc[[0]].copy()
        row["result_key"] = "extra"
        store.append_samples(row)
    elif change == "rating":
        store.append_rating({"rater": "ann", "run_id": RUN, "mode": "absolute", "item_id": "item-0000", "repeat": 0,
                             "model": "model-00", "score": 7.0, "scale_min": 0, "scale_max": 10, "seed": 1,
                             "origin": "test"})
    else:
        store.append_judgements([{"run_id": RUN, "model": "model-00", "item_id": "item-0000", "status": "ok"}])
    analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2


def test_other_code_is_never_read_back(store, calls, monkeypatch) -> None:  # noqa: ANN001
    analysis_cache.kpis(store, RUN)
    monkeypatch.setattr(analysis_cache, "code_version", lambda: "an edited module")
    analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2


def test_an_unreadable_file_is_recomputed_and_replaced(store, calls) -> None:  # noqa: ANN001
    first = analysis_cache.kpis(store, RUN)
    (path,) = analysis_cache.cache_dir(store.path).glob("*.pkl")
    path.write_bytes(b"not a pickle")
    again = analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2 and again.frame.equals(first.frame)
    assert analysis_cache.load(path.parent, path.name) is not None  # written again


def test_small_runs_and_the_switch_keep_nothing(store, calls, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(analysis_cache, "MIN_SAMPLES", 10_000)
    analysis_cache.kpis(store, RUN)
    analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2 and _files(store) == []
    monkeypatch.setattr(analysis_cache, "MIN_SAMPLES", 100)
    monkeypatch.setenv("LLM_EVAL_STATS_CACHE", "off")
    assert analysis_cache.warm(store, RUN) == []
    assert _files(store) == []


def test_a_live_run_keeps_nothing(store, calls) -> None:  # noqa: ANN001
    """A running run's statistics change with every write: keeping them would only churn the folder."""
    store.set_run_status(RUN, "running")
    analysis_cache.kpis(store, RUN)
    assert analysis_cache.warm(store, RUN) == [] and _files(store) == []
    store.set_run_status(RUN, "completed")
    assert analysis_cache.warm(store, RUN)[0] == "kpis" and _files(store)


def test_a_directory_it_cannot_write_still_gives_the_result(store, calls, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LLM_EVAL_STATS_CACHE_DIR", str(store.path / "not-a-dir"))  # under a file: unwritable
    table = analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 1 and table.models


def test_old_entries_are_pruned(store, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(analysis_cache, "MAX_ENTRIES", 2)
    d = analysis_cache.cache_dir(store.path)
    for i in range(4):
        assert analysis_cache.save(d, f"x-{i}.pkl", i)
    assert len(list(d.glob("*.pkl"))) == 2


def test_the_worker_keeps_what_the_compare_page_asks_for(store, calls, monkeypatch) -> None:  # noqa: ANN001
    """warm() (the worker's hook after a run) must compute exactly the Results and Compare pages' default
    views: after it, both pages render without computing a KPI table or a comparison."""
    from streamlit.testing.v1 import AppTest

    from core import parity, worker
    from ui import state

    monkeypatch.setattr(state, "HEAVY_SAMPLES", analysis_cache.MIN_SAMPLES)  # large for the dashboard too, as at 60,000
    assert analysis_cache.after_run in worker._after_run_hooks()
    analysis_cache.after_run(RUN, store)
    assert calls == {"kpi_table": 1, "compare_run": 1, "parity_report": 1}
    assert [f.split("-")[0] for f in _files(store)] == ["comparison", "kpis", "parity"]

    def refuse(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("computed again")

    monkeypatch.setattr(analysis, "kpi_table", refuse)
    monkeypatch.setattr(analysis, "compare_run", refuse)
    monkeypatch.setattr(parity, "parity_report", refuse)
    monkeypatch.setenv("LLM_EVAL_DB", str(store.path))
    at = AppTest.from_file("../app.py", default_timeout=300).run()
    for page in ("pages/3_results.py", "pages/4_compare.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])


def test_a_failing_warm_up_does_not_fail_the_run(store, monkeypatch, capsys) -> None:  # noqa: ANN001
    def broken(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise MemoryError("no room")

    monkeypatch.setattr(analysis_cache, "warm", broken)
    analysis_cache.after_run(RUN, store)
    assert "not kept ahead: MemoryError: no room" in capsys.readouterr().out


def test_a_folder_others_can_write_is_never_read(store, calls) -> None:  # noqa: ANN001
    """The results are pickles: one planted by another user must not be loaded."""
    analysis_cache.kpis(store, RUN)
    d = analysis_cache.cache_dir(store.path)
    d.chmod(0o777)
    analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2  # not read back (nor written: the file is the first one's)
    d.chmod(0o700)
    analysis_cache.kpis(store, RUN)
    assert calls["kpi_table"] == 2


def test_each_database_has_its_own_folder_in_the_users_cache(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("LLM_EVAL_STATS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    a, b = analysis_cache.cache_dir(tmp_path / "one" / "x.duckdb"), analysis_cache.cache_dir(tmp_path / "two" / "x.duckdb")
    assert a != b and a.parent == b.parent == tmp_path / "xdg" / "llm-eval" / "stats"
