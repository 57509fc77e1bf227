"""Real processes: SIGKILL at several points then resume; a reader beside a CLI writer."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core.store import Store
from tests.conftest import ROOT, demo_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not demo_available("demo-small"), reason="demo models not built"),
]

N_ITEMS = 40


def _cli(*args: str, db, **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args, "--db", str(db)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )


def _count(db) -> int:
    try:
        store = Store(db, lock_timeout_s=5)
        return int(store.query_df("SELECT count(*) AS n FROM samples")["n"].iloc[0])
    except Exception:  # noqa: BLE001 - the writer may be mid-migration on the first poll
        return 0


def _run_id(db) -> str:
    df = Store(db).runs_df()
    assert len(df) == 1
    return df.run_id.iloc[0]


@pytest.mark.parametrize("kill_after_rows", [0, 1, 20], ids=["before-first-batch", "after-first-batch", "mid-run"])
def test_sigkill_then_resume_gives_exactly_planned_rows(tmp_path, kill_after_rows):
    db = tmp_path / "crash.duckdb"
    proc = _cli("run", "--models", "demo-tiny", "--prompt-set", "demo-qa", "--limit", str(N_ITEMS),
                "--max-new-tokens", "8", "--device", "cpu", "--no-progress", "--batch-size", "4", db=db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if kill_after_rows == 0:
            if db.exists() and Store(db).runs_df().shape[0] == 1:
                break
        elif _count(db) >= kill_after_rows:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed: " + proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    store = Store(db)  # reopening after SIGKILL works
    run_id = _run_id(db)
    before = store.samples_df(run_id)
    assert store.runs_df().status.iloc[0] == "interrupted"
    assert len(before) >= (kill_after_rows if kill_after_rows else 0)
    assert len(before) < N_ITEMS

    res = _cli("resume", run_id, "--no-progress", db=db)
    out, err = res.communicate(timeout=300)
    assert res.returncode == 0, err
    after = Store(db).samples_df(run_id)
    assert len(after) == N_ITEMS and after.result_key.is_unique
    assert (after.status == "ok").all()
    # everything committed before the kill is still there, unchanged
    merged = before.merge(after, on="result_key", suffixes=("_b", "_a"))
    assert len(merged) == len(before)
    assert (merged.latency_ms_b == merged.latency_ms_a).all()
    assert Store(db).get_run(run_id).status == "completed"


def test_reader_process_beside_cli_writer(tmp_path):
    """The dashboard reads (here: this process) while a CLI run writes the same file."""
    db = tmp_path / "shared.duckdb"
    Store(db)  # created up front, as the dashboard would
    writer = _cli("run", "--models", "demo-tiny,demo-small", "--prompt-set", "demo-qa", "--limit", "25",
                  "--max-new-tokens", "8", "--device", "cpu", "--no-progress", db=db)
    reads = 0
    seen = set()
    while writer.poll() is None:
        store = Store(db)
        runs = store.runs_df()
        if not runs.empty:
            seen.add(int(store.count_samples(runs.run_id.iloc[0])))
        reads += 1
        time.sleep(0.02)
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert reads > 10
    assert len(seen) > 2  # the reader saw the run progress
    assert Store(db).count_samples(_run_id(db)) == 50
