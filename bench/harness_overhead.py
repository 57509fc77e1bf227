"""Harness overhead: the same model, prompts and generation parameters run (a) as a bare
`model.generate` loop and (b) through the full runner (measurement, scoring, storage),
interleaved round by round in one process.

Ratios per demo model:
  latency ratio = median latency the runner records / median bare generate() time  (target <= 1.02)
  wall ratio    = runner wall time excluding model load / bare loop wall time      (target <= 1.15 on demo-base)

    .venv/bin/python bench/harness_overhead.py [--items 40] [--rounds 3] [--models demo-tiny,demo-small,demo-base]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import catalog, prompts  # noqa: E402
from core.backends.local import TransformersBackend  # noqa: E402
from core.loader import ModelLoader  # noqa: E402
from core.runner import Runner  # noqa: E402
from core.schemas import GenerationParams, RunSpec  # noqa: E402
from core.store import Store  # noqa: E402


def bare_loop(backend: TransformersBackend, items, params: GenerationParams) -> tuple[list[float], float]:
    """generate() alone: inputs prepared outside, perf_counter around the call, nothing else."""
    prepared = [(backend.encode(i), backend._gen_kwargs(i, params)) for i in items]
    model = backend.loaded.model
    times = []
    t_wall = time.perf_counter()
    with torch.inference_mode():
        for inputs, kw in prepared:
            t0 = time.perf_counter()
            model.generate(**inputs, **kw)
            times.append((time.perf_counter() - t0) * 1000)
    return times, time.perf_counter() - t_wall


def runner_pass(store: Store, loader: ModelLoader, model: str, n: int, params: GenerationParams) -> tuple[list[float], float]:
    spec = RunSpec(models=(model,), prompt_set="demo-qa", limit=n, device="cpu", generation=params)
    t_wall = time.perf_counter()
    runner = Runner(store, loader=loader)
    run_id = runner.create(spec)
    runner.execute(run_id)
    wall = time.perf_counter() - t_wall
    return store.samples_df(run_id)["latency_ms"].tolist(), wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="demo-tiny,demo-small,demo-base")
    args = ap.parse_args()
    torch.set_num_threads(1)  # steadier timings on a shared machine
    params = GenerationParams(max_new_tokens=16)
    items = prompts.get_set("demo-qa").items[: args.items]
    loader = ModelLoader(device="cpu")
    print(f"{'model':<12} {'bare med ms':>12} {'runner med ms':>14} {'latency ratio':>14} {'bare wall s':>12} {'runner wall s':>14} {'wall ratio':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        for model in args.models.split(","):
            backend = TransformersBackend(loader.get(catalog.get_spec(model)))  # load once, excluded
            bare_lat, run_lat, bare_wall, run_wall = [], [], 0.0, 0.0
            bare_loop(backend, items[:3], params)  # warm both paths
            for _ in range(args.rounds):
                lat, wall = bare_loop(backend, items, params)
                bare_lat += lat
                bare_wall += wall
                lat, wall = runner_pass(store, loader, model, args.items, params)
                run_lat += lat
                run_wall += wall
            b, r = statistics.median(bare_lat), statistics.median(run_lat)
            print(f"{model:<12} {b:>12.2f} {r:>14.2f} {r / b:>14.3f} {bare_wall:>12.2f} {run_wall:>14.2f} {run_wall / bare_wall:>11.3f}")


if __name__ == "__main__":
    main()
