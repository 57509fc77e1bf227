"""Isolation: does a run measured by the evaluation worker read the same while the dashboard works hard?

(a) demo-small on all 240 demo-qa items through the worker (`python -m core worker`), dashboard idle;
(b) the same while a loop in this process (the dashboard's place: it steps off the worker's cores as
    the served dashboard does) renders the Results and Compare pages of a 1,000,000-sample database
    with AppTest, every st.cache_data cache cleared before each render (every render is cold).
(a) and (b) alternate, three rounds each. Targets: median latency ratio (b)/(a) at most 1.05 and p90
ratio at most 1.10. For contrast, the same pair with the run in a thread of this process (how the
dashboard ran runs before the worker): (c) idle, (d) rendering.

    .venv/bin/python bench/isolation.py [--rounds 3] [--big-db PATH] [--items 33334] [--skip-thread]

--big-db keeps the synthetic store at PATH (built when missing; bench/analysis.py's synthetic run).
The run's store is a separate file: a DuckDB file is held by one process at a time, and the render
loop's multi-second reads of the big store would otherwise also delay the worker's writes (outside
the timed region, so it would not change latencies, only the wall time).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis import synthetic_run  # noqa: E402

from core import jobs  # noqa: E402
from core.schemas import GenerationParams, RunSpec  # noqa: E402
from core.store import Store  # noqa: E402

MODEL = "demo-small"
PAGES = ("pages/3_results.py", "pages/4_compare.py")
TARGET_MEDIAN, TARGET_P90 = 1.05, 1.10


def spec(items: int) -> RunSpec:
    return RunSpec(models=(MODEL,), prompt_set="demo-qa", limit=items, generation=GenerationParams(max_new_tokens=16),
                   device="cpu")


class RenderLoop:
    """Renders Results and Compare of the big store, cold, until stopped (a thread of this process)."""

    def __init__(self, big_db: Path) -> None:
        self.big_db = big_db
        self.stop = threading.Event()
        self.renders = 0
        self.thread: threading.Thread | None = None

    def __enter__(self) -> RenderLoop:
        """Starts the loop and returns once its first page has rendered: the measured run then
        meets the loop in its steady state (cold renders back to back), not AppTest's start-up."""
        self.stop.clear()
        first = self.renders
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        while self.renders == first and self.thread.is_alive():
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _loop(self) -> None:
        import streamlit as st
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
        while not self.stop.is_set():
            for page in PAGES:
                st.cache_data.clear()
                at.switch_page(page).run()
                if at.exception:
                    raise SystemExit(f"{page} raised: {at.exception[0].value}")
                self.renders += 1


def latencies(store: Store, run_id: str) -> tuple[float, float, int]:
    df = store.query_df("SELECT median(latency_ms) AS med, quantile_cont(latency_ms, 0.9) AS p90, count(*) AS n "
                        "FROM samples WHERE run_id = ? AND status = 'ok'", [run_id])
    return float(df["med"][0]), float(df["p90"][0]), int(df["n"][0])


def through_worker(q: jobs.RunQueue, items: int) -> str:
    (run_id,) = q.submit([spec(items)])
    while q.store.runs_df(run_id=run_id).iloc[0]["status"] in ("queued", "running"):
        time.sleep(0.2)
    return run_id


def in_thread(store: Store, loader, items: int) -> str:  # noqa: ANN001
    from core.runner import Runner

    runner = Runner(store, loader=loader)
    run_id = runner.create(spec(items))
    t = threading.Thread(target=runner.execute, args=(run_id,))  # as the old in-process RunManager did
    t.start()
    t.join()
    return run_id


def pairs(label: str, rounds: int, run, loop: RenderLoop, store: Store) -> list[tuple[float, float]]:  # noqa: ANN001
    out = []
    for r in range(1, rounds + 1):
        a = latencies(store, run())
        before = loop.renders
        with loop:
            b = latencies(store, run())
        rendered = loop.renders - before
        med, p90 = b[0] / a[0], b[1] / a[1]
        out.append((med, p90))
        print(f"{label} round {r}: idle median {a[0]:.2f} ms p90 {a[1]:.2f} ms | rendering median {b[0]:.2f} ms "
              f"p90 {b[1]:.2f} ms ({rendered} page renders) | ratio median {med:.3f} p90 {p90:.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--items", type=int, default=33_334, help="prompts in the big store (x 10 models x 3 repeats)")
    ap.add_argument("--run-items", type=int, default=240, help="demo-qa items per measured run")
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

        loop = RenderLoop(big)
        results: dict[str, list[tuple[float, float]]] = {}
        if not args.skip_thread:  # before the worker exists, so this process is not yet pinned
            from core.loader import ModelLoader

            thread_store = Store(Path(tmp) / "thread.duckdb")
            loader = ModelLoader(device="cpu")
            in_thread(thread_store, loader, 8)  # load the model once
            results["in-process thread"] = pairs("thread", args.rounds, lambda: in_thread(thread_store, loader, args.run_items),
                                                 loop, thread_store)
        run_store = Store(Path(tmp) / "runs.duckdb")
        from core.worker import isolate_from

        q = jobs.RunQueue(run_store, after_spawn=lambda info: isolate_from(info.cores))
        info = q.ensure_worker()
        print(f"worker pid {info.pid} on cores {list(info.cores or [])}, {info.torch_threads} torch threads; "
              f"this process now on cores {sorted(os.sched_getaffinity(0))}", flush=True)
        try:
            through_worker(q, 8)  # load the model once
            results["worker"] = pairs("worker", args.rounds, lambda: through_worker(q, args.run_items), loop, run_store)
        finally:
            import signal

            os.kill(info.pid, signal.SIGTERM)
    print(f"\n{'mode':<20}{'round':>6}{'median b/a':>12}{'p90 b/a':>10}")
    for mode, rows in results.items():
        for i, (m, p) in enumerate(rows, 1):
            print(f"{mode:<20}{i:>6}{m:>12.3f}{p:>10.3f}")
    w = results["worker"]
    worst_med, worst_p90 = max(m for m, _ in w), max(p for _, p in w)
    print(f"worker, worst round: median ratio {worst_med:.3f} (target <= {TARGET_MEDIAN}), "
          f"p90 ratio {worst_p90:.3f} (target <= {TARGET_P90})")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
