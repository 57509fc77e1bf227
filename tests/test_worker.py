"""The evaluation worker as a real process (`python -m core worker`) on a real DuckDB file:
queue, progress, cancel and resume through the store, SIGKILL and SIGTERM mid-run, heartbeat
takeover, one worker per database, CLI runs that would overlap, and the metrics scrape."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import jobs
from core.jobs import RunQueue, WorkerStartError, worker_info
from core.store import Store, now
from tests.dashboard_support import prepare, small_spec

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--metrics-port", "0"]  # a free port: tests may overlap with a worker already on the default


def wait_for(pred, timeout: float = 90.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path):
    return prepare(tmp_path / "worker.duckdb")


@pytest.fixture
def queue(setup) -> RunQueue:
    return RunQueue(setup.store, worker_args=FAST)


def status(store: Store, run_id: str) -> str:
    return str(store.runs_df(run_id=run_id).iloc[0]["status"])


def keys(store: Store, run_id: str) -> list[str]:
    return list(store.query_df("SELECT result_key FROM samples WHERE run_id = ?", [run_id])["result_key"])


def long_spec(setup, repeats: int = 40):
    return small_spec(setup, limit=60, repeats=repeats, max_new_tokens=4)


def test_a_queued_run_is_measured_by_the_worker_with_progress_and_metrics(setup, queue):
    (run_id,) = queue.submit([small_spec(setup, limit=40, repeats=3, max_new_tokens=8)])
    info = worker_info(setup.store)
    assert info.alive and info.pid != os.getpid() and info.metrics_port
    scraped = wait_for(lambda: _scrape_running(info.metrics_port, setup.tiny), what="metrics during the run")
    assert scraped["llm_eval_run_samples_planned"] == 120 and 0 < scraped["samples_ok"] <= 120
    assert scraped["llm_eval_worker_rss_bytes"] > 50 * 2**20  # torch and a model are loaded there, not here
    mid = wait_for(lambda: (s := queue.snapshot(run_id)).state == "running" and s.done > 0 and s, what="progress")
    assert mid.run_id == run_id and mid.planned == 120 and mid.worker_pid == info.pid
    wait_for(lambda: status(setup.store, run_id) == "completed", what="completion")
    final = queue.snapshot(run_id)
    assert (final.state, final.done, final.planned) == ("completed", 120, 120)
    (mp,) = final.models
    assert (mp.model, mp.phase, mp.done, mp.planned, mp.errors) == (setup.tiny, "done", 120, 120, 0)
    assert len(final.trace) == 120 and all(p.ok for p in final.trace)
    row = setup.store.get_run(run_id)
    m = row.manifest["measurement"]
    assert (m["role"], m["pid"]) == ("worker", info.pid)
    assert m["cores"] == list(info.cores) and m["torch_threads"] == len(info.cores) == info.torch_threads
    if (os.cpu_count() or 1) >= 2:
        assert len(info.cores) == len(os.sched_getaffinity(0)) - 1  # one core left to the dashboard
    df = setup.store.samples_df(run_id, columns=["other_cpu", "latency_ms"])
    assert len(df) == 120 and df["other_cpu"].notna().all() and (df["other_cpu"] >= 0).all()
    held = worker_info(setup.store).loaded
    assert [h["name"] for h in held] == [setup.tiny]  # the model stays loaded for the next run
    after = _scrape(info.metrics_port)
    assert after[("llm_eval_samples_total", (("model", setup.tiny), ("status", "ok")))] == 120
    assert after[("llm_eval_sample_latency_seconds_count", (("model", setup.tiny),))] == 120
    assert after[("llm_eval_loaded_models", ())] == 1 and after[("llm_eval_model_loads_total", (("model", setup.tiny),))] == 1
    queue.request_unload(setup.tiny)  # the Models page's Unload: a request the idle worker carries out
    wait_for(lambda: worker_info(setup.store).loaded == (), timeout=30, what="the unload")
    assert _scrape(info.metrics_port)[("llm_eval_loaded_models", ())] == 0


def test_cancel_then_resume_through_the_store(setup, queue):
    (run_id,) = queue.submit([long_spec(setup)])
    wait_for(lambda: queue.snapshot(run_id).done >= 5, what="samples")
    assert queue.cancel(run_id) == "requested"
    wait_for(lambda: status(setup.store, run_id) == "cancelled", timeout=30, what="the cancel")
    stored = keys(setup.store, run_id)
    assert 5 <= len(stored) < 2400 and len(set(stored)) == len(stored)
    snap = queue.snapshot(run_id)
    (mp,) = snap.models
    row = setup.store.get_run(run_id)
    assert snap.state == "cancelled" and snap.done == row.done  # the panel and the store agree
    assert (mp.phase, mp.done, mp.errors) == ("stopped", row.done, 0)  # not "done"; a cancelled sample is no failure
    assert run_id in set(queue.resumable_runs()["run_id"])

    queue.resume(run_id)
    wait_for(lambda: status(setup.store, run_id) == "completed", timeout=240, what="the resumed run")
    after = keys(setup.store, run_id)
    assert len(after) == len(set(after)) == 2400
    assert set(stored) <= set(after)


def test_a_queued_run_is_cancelled_before_it_starts(setup, queue):
    first, second = queue.submit([long_spec(setup), small_spec(setup, limit=2)])
    assert status(setup.store, second) == "queued"
    assert queue.cancel(second) == "dequeued"
    assert status(setup.store, second) == "cancelled" and keys(setup.store, second) == []
    queue.cancel(first)
    wait_for(lambda: status(setup.store, first) == "cancelled", timeout=60, what="the first run's cancel")
    assert status(setup.store, second) == "cancelled"  # the worker never took it


def test_sigkill_mid_run_leaves_it_interrupted_and_resume_runs_exactly_the_missing_keys(setup, queue):
    (run_id,) = queue.submit([long_spec(setup)])
    pid = worker_info(setup.store).pid
    wait_for(lambda: len(keys(setup.store, run_id)) > 0, what="a first batch in the store")  # batches every 5 s
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _alive(pid), timeout=10, what="the worker to die")
    assert status(setup.store, run_id) == "interrupted"
    assert queue.snapshot().state == "interrupted"  # the page says so
    before = setup.store.query_df("SELECT result_key, finished_at FROM samples WHERE run_id = ?", [run_id])
    assert 0 < len(before) < 2400

    queue.resume(run_id)  # a new worker takes over the dead one's slot
    info = worker_info(setup.store)
    assert info.alive and info.pid != pid
    wait_for(lambda: status(setup.store, run_id) == "completed", timeout=240, what="the resumed run")
    after = setup.store.query_df("SELECT result_key, finished_at FROM samples WHERE run_id = ?", [run_id])
    assert len(after) == after["result_key"].nunique() == 2400
    kept = before.merge(after, on="result_key", suffixes=("_before", "_after"))
    assert len(kept) == len(before) and (kept["finished_at_before"] == kept["finished_at_after"]).all()  # not re-run


def test_sigterm_stops_after_the_current_sample_and_leaves_the_run_resumable(setup, queue):
    (run_id,) = queue.submit([long_spec(setup)])
    info = worker_info(setup.store)
    wait_for(lambda: queue.snapshot(run_id).done >= 3, what="samples")
    os.kill(info.pid, signal.SIGTERM)
    (proc,) = [p for p in jobs._CHILDREN if p.pid == info.pid]
    assert proc.wait(60) == 0
    row = setup.store.get_run(run_id)
    assert row.status == "interrupted" and "resume" in row.message
    assert 3 <= row.done < row.planned
    assert worker_info(setup.store).state == "stopped" and not worker_info(setup.store).alive
    assert run_id in set(queue.resumable_runs()["run_id"])


def test_one_worker_per_database_and_a_stale_heartbeat_is_taken_over(setup, queue, tmp_path):
    info = queue.ensure_worker()
    second = _worker_cli(setup.store.path)
    assert second.returncode == 3 and f"pid {info.pid}" in second.stderr and "already serves" in second.stderr
    assert queue.ensure_worker().pid == info.pid  # a second client finds the live worker, starts none
    assert len([p for p in jobs._CHILDREN if p.poll() is None]) == 1

    # a heartbeat from another host whose deadline has passed: taken over
    os.kill(info.pid, signal.SIGTERM)
    wait_for(lambda: not _alive(info.pid), timeout=60, what="the worker to stop")
    _fake_holder(setup.store, host="elsewhere", deadline_s=-5)
    assert not worker_info(setup.store).alive
    taken = queue.ensure_worker()
    assert taken.alive and taken.host != "elsewhere"
    os.kill(taken.pid, signal.SIGTERM)
    wait_for(lambda: not _alive(taken.pid), timeout=60, what="the worker to stop")

    # a live heartbeat from another host: refused with who holds it
    _fake_holder(setup.store, host="elsewhere", deadline_s=600)
    refused = _worker_cli(setup.store.path)
    assert refused.returncode == 3 and "elsewhere" in refused.stderr


def test_cli_run_on_a_database_the_worker_is_measuring_is_refused(setup, queue):
    (run_id,) = queue.submit([long_spec(setup)])
    wait_for(lambda: status(setup.store, run_id) == "running", what="the run to start")
    out = subprocess.run([sys.executable, "-m", "core", "run", "--db", str(setup.store.path), "--models", setup.tiny,
                          "--prompt-set", setup.prompt_set, "--limit", "1", "--no-progress"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and f"busy: run {run_id}" in out.stderr and "--queue" in out.stderr
    queued = subprocess.run([sys.executable, "-m", "core", "run", "--db", str(setup.store.path), "--models", setup.tiny,
                             "--prompt-set", setup.prompt_set, "--limit", "1", "--queue"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert queued.returncode == 0 and f"busy with run {run_id}); 0 run(s) ahead of it" in queued.stdout
    assert len(setup.store.queued_runs()) == 1
    queue.cancel(run_id)


def test_a_worker_that_cannot_start_shows_its_log_and_the_run_stays_queued(setup):
    bad = RunQueue(setup.store, worker_args=["--cores", "99999"])
    with pytest.raises(WorkerStartError) as err:
        bad.submit([small_spec(setup, limit=2)])
    assert "stays queued" in str(err.value) and "none of these cores is available" in err.value.log_tail
    (run_id,) = setup.store.queued_runs()["run_id"]
    RunQueue(setup.store, worker_args=FAST).ensure_worker()  # a healthy worker then runs it
    wait_for(lambda: status(setup.store, run_id) == "completed", what="the queued run")
    assert len(keys(setup.store, run_id)) == 2


# --------------------------------------------------------------------------- helpers


def _alive(pid: int) -> bool:
    from core.store import pid_alive

    for p in jobs._CHILDREN:  # reap our own children so they do not linger as zombies
        p.poll()
    return pid_alive(pid)


def _worker_cli(db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "worker", "--db", str(db), *FAST],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _fake_holder(store: Store, host: str, deadline_s: float) -> None:
    t = now()
    row = {"token": "someone-else", "pid": 1, "host": host, "started_at": t, "proc_started": 0.0, "beat_at": t,
           "beat_deadline": t + timedelta(seconds=deadline_s), "state": "idle", "run_id": None, "cores": "[0]",
           "torch_threads": 1, "metrics_port": None, "loaded": "[]", "log_path": None, "message": None}
    assert store.claim_worker_slot(row, lambda holder: False) is None


def _scrape(port: int) -> dict:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _scrape_running(port: int, model: str) -> dict | None:
    m = _scrape(port)
    ok = m.get(("llm_eval_samples_total", (("model", model), ("status", "ok"))), 0)
    planned = m.get(("llm_eval_run_samples_planned", ()), 0)
    if not ok or not planned or not any(k[0] == "llm_eval_run_active" for k in m):
        return None
    return {"samples_ok": ok, "llm_eval_run_samples_planned": planned,
            "llm_eval_worker_rss_bytes": m[("llm_eval_worker_rss_bytes", ())]}


# --------------------------------------------------------------------------- the progress record


def test_progress_counts_agree_after_cancel_and_resume(setup):
    """A cancelled sample is not a failure, a model that did not finish is 'stopped' (not done), counts
    agree with the store; on resume a finished model shows done with its total and the others their
    totals, before anything runs."""
    from core.measure import CancelToken
    from core.runner import Runner
    from core.worker import ProgressRecorder, Worker

    tiny, small = setup.models[:2]
    spec = small_spec(setup, models=(tiny, small), limit=10)
    run_id = Runner(setup.store).create(spec, queued=True)
    worker = Worker(setup.store, cores=None, metrics_port=None)
    cancel = CancelToken()

    def recorder() -> ProgressRecorder:
        return ProgressRecorder(worker, run_id, setup.prompt_set, spec.models, spec.timeout_s)

    first = recorder()

    def on_event(e):  # cancel on the third sample of the second model
        first.on_event(e)
        if e.phase == "sample" and e.model == small and e.model_done >= 3:
            cancel.cancel()

    worker.cancel = cancel
    assert Runner(setup.store, loader=worker.loader, on_event=on_event, cancel=cancel).execute(run_id).status == "cancelled"
    snap = first.p.snapshot(None)
    row = setup.store.get_run(run_id)
    models = {m.model: m for m in snap.models}
    assert (models[tiny].phase, models[tiny].done, models[tiny].planned, models[tiny].errors) == ("done", 10, 10, 0)
    assert models[small].phase == "stopped" and models[small].errors == 0
    assert models[small].done == row.done - 10 and 3 <= models[small].done < 10
    assert snap.done == row.done and snap.planned == row.planned == 20

    second = recorder()
    at_first_load = {}

    def on_resume(e):
        second.on_event(e)
        if e.phase == "loading" and not at_first_load:
            at_first_load.update({m.model: (m.phase, m.done, m.planned) for m in second.p.models.values()})

    worker.cancel = CancelToken()
    Runner(setup.store, loader=worker.loader, on_event=on_resume, cancel=worker.cancel).execute(run_id)
    assert at_first_load[tiny] == ("done", 10, 10)
    assert at_first_load[small][0] == "loading" and at_first_load[small][1:] == (row.done - 10, 10)
    final = {m.model: (m.phase, m.done, m.planned, m.errors) for m in second.p.snapshot(None).models}
    assert final == {tiny: ("done", 10, 10, 0), small: ("done", 10, 10, 0)}


def test_time_left_is_smoothed_and_says_when_it_is_rough():
    from core.worker import Pace

    pace = Pace()
    assert pace.eta(100, False) == (None, True)  # nothing timed yet
    pace.rate, pace.n = 0.010, 50
    assert pace.eta(100, False) == (pytest.approx(1.0), False)
    assert pace.eta(100, True)[1]  # models not started yet: rough
    pace.rate = 0.010
    pace._last = ("m", time.monotonic() - 1.0)  # one slow sample (1 s) moves the estimate by 5% of the gap
    pace.tick("m")
    assert pace.rate == pytest.approx(0.010 + Pace.ALPHA * (1.0 - 0.010), rel=0.05)
    pace.tick("other")  # a model switch is not a sample interval
    assert pace.n == 51


def test_a_finished_runs_progress_counts_its_stored_samples(tmp_path):
    """The run's row says 'completed' before the worker writes its last progress record (the run's hooks
    run in between): the snapshot read 'completed' with the record's stale count (683 of 720, seen in the
    whole suite). An ended run's done count is its stored samples."""
    from bench.analysis import synthetic_run

    store = Store(tmp_path / "ended.duckdb")
    synthetic_run(store, run_id="ended", n_models=2, n_items=10, repeats=1, error_rate=0.0)  # 20 samples, completed
    stale = jobs.JobSnapshot(state="running", run_id="ended", done=13, planned=20)
    store.write_progress("ended", stale.to_json())
    snap = RunQueue(store).snapshot("ended")
    assert snap.state == "completed" and snap.done == snap.planned == 20
