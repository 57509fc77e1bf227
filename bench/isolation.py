"""Isolation: does a run measured by the evaluation worker read the same while the dashboard works hard?

demo-small answers all 240 demo-qa items (x --repeats, so a round lasts long enough to alternate
several times) through the evaluation worker (`python -m core worker`). While it runs, this process
(the dashboard's place: it steps off the worker's cores as the served dashboard does) alternates:
(a) idle for --idle-s seconds, (b) rendering the Results and Compare pages of a 1,000,000-sample
database with AppTest, every st.cache_data cache cleared before each render (every render is cold).
Each sample is assigned to (a) or (b) by its start and end time (a sample that straddles a switch
is left out), so both conditions see the same model, the same items and the same minutes of this
machine: alternating within one run cancels the drift between runs, which on this 2-core VM moves
the median latency of identical back-to-back runs by up to 25-40%.

Targets per round: median latency ratio (b)/(a) at most 1.05 and p90 ratio at most 1.10, each
sample's latency taken relative to its item's median in the round (the windows give (a) and (b)
different mixes of items; the raw ratios are printed too). For
contrast, the same rounds with the run in a thread of this process (how the dashboard ran runs
before the worker).

    .venv/bin/python bench/isolation.py [--rounds 3] [--repeats 8] [--big-db PATH] [--skip-thread]

--big-db keeps the synthetic store at PATH (built when missing; bench/analysis.py's synthetic run).
The run's store is a separate file: a DuckDB file is held by one process at a time, and the render
loop's multi-second reads of the big store would otherwise also delay the worker's writes (outside
the timed region: only the wall time would change).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis import synthetic_run  # noqa: E402

from core import jobs  # noqa: E402
from core.schemas import GenerationParams, RunSpec  # noqa: E402
from core.store import Store, now  # noqa: E402

MODEL = "demo-small"
PAGES = ("pages/3_results.py", "pages/4_compare.py")
TARGET_MEDIAN, TARGET_P90 = 1.05, 1.10


def spec(repeats: int, limit: int | None = None) -> RunSpec:
    return RunSpec(models=(MODEL,), prompt_set="demo-qa", limit=limit, repeats=repeats,
                   generation=GenerationParams(max_new_tokens=16), device="cpu")


class RenderLoop:
    """A thread of this process that renders Results and Compare of the big store, cold, while `go`
    is set, and records when each render ran and when it was idle (UTC, as the samples are)."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.renders: list[tuple[datetime, datetime]] = []
        self.idle: list[tuple[datetime, datetime]] = []
        self._idle_since: datetime | None = now()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import streamlit as st
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()  # before the first window
        while True:
            self.go.wait()
            if self._idle_since is not None:
                self.idle.append((self._idle_since, now()))
                self._idle_since = None
            for page in PAGES:
                st.cache_data.clear()
                t0 = now()
                at.switch_page(page).run()
                self.renders.append((t0, now()))
                if at.exception:
                    raise SystemExit(f"{page} raised: {at.exception[0].value}")
            if not self.go.is_set():
                self._idle_since = now()

    def window(self, idle_s: float) -> None:
        """One (a) window then one (b) window: idle_s seconds idle, then one render of each page."""
        time.sleep(idle_s)
        n = len(self.renders)
        self.go.set()
        while len(self.renders) < n + 1:
            time.sleep(0.01)
        self.go.clear()  # the loop finishes the pair of pages it is on, then idles
        while len(self.renders) < n + len(PAGES) or self._idle_since is None:
            time.sleep(0.01)


def classify(samples: pd.DataFrame, loop: RenderLoop) -> pd.DataFrame:
    """'a' for samples entirely inside an idle window, 'b' inside a render, None otherwise."""
    def inside(s: datetime, e: datetime, spans: list[tuple[datetime, datetime]]) -> bool:
        return any(t0 <= s and e <= t1 for t0, t1 in spans)

    cond = [("a" if inside(s, e, loop.idle) else "b" if inside(s, e, loop.renders) else None)
            for s, e in zip(samples["started_at"], samples["finished_at"], strict=True)]
    return samples.assign(cond=cond)


def ratios(df: pd.DataFrame) -> dict[str, float]:
    """Latency in (b) over (a). The windows split each item's repeats at random between the two, so
    the raw percentiles of (a) and (b) also differ by which items (answer lengths) fell where; the
    ratios judged against the targets compare like with like: each sample's latency over the median
    of its item's samples in the whole round (greedy answers: the same tokens on every repeat)."""
    norm = df["latency_ms"] / df.groupby("item_id")["latency_ms"].transform("median")
    a, b = df["cond"] == "a", df["cond"] == "b"
    la, lb, na, nb = df.loc[a, "latency_ms"], df.loc[b, "latency_ms"], norm[a], norm[b]
    return {"n_a": int(a.sum()), "n_b": int(b.sum()), "med_a": la.median(), "med_b": lb.median(),
            "p90_a": la.quantile(0.9), "p90_b": lb.quantile(0.9),
            "raw_median": lb.median() / la.median(), "raw_p90": lb.quantile(0.9) / la.quantile(0.9),
            "median": nb.median() / na.median(), "p90": nb.quantile(0.9) / na.quantile(0.9),
            "other_a": df.loc[a, "other_cpu"].mean(), "other_b": df.loc[b, "other_cpu"].mean()}


