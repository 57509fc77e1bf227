"""Harness overhead: the same model, prompts and generation parameters run (a) as a bare
`model.generate` call and (b) through the full runner (measurement, scoring, storage), in one
process.

Ratios per demo model:
  latency ratio = median over samples of (latency the runner records / bare generate() time of
                  the same item, run right after it)                    (target <= 1.02)
  wall ratio    = runner wall time excluding model load / bare loop wall time over the same
                  items                                                  (target <= 1.15 on demo-base)

Pairing: the bare call for an item runs inside the runner's progress callback, right after the
runner measured that item or right before it (alternate rounds; its time is subtracted from the
runner's wall time), so clock-speed drift and cache state hit both alike; on this shared 2-core machine unpaired medians of two
separate loops moved by +-10% between runs. Wall ratio: bare loop (inputs prepared outside the
timing) and a runner pass per round, alternating which goes first.

    .venv/bin/python bench/harness_overhead.py [--items 240] [--rounds 3] [--models demo-tiny,demo-small,demo-base]
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


def bare_call(model, inputs, kw) -> float:  # noqa: ANN001
    with torch.inference_mode():
        t0 = time.perf_counter()
        model.generate(**inputs, **kw)
        return (time.perf_counter() - t0) * 1000


def bare_loop(backend: TransformersBackend, items, params: GenerationParams) -> tuple[list[float], float]:
    """generate() alone: inputs prepared outside, perf_counter around the call, nothing else."""
    prepared = [(backend.encode(i), backend._gen_kwargs(i, params)) for i in items]
    model = backend.loaded.model
    t_wall = time.perf_counter()
    times = [bare_call(model, inputs, kw) for inputs, kw in prepared]
    return times, time.perf_counter() - t_wall


def runner_pass(store: Store, loader: ModelLoader, model: str, n: int, params: GenerationParams,
                paired: TransformersBackend | None = None, items=None, lead: bool = False,  # noqa: ANN001
                ) -> tuple[list[float], float, dict[int, float]]:
    """One run through the Runner. With `paired`, bare calls run in the progress callback (their
    time excluded from the wall time): after the runner's sample of item k, the bare call of item
    k (lead=False: bare goes second) or of item k+1 (lead=True: bare goes first, just before the
    runner's sample of that item). Rounds alternate, so whichever order the caches favour, both
    paths get it equally."""
    bare: dict[int, float] = {}
    spent = [0.0]
    prepared = [(paired.encode(i), paired._gen_kwargs(i, params)) for i in items] if paired else []

    def on_event(e) -> None:  # noqa: ANN001
        if paired is not None and e.phase == "sample":
            idx = e.model_done - 1 + (1 if lead else 0)
            if idx < len(prepared):
                t = time.perf_counter()
                bare[idx] = bare_call(paired.loaded.model, *prepared[idx])
                spent[0] += time.perf_counter() - t

    spec = RunSpec(models=(model,), prompt_set="demo-qa", limit=n, device="cpu", generation=params)
    t_wall = time.perf_counter()
    runner = Runner(store, loader=loader, on_event=on_event)
    run_id = runner.create(spec)
    runner.execute(run_id)
    wall = time.perf_counter() - t_wall - spent[0]
    return store.samples_df(run_id).sort_values("seq")["latency_ms"].tolist(), wall, bare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=240, help="demo-qa items per pass (240 = the whole set)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="demo-tiny,demo-small,demo-base")
    args = ap.parse_args()
    torch.set_num_threads(1)  # steadier timings on a shared machine
    params = GenerationParams(max_new_tokens=16)
    items = prompts.get_set("demo-qa").items[: args.items]
    loader = ModelLoader(device="cpu")
    print(f"{args.items} items x {args.rounds} rounds per model; greedy, max 16 new tokens, 1 torch thread")
    print(f"{'model':<12} {'bare med ms':>12} {'runner med ms':>14} {'latency ratio':>14} "
          f"{'bare wall s':>12} {'runner wall s':>14} {'wall ratio':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        for model in args.models.split(","):
            backend = TransformersBackend(loader.get(catalog.get_spec(model)))  # load once, excluded
            bare_loop(backend, items[:3], params)  # warm both paths
            runner_pass(store, loader, model, 3, params)
            ratios, run_lat, bare_lat = [], [], []
            for r in range(2 * args.rounds):  # paired latencies, bare second / bare first alternately
                lat, _, bare = runner_pass(store, loader, model, args.items, params, paired=backend, items=items,
                                           lead=r % 2 == 1)
                ratios += [lat[i] / b for i, b in bare.items()]
                run_lat += [lat[i] for i in bare]
                bare_lat += list(bare.values())
            bare_wall = run_wall = 0.0
            for r in range(args.rounds):  # wall time, alternating which path goes first
                for path in (("bare", "runner") if r % 2 == 0 else ("runner", "bare")):
                    if path == "bare":
                        bare_wall += bare_loop(backend, items, params)[1]
                    else:
                        run_wall += runner_pass(store, loader, model, args.items, params)[1]
            print(f"{model:<12} {statistics.median(bare_lat):>12.2f} {statistics.median(run_lat):>14.2f} "
                  f"{statistics.median(ratios):>14.3f} {bare_wall:>12.2f} {run_wall:>14.2f} {run_wall / bare_wall:>11.3f}")


if __name__ == "__main__":
    main()
