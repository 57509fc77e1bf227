"""What the token clock and its surroundings cost the generation they measure.

Each variant times the same generate() of the same item; the variants run in a random order per
item (position in the order moved medians by about 1% on this machine), and each prints the
median over items of (variant time / bare time of that item):

  bare            generate() with inputs tokenised long before, perf_counter around it
  timestamps      + a streamer that only appends perf_counter() per token
  rss per token   + TokenClock reading /proc/self/statm at every token (the fallback path)
  clock           TokenClock as the backend uses it: kernel peak-RSS mark reset in start() and
                  read in stop(), nothing but timestamp, deadline and cancel check per token
  tokenize first  bare, with the tokenizer called on the prompt right before generate()

    .venv/bin/python bench/token_clock.py [--model demo-tiny] [--items 240] [--rounds 8]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from core import catalog, devices, prompts  # noqa: E402
from core.backends.local import TransformersBackend  # noqa: E402
from core.loader import ModelLoader  # noqa: E402
from core.measure import TokenClock, rss_bytes  # noqa: E402
from core.schemas import GenerationParams  # noqa: E402


class _Timestamps:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.seen_prompt = False

    def put(self, value) -> None:  # noqa: ANN001
        if self.seen_prompt:
            self.times.append(time.perf_counter())
        self.seen_prompt = True

    def end(self) -> None:
        pass


class _SampledClock(TokenClock):
    """TokenClock on its fallback path: no kernel mark, RSS read at every token."""

    def start(self) -> None:
        self._sample_rss, self.peak_rss = True, rss_bytes()
        self.t0 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="demo-tiny")
    ap.add_argument("--items", type=int, default=240)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    backend = TransformersBackend(ModelLoader(device="cpu").get(catalog.get_spec(args.model)))
    model, tok = backend.loaded.model, backend.loaded.tokenizer
    params = GenerationParams(max_new_tokens=16)
    items = prompts.get_set("demo-qa").items[: args.items]
    prepared = [(backend.encode(i), backend._gen_kwargs(i, params)) for i in items]

    def timed(i: int, streamer=None) -> float:  # noqa: ANN001
        inputs, kw = prepared[i]
        with torch.inference_mode():
            t0 = time.perf_counter()
            model.generate(**inputs, **kw, **({"streamer": streamer} if streamer else {}))
            return time.perf_counter() - t0

    def with_clock(i: int, cls=TokenClock) -> float:  # noqa: ANN001
        inputs, kw = prepared[i]
        clock = cls("cpu", deadline=time.perf_counter() + 60)
        kw = {**kw, "streamer": clock}
        try:
            with torch.inference_mode():
                clock.start()
                model.generate(**inputs, **kw)
                devices.synchronize("cpu")
                return time.perf_counter() - clock.t0
        finally:
            clock.stop()

    def tokenize_first(i: int) -> float:
        tok(items[i].prompt, return_tensors="pt")
        return timed(i)

    variants = {
        "bare": timed,
        "timestamps": lambda i: timed(i, _Timestamps()),
        "rss per token": lambda i: with_clock(i, _SampledClock),
        "clock": with_clock,
        "tokenize first": tokenize_first,
    }
    for f in variants.values():  # warm every path
        f(0)
    times: dict[str, list[float]] = {k: [] for k in variants}
    rng = random.Random(1)
    for _ in range(args.rounds):
        for i in range(len(items)):
            order = list(variants.items())
            rng.shuffle(order)
            for name, f in order:
                times[name].append(f(i))
    bare = times["bare"]
    print(f"{args.model}: {len(items)} items x {args.rounds} rounds, random order per item; greedy, max 16 new tokens, 1 torch thread")
    print(f"{'variant':<24} {'median ms':>10} {'ratio to bare':>14}")
    for name, ts in times.items():
        ratio = statistics.median(t / b for t, b in zip(ts, bare))
        print(f"{name:<24} {statistics.median(ts) * 1000:>10.3f} {ratio:>14.4f}")


if __name__ == "__main__":
    main()
