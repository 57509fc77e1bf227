"""Dashboard speed on a large store: 1,000,000 synthetic samples (10 models).

1. AppTest render time of Results, Compare and Costs (target: under 3 s each), first with
   empty caches (cold: the page computes its statistics) and then again (warm: cached).
   Pages use their defaults: on runs this size bootstrap intervals on Results and the
   pairwise tests on Compare are opt-in (Compare still draws the Pareto frontier and the
   drift chart from the SQL aggregate), and cost intervals use 200 resamples. Also printed
   (no target): the Costs page after one assumption changes (the resampled means are cached
   per run, so only the arithmetic reruns) and the opt-in pairwise tests.
2. Time from `streamlit run app.py` to the first page served (target: under 5 s): the
   server answers `/` and its health check.

    .venv/bin/python bench/dashboard.py [--models 10] [--items 33334] [--repeats 3] [--db PATH]

--db keeps the synthetic store at PATH (built when missing) so repeated runs skip the build.

Prints each time and its ratio to the target, side by side.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis import synthetic_run  # noqa: E402  (bench/analysis.py: the shared synthetic run)

from core.store import Store  # noqa: E402

RENDER_TARGET_S = 3.0
STARTUP_TARGET_S = 5.0
PAGES = ("pages/3_results.py", "pages/4_compare.py", "pages/5_costs.py")


def render_times(db: Path) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds per page; fails loudly if a page raises.

    Cold: every st.cache_data cache cleared first, so each page computes its own queries and
    statistics (nothing carried over from the page before). The statistics stack is imported
    before timing, as the server does in the background once it has served its first page.
    """
    os.environ["LLM_EVAL_DB"] = str(db)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import core.analysis  # noqa: F401  (ui.state.warm_up does this in a served dashboard)
    import genai_prices  # noqa: F401  (so does the price data)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    out = {}
    for page in PAGES:
        st.cache_data.clear()
        t0 = time.perf_counter()
        at.switch_page(page).run()
        cold = time.perf_counter() - t0
        if at.exception:
            raise SystemExit(f"{page} raised: {at.exception[0].value}")
        t0 = time.perf_counter()
        at.run()
        out[page] = (cold, time.perf_counter() - t0)
    # Costs after one assumption changes (electricity price): a new report, the same run
    at.switch_page("pages/5_costs.py").run()
    kwh = [n for n in at.number_input if n.key == "costs.kwh"]
    if kwh:
        t0 = time.perf_counter()
        kwh[0].set_value(round(kwh[0].value + 0.05, 2)).run()
        out["costs (assumption changed)"] = (time.perf_counter() - t0, float("nan"))
        if at.exception:
            raise SystemExit(f"costs raised after an assumption change: {at.exception[0].value}")
    # opt-in on a store this size: the pairwise tests themselves (reported, no target)
    at.switch_page("pages/4_compare.py").run()
    toggle = [t for t in at.toggle if t.key == "compare.go"]
    if toggle:
        t0 = time.perf_counter()
        toggle[0].set_value(True).run()
        out["compare (tests switched on)"] = (time.perf_counter() - t0, float("nan"))
    return out


def startup_time(db: Path) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LLM_EVAL_DB": str(db)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
                if page.status == 200 and health == b"ok":
                    return time.perf_counter() - t0
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise SystemExit("streamlit did not start")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--items", type=int, default=33_334)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db", type=Path, help="keep the synthetic store here (built when missing)")
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "dashboard.duckdb"
        t0 = time.perf_counter()
        store = Store(db)
        if not store.count_samples("bench"):
            synthetic_run(store, n_models=args.models, n_items=args.items, repeats=args.repeats)
        n = store.count_samples("bench")
        print(f"store: {n:,} samples ({args.models} models x {args.items:,} prompts x {args.repeats} repeats), "
              f"ready in {time.perf_counter() - t0:.1f} s")
        del store
        start = startup_time(db)
        renders = render_times(db)
    print(f"{'step':<28}{'seconds':>9}{'target':>8}{'ratio':>8}")
    print(f"{'streamlit run -> first page':<28}{start:>9.2f}{STARTUP_TARGET_S:>8.0f}{start / STARTUP_TARGET_S:>8.2f}")
    for page, (cold, warm) in renders.items():
        if not page.startswith("pages/"):
            print(f"{page:<28}{cold:>9.2f}{'-':>8}{'-':>8}")
            continue
        name = Path(page).stem.split("_", 1)[1]
        print(f"{name + ' (cold)':<28}{cold:>9.2f}{RENDER_TARGET_S:>8.0f}{cold / RENDER_TARGET_S:>8.2f}")
        print(f"{name + ' (warm)':<28}{warm:>9.2f}{RENDER_TARGET_S:>8.0f}{warm / RENDER_TARGET_S:>8.2f}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