def run_round(start, finished, loop: RenderLoop, idle_s: float, store: Store) -> dict[str, float]:  # noqa: ANN001
    run_id = start()
    while not finished(run_id):
        loop.window(idle_s)
    loop.idle.append((loop._idle_since or now(), now()))
    loop._idle_since = now()
    df = store.query_df("SELECT item_id, latency_ms, other_cpu, started_at, finished_at FROM samples "
                        "WHERE run_id = ? AND status = 'ok'", [run_id])
    return ratios(classify(df, loop))


def report(label: str, r: int, x: dict[str, float]) -> None:
    print(f"{label} round {r}: (a) idle n={x['n_a']} median {x['med_a']:.2f} ms p90 {x['p90_a']:.2f} ms "
          f"[others on its cores {x['other_a']:.2f}] | (b) rendering n={x['n_b']} median {x['med_b']:.2f} ms "
          f"p90 {x['p90_b']:.2f} ms [others {x['other_b']:.2f}] | raw ratio median {x['raw_median']:.3f} "
          f"p90 {x['raw_p90']:.3f} | item-matched ratio median {x['median']:.3f} p90 {x['p90']:.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=8, help="passes over the 240 items per round")
    ap.add_argument("--idle-s", type=float, default=3.0, help="length of each idle (a) window")
    ap.add_argument("--items", type=int, default=33_334, help="prompts in the big store (x 10 models x 3 repeats)")
    ap.add_argument("--big-db", type=Path)
    ap.add_argument("--skip-thread", action="store_true", help="skip the in-process thread contrast")
    args = ap.parse_args()
    os.environ.setdefault("LLM_EVAL_MLFLOW", "off")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        big = args.big_db or Path(tmp) / "big.duckdb"
        big_store = Store(big)
        if not big_store.count_samples("bench"):
            synthetic_run(big_store, n_models=10, n_items=args.items, repeats=3)
        print(f"dashboard store: {big_store.count_samples('bench'):,} samples", flush=True)
        os.environ["LLM_EVAL_DB"] = str(big)  # what the render loop's pages read
        import core.analysis  # noqa: F401  (the served dashboard imports it in the background)

        loop = RenderLoop()
        results: dict[str, list[dict[str, float]]] = {}
        if not args.skip_thread:  # before the worker exists, so this process is not yet pinned
            results["in-process thread"] = thread_rounds(args, loop, Path(tmp))
        results["worker"] = worker_rounds(args, loop, Path(tmp))
    print(f"\n{'mode':<20}{'round':>6}{'median b/a':>12}{'p90 b/a':>10}{'raw median':>12}{'raw p90':>10}")
    for mode, rows in results.items():
        for i, x in enumerate(rows, 1):
            print(f"{mode:<20}{i:>6}{x['median']:>12.3f}{x['p90']:>10.3f}{x['raw_median']:>12.3f}{x['raw_p90']:>10.3f}")
    w = results["worker"]
    print(f"worker, worst round: median ratio {max(x['median'] for x in w):.3f} (target <= {TARGET_MEDIAN}), "
          f"p90 ratio {max(x['p90'] for x in w):.3f} (target <= {TARGET_P90})")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores", flush=True)
    os._exit(0)  # the render loop's AppTest thread and DuckDB's bindings make interpreter teardown noisy


def thread_rounds(args: argparse.Namespace, loop: RenderLoop, tmp: Path) -> list[dict[str, float]]:
    from core.loader import ModelLoader
    from core.runner import Runner

    store = Store(tmp / "thread.duckdb")
    loader = ModelLoader(device="cpu")
    threads: dict[str, threading.Thread] = {}

    def start(limit: int | None = None, repeats: int = args.repeats) -> str:
        runner = Runner(store, loader=loader)
        run_id = runner.create(spec(repeats, limit))
        threads[run_id] = threading.Thread(target=runner.execute, args=(run_id,))  # as the old RunManager did
        threads[run_id].start()
        return run_id

    threads[start(8, 1)].join()  # load the model once
    out = []
    for r in range(1, args.rounds + 1):
        out.append(run_round(start, lambda rid: not threads[rid].is_alive(), loop, args.idle_s, store))
        report("thread", r, out[-1])
    return out


def worker_rounds(args: argparse.Namespace, loop: RenderLoop, tmp: Path) -> list[dict[str, float]]:
    from core.affinity import isolate_from

    store = Store(tmp / "runs.duckdb")
    q = jobs.RunQueue(store, after_spawn=lambda info: isolate_from(info.cores))
    info = q.ensure_worker()
    print(f"worker pid {info.pid} on cores {list(info.cores or [])}, {info.torch_threads} torch threads; "
          f"this process now on cores {sorted(os.sched_getaffinity(0))}", flush=True)

    def finished(run_id: str) -> bool:
        return store.runs_df(run_id=run_id).iloc[0]["status"] not in ("queued", "running")

    try:
        (warm,) = q.submit([spec(1, 8)])  # load the model once
        while not finished(warm):
            time.sleep(0.2)
        out = []
        for r in range(1, args.rounds + 1):
            out.append(run_round(lambda: q.submit([spec(args.repeats)])[0], finished, loop, args.idle_s, store))
            report("worker", r, out[-1])
        return out
    finally:
        os.kill(info.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
