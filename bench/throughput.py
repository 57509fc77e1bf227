"""The local throughput sweep on the three demo models: tokens/s against per-request latency per batch size.

    .venv/bin/python bench/throughput.py [--batch-sizes 1,2,4,8] [--limit 16] [--max-new-tokens 16]

Runs on a throwaway store (a temporary folder) and prints each model's curve.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store import Store  # noqa: E402
from core.throughput import sweep  # noqa: E402

MODELS = ("demo-tiny", "demo-small", "demo-base")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch-sizes", default="1,2,4,8")
    p.add_argument("--limit", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=16)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = sweep(Store(Path(tmp) / "bench.duckdb"), MODELS, "demo-qa", a.batch_sizes, limit=a.limit,
                       max_new_tokens=a.max_new_tokens, device="cpu")
    print(f"throughput sweep, demo-qa first {a.limit} prompts, max {a.max_new_tokens} new tokens, greedy, CPU")
    for m in MODELS:
        print(f"\n{m}\n  batch  tokens/s  req/s  latency ms  TTFT ms  mem MB  identical")
        for r in result.curve(m).itertuples():
            print(f"  {r.batch_size:5d}  {r.tokens_per_s:8.1f}  {r.requests_per_s:5.1f}  {r.latency_ms_mean:10.1f}"
                  f"  {r.ttft_ms:7.1f}  {r.mem_added_mb:6.2f}  {r.identical_to_b1:9.0%}")


if __name__ == "__main__":
    main()
