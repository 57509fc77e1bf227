"""Report generation for a run of 10 models x 1,000 prompts (10,000 samples) from a DuckDB file.

Targets: the HTML report under 5 s and the PDF under 20 s, each end to end (build the report
model from the store, i.e. statistics, comparisons, costs and charts, then render it), in
a fresh process for each format so neither profits from the other's caches.

    .venv/bin/python bench/reports.py [--models 10] [--items 1000] [--repeats 1] [--runs 2]

Prints, per format, the best of --runs: seconds to build the report model (statistics,
comparisons, costs, chart data) and to render it, their sum (generation) with its CPU
seconds and ratio to the target, the same with the imports, the CPU seconds of the imports
alone, and the output size (with the page count of the PDF).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis import synthetic_run  # noqa: E402  (bench/analysis.py: the shared synthetic run)

from core.store import Store  # noqa: E402

TARGETS_S = {"html": 5.0, "pdf": 20.0}
RUN_ID = "bench"

# Runs in a child process: one format. "generation" is build + render (what the dashboard pays,
# its imports being warm); "with imports" adds importing core.reports (plotly, scipy, pandas;
# matplotlib and fpdf2 load during the PDF render), what `python -m core report` pays on top
# of the interpreter's start-up.
_CHILD = """
import json, re, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from core import reports
from core.store import Store
t1, c1 = time.perf_counter(), time.process_time()
store = Store(sys.argv[1])
report = reports.build_report(store, sys.argv[2])
t2 = time.perf_counter()
data = reports.html(report).encode() if sys.argv[3] == "html" else reports.pdf(report)
t3, c3 = time.perf_counter(), time.process_time()
open(sys.argv[4], "wb").write(data)
pages = len(re.findall(rb"/Type\\s*/Page\\b", data)) if sys.argv[3] == "pdf" else None  # page objects, not /Pages
print(json.dumps({"import_cpu": c1 - c0, "build": t2 - t1, "render": t3 - t2, "wall": t3 - t1, "cpu": c3 - c1,
                  "total": t3 - t0, "bytes": len(data), "pages": pages}))
"""


def time_format(db: Path, fmt: str, out: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(db), RUN_ID, fmt, str(out)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{fmt} report failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--runs", type=int, default=2, help="repetitions per format; the best is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "reports.duckdb"
        store = Store(db)
        synthetic_run(store, run_id=RUN_ID, n_models=args.models, n_items=args.items, repeats=args.repeats)
        n = store.count_samples(RUN_ID)
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.runs):
            for fmt in TARGETS_S:
                t = time_format(db, fmt, Path(tmp) / f"report.{fmt}")
                if fmt not in best or t["wall"] < best[fmt]["wall"]:
                    best[fmt] = t
    print(f"reports of {n:,} samples ({args.models} models x {args.items:,} prompts x {args.repeats} repeat(s)), "
          f"best of {args.runs}, each in a fresh process:")
    print(f"{'format':<7}{'build s':>9}{'render s':>9}{'generation s':>14}{'CPU s':>7}{'target':>8}{'ratio':>7}"
          f"{'with imports s':>16}{'ratio':>7}{'import CPU s':>14}{'size':>9}")
    for fmt, t in best.items():
        target = TARGETS_S[fmt]
        pages = f" ({t['pages']} pages)" if t.get("pages") else ""
        print(f"{fmt:<7}{t['build']:>9.2f}{t['render']:>9.2f}{t['wall']:>14.2f}{t['cpu']:>7.2f}{target:>8.0f}"
              f"{t['wall'] / target:>7.2f}{t['total']:>16.2f}{t['total'] / target:>7.2f}{t['import_cpu']:>14.2f}"
              f"{t['bytes'] / 1e6:>7.2f}MB{pages}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
