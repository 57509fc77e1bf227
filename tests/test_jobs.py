"""core.jobs.RunManager on a real tiny model and a real DuckDB file."""
from __future__ import annotations

import dataclasses
import time

import pytest

from core import catalog
from core.jobs import RunBusyError, RunManager
from tests.dashboard_support import prepare, small_spec

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def setup(tmp_path):
    return prepare(tmp_path / "jobs.duckdb")


@pytest.fixture
def manager(setup, loader) -> RunManager:  # loader: the session fixture of conftest
    m = RunManager(setup.store, loader, after_run=[])
    yield m
    m.cancel()
    m.wait(60)


def _wait_for(pred, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_run_completes_with_live_progress(setup, manager):
    (run_id,) = manager.start(small_spec(setup, limit=3))
    snap = manager.wait(120)
    assert snap.state == "completed", snap.error
    assert snap.run_id == run_id and snap.done == snap.planned == 3
    (mp,) = snap.models
    assert (mp.model, mp.phase, mp.done, mp.planned, mp.errors) == (setup.tiny, "done", 3, 3, 0)
    assert len(snap.trace) == 3 and all(p.ok and p.latency_ms > 0 for p in snap.trace)
    assert snap.rss_mb and snap.rss_mb > 10
    assert snap.results[0].status == "completed"
    row = setup.store.get_run(run_id)
    assert (row.status, row.done, row.planned) == ("completed", 3, 3)
    assert not manager.busy


def test_second_start_is_refused_while_running(setup, manager):
    manager.start(small_spec(setup, limit=20, repeats=20))  # long enough to still run when cancelled below
    with pytest.raises(RunBusyError, match="in progress"):
        manager.start(small_spec(setup, limit=1))
    with pytest.raises(RunBusyError):  # the slot is process-wide, not per manager
        RunManager(setup.store, manager.loader, after_run=[]).start(small_spec(setup, limit=1))
    manager.cancel()
    assert manager.wait(60).state == "cancelled"
    manager.start(small_spec(setup, limit=1))  # free again
    assert manager.wait(60).state == "completed"


def test_cancel_stops_within_one_generation_keeps_samples_and_resumes(setup, manager):
    (run_id,) = manager.start(small_spec(setup, limit=10, repeats=4))
    _wait_for(lambda: manager.snapshot().done >= 2)
    done_before = manager.snapshot().done
    assert manager.cancel()
    snap = manager.wait(30)
    assert snap.state == "cancelled"
    assert snap.done <= done_before + 1  # at most the generation in flight finished after the cancel
    row = setup.store.get_run(run_id)
    assert row.status == "cancelled"
    assert 2 <= row.done < row.planned == 40  # what was measured is kept
    assert run_id in set(manager.resumable_runs()["run_id"])

    manager.resume(run_id)
    snap = manager.wait(180)
    assert snap.state == "completed", snap.error
    row = setup.store.get_run(run_id)
    assert (row.status, row.done) == ("completed", 40)
    samples = setup.store.samples_df(run_id, columns=["result_key", "status"])
    assert len(samples) == 40 and set(samples["status"]) == {"ok"}  # no duplicates, cancelled rows re-run


def test_several_prompt_sets_run_in_sequence(setup, manager, tmp_path):
    from core import prompts

    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "a", "prompt": "Question: What is 2 + 2?\\nAnswer:", "reference": "4"}\n')
    prompts.import_set(setup.store, extra, "extra")
    specs = [small_spec(setup, limit=2), dataclasses.replace(small_spec(setup), prompt_set="extra")]
    run_ids = manager.start(specs)
    assert setup.store.get_run(run_ids[1]).status == "queued"
    snap = manager.wait(120)
    assert snap.state == "completed" and len(snap.results) == 2
    assert [setup.store.get_run(r).status for r in run_ids] == ["completed", "completed"]
    assert [setup.store.get_run(r).done for r in run_ids] == [2, 1]


def test_bad_spec_raises_and_frees_the_slot(setup, manager):
    bad = small_spec(setup, models=("no-such-model",))
    with pytest.raises(catalog.CatalogError, match="unknown model"):
        manager.start(bad)
    manager.start(small_spec(setup, limit=1))
    assert manager.wait(60).state == "completed"


def test_model_failure_is_reported_not_raised(setup, manager, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')
    catalog.add_model(setup.store, catalog.make_spec("broken", str(broken)))
    run_ids = manager.start(small_spec(setup, models=("broken", setup.tiny), limit=2))
    snap = manager.wait(120)
    assert snap.state == "completed"
    by_model = {m.model: m for m in snap.models}
    assert by_model["broken"].phase == "failed" and by_model["broken"].message
    assert by_model[setup.tiny].phase == "done" and by_model[setup.tiny].errors == 0
    assert any(msg.startswith("broken:") for msg in snap.messages)
    errors = manager.recent_errors(run_ids[0])
    assert set(errors["model"]) == {"broken"} and set(errors["status"]) == {"skipped"}


def test_worker_is_a_daemon_thread_of_the_process(setup, manager):
    manager.start(small_spec(setup, limit=1))
    thread = manager._thread
    assert thread is not None and thread.daemon  # belongs to the server process, not a session
    manager.wait(60)


def test_store_reads_from_other_threads_while_a_run_writes(setup, manager):
    import threading

    errors: list[str] = []

    def read() -> None:
        while manager.busy:
            try:
                manager.store.runs_df()
                manager.store.get_setting("champion")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(f"{type(exc).__name__}: {exc}")

    manager.start(small_spec(setup, limit=20))
    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    snap = manager.wait(120)
    for t in readers:
        t.join(10)
    assert snap.state == "completed", snap.error
    assert errors == []


def test_a_run_whose_process_died_is_resumable(setup, manager):
    """A run left 'running' by a dead process (server killed mid-run) shows as interrupted and resumes."""
    import subprocess
    import sys

    from core.runner import Runner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = Runner(setup.store).create(small_spec(setup, limit=2))
    setup.store.set_run_status(run_id, "running", pid=dead.pid)
    assert setup.store.get_run(run_id).status == "interrupted"
    assert run_id in set(manager.resumable_runs()["run_id"])
    manager.resume(run_id)
    assert manager.wait(60).state == "completed"
    row = setup.store.get_run(run_id)
    assert (row.status, row.done) == ("completed", 2)


def test_resume_refuses_a_run_still_running_elsewhere(setup, manager):
    from core.runner import Runner

    run_id = Runner(setup.store).create(small_spec(setup, limit=1))  # 'running', pid = this live process
    with pytest.raises(RunBusyError, match="still running"):
        manager.resume(run_id)
    assert not manager.busy
