"""Check the CUDA (or MPS) path on a machine with an accelerator.

    python scripts/device_check.py [--device cuda] [--items 40] [--out DIR]

1. The engine's loader picks the device and dtype (auto: float16 on CUDA/MPS).
2. demo models generate on the accelerator and on CPU with greedy decoding: share of identical
   outputs, exact-match accuracy on both, median latency ratio.
3. Per-sample measurements on the accelerator: TTFT <= latency, peak accelerator memory > 0.
4. A real out-of-memory on the accelerator is classified as `oom` and memory is freed.
5. If duckdb is importable: a full CLI run on the accelerator stored in a DuckDB file.
Prints a JSON summary (also written to DIR/device_check.json).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run_items(backend, items, params):  # noqa: ANN001
    outs, lat, ttft, accel = [], [], [], []
    for item in items:
        m = backend.generate(item, params, deadline=time.perf_counter() + 60, cancel=None, seed=None)
        outs.append(m.text)
        lat.append(m.latency_ms)
        ttft.append(m.ttft_ms)
        accel.append(m.peak_accel_mb)
    return outs, lat, ttft, accel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--models", default="demo-tiny,demo-small,demo-base")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import torch

    from core import catalog, devices, prompts
    from core.backends.local import TransformersBackend
    from core.loader import ModelLoader
    from core.measure import classify_error
    from core.scoring import normalize
    from core.schemas import GenerationParams

    dev = devices.resolve_device(args.device)
    report: dict = {"device": dev, "accelerator": devices.accelerator_name(), "torch": torch.__version__, "models": {}}
    items = prompts.get_set("demo-qa").items[: args.items]
    params = GenerationParams(max_new_tokens=16)
    loader = ModelLoader(device=dev)
    for name in args.models.split(","):
        spec = catalog.get_spec(name)
        acc = TransformersBackend(loader.get(spec))
        cpu = TransformersBackend(loader.get(spec, device="cpu"))
        acc.warmup(items[0], params)
        cpu.warmup(items[0], params)
        a_out, a_lat, a_ttft, a_mem = run_items(acc, items, params)
        c_out, c_lat, _, _ = run_items(cpu, items, params)
        same = sum(a == c for a, c in zip(a_out, c_out, strict=True)) / len(items)
        em = lambda outs: sum(normalize(o) == normalize(i.reference) for o, i in zip(outs, items, strict=True)) / len(items)  # noqa: E731
        report["models"][name] = {
            "dtype": acc.dtype,
            "identical_outputs": round(same, 3),
            "exact_match_accel": round(em(a_out), 3),
            "exact_match_cpu": round(em(c_out), 3),
            "median_latency_ms_accel": round(statistics.median(a_lat), 2),
            "median_latency_ms_cpu": round(statistics.median(c_lat), 2),
            "latency_ratio_accel_over_cpu": round(statistics.median(a_lat) / statistics.median(c_lat), 3),
            "ttft_le_latency": all(t is not None and t <= lat for t, lat in zip(a_ttft, a_lat, strict=True)),
            "peak_accel_mb_max": max((m or 0) for m in a_mem),
        }
    # a real out-of-memory on the device
    if dev != "cpu":
        before = devices.accel_memory_mb(dev)
        try:
            torch.empty(int(4e13), dtype=torch.uint8, device=dev)  # 40 TB
            report["oom"] = "no error raised"
        except Exception as exc:  # noqa: BLE001
            devices.free_memory(dev)
            report["oom"] = {"kind": classify_error(exc), "type": type(exc).__name__,
                             "message": str(exc)[:160], "memory_back_to_mb": devices.accel_memory_mb(dev), "before_mb": before}
    try:
        import duckdb  # noqa: F401

        db = Path(args.out or "/tmp") / "device_check.duckdb"
        cmd = [sys.executable, "-m", "core", "run", "--models", args.models, "--prompt-set", "demo-qa",
               "--limit", str(args.items), "--device", dev, "--db", str(db), "--no-progress"]
        env = {**os.environ, "LLM_EVAL_MLFLOW": "off"}
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
        report["cli_run"] = {"rc": proc.returncode, "stdout_tail": proc.stdout[-1500:], "stderr_tail": proc.stderr[-800:]}
        if proc.returncode == 0:
            con = duckdb.connect(str(db), read_only=True)
            report["cli_rows"] = con.execute(
                "SELECT model, device, dtype, count(*), count(peak_accel_mb), median(latency_ms), avg(passed::INT) "
                "FROM samples GROUP BY ALL ORDER BY model").fetchall()
    except ImportError:
        report["cli_run"] = "skipped: duckdb not installed here"
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "device_check.json").write_text(text)


if __name__ == "__main__":
    main()
