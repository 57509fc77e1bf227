"""HTTP backend benchmark against a local `transformers serve` (started here, loopback only).

1. Overhead: the backend's per-request wall time over bare `openai` client calls on the
   same prompts and settings (streamed, usage requested), interleaved A/B so drift in the
   machine's load hits both alike. Target: ratio of medians at most 1.05.
2. Concurrency sweep: 1, 2, 4, 8 requests in flight through the runner's concurrent path
   (ConcurrentRequests), printing request throughput, output tokens/s and median latency.

    python bench/http_backend.py [--model data/models/demo-small] [--prompts 16] [--max-tokens 10]
                                 [--continuous-batching]                # batch concurrent requests server-side
                                 [--base-url URL --served-model NAME]   # an already running server
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from core import catalog, config, prompts  # noqa: E402
from core.backends.http import OpenAIBackend  # noqa: E402
from core.backends.serving import ConcurrentRequests  # noqa: E402
from core.schemas import GenerationParams, RunSpec  # noqa: E402


def bare_call(client, served: str, prompt: str, max_tokens: int) -> float:  # noqa: ANN001
    """The same streamed request with the bare client: create, read every chunk, join the text."""
    t0 = time.perf_counter()
    stream = client.completions.create(model=served, prompt=prompt, max_tokens=max_tokens, temperature=0.0, stream=True,
                                       stream_options={"include_usage": True})
    pieces = [c.choices[0].text for c in stream if c.choices and c.choices[0].text]
    "".join(pieces)
    return time.perf_counter() - t0


def overhead(backend: OpenAIBackend, items, params: GenerationParams, rounds: int) -> tuple[float, float, float]:  # noqa: ANN001
    import openai

    client = openai.OpenAI(base_url=backend.spec.base_url, api_key="unused", max_retries=0)
    bare, ours = [], []
    for r in range(rounds):
        for i, item in enumerate(items):
            n = min(item.max_new_tokens or params.max_new_tokens, params.max_new_tokens)
            order = (0, 1) if (r + i) % 2 == 0 else (1, 0)  # alternate who goes first
            for who in order:
                if who == 0:
                    bare.append(bare_call(client, backend.spec.served_model, backend.prompt_text(item), n))
                else:
                    t0 = time.perf_counter()
                    backend.generate(item, params, deadline=time.perf_counter() + 300, cancel=None, seed=None)
                    ours.append(time.perf_counter() - t0)
    client.close()
    return statistics.median(bare), statistics.median(ours), statistics.median(b / a for a, b in zip(bare, ours, strict=True))


def sweep(spec, run_spec: RunSpec, items, levels: list[int]) -> list[dict]:  # noqa: ANN001
    out = []
    for n in levels:
        backend = OpenAIBackend(spec, run_spec)
        conc = ConcurrentRequests(backend, items, [None] * len(items), run_spec, None, n)
        for item in items:
            conc.generate(item, run_spec.generation, deadline=0.0, cancel=None, seed=None)
        conc.close()
        st = backend.serving_stats(n)
        out.append({"in_flight": n, "requests": st.requests, "req_per_s": st.requests_per_s, "out_tok_per_s": st.output_tps,
                    "median_latency_ms": st.median_latency_ms, "wall_s": st.wall_s})
        backend.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(config.MODELS_DIR / "demo-small"))
    ap.add_argument("--base-url")
    ap.add_argument("--served-model")
    ap.add_argument("--prompt-set", help="default: demo-qa (the demo models' own prompts) when present, else business-core")
    ap.add_argument("--prompts", type=int, default=16, help="prompts for the overhead comparison")
    ap.add_argument("--sweep-requests", type=int, default=64, help="requests per concurrency level")
    ap.add_argument("--max-tokens", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--levels", default="1,2,4,8")
    ap.add_argument("--continuous-batching", action="store_true", help="start the server with continuous batching")
    args = ap.parse_args()

    server = None
    if args.base_url:
        base_url, served = args.base_url, args.served_model
    else:
        from helpers_http import ServeProcess

        extra = ("--continuous-batching",) if args.continuous_batching else ()
        print(f"starting transformers serve {args.model} {' '.join(extra)}...", flush=True)
        server = ServeProcess(Path(args.model), extra_args=extra).start()
        base_url, served = server.base_url, server.served_model
    try:
        set_name = args.prompt_set or ("demo-qa" if "demo-qa" in prompts.all_sets() else "business-core")
        items = prompts.get_set(set_name).items[: args.prompts]
        params = GenerationParams(max_new_tokens=args.max_tokens)
        spec = catalog.make_http_spec("bench-http", base_url, served, endpoint="completions", max_concurrency=64)
        run_spec = RunSpec(models=("bench-http",), prompt_set=set_name, generation=params, timeout_s=600)
        backend = OpenAIBackend(spec, run_spec)
        backend.warmup(items[0], params)
        a, b, paired = overhead(backend, items, params, args.rounds)
        print(f"\noverhead on {len(items)} {set_name} prompts x {args.rounds} rounds, max {args.max_tokens} tokens, interleaved:")
        print(f"  bare openai client  median {a * 1000:8.1f} ms")
        print(f"  OpenAIBackend       median {b * 1000:8.1f} ms")
        print(f"  median of paired ratios (back-to-back calls) {paired:.3f}   target <= 1.05")
        print(f"  ratio of medians                             {b / a:.3f}")
        pool = prompts.get_set(set_name).items
        sweep_items = [pool[i % len(pool)] for i in range(args.sweep_requests)]
        rows = sweep(spec, run_spec, sweep_items, [int(x) for x in args.levels.split(",")])
        print(f"\nconcurrency sweep ({len(sweep_items)} requests per level, max {args.max_tokens} tokens):")
        print(f"  {'in flight':>9} {'req/s':>8} {'out tok/s':>10} {'median ms':>10} {'wall s':>7}")
        base = rows[0]["req_per_s"]
        for r in rows:
            print(f"  {r['in_flight']:>9} {r['req_per_s']:>8.2f} {r['out_tok_per_s']:>10.1f} {r['median_latency_ms']:>10.0f}"
                  f" {r['wall_s']:>7.1f}   x{r['req_per_s'] / base:.2f} throughput vs 1")
    finally:
        if server is not None:
            server.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
