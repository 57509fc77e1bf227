"""Dashboard speed and memory on a large store: 1,000,000 synthetic samples (10 models).

1. AppTest render time of Results, Compare and Costs (target: under 3 s each), first with
   empty caches (cold) and then again (warm: cached in memory). Every statistic is on by
   default (Results' intervals, Compare's every test, verdict, Pareto and drift), so the
   "with intervals" / "with every test" rows are the default renders again. Twice:
   - computed on view: nothing kept on disk (LLM_EVAL_STATS_CACHE=off), the page computes
     every statistic: the figure for a new view (changed costs, another baseline);
   - "kept:": after the worker has kept the run's statistics by data version, as it does when
     a large run finishes (core.analysis_cache; the time it takes is printed too): what a user
     opening a finished run sees, in any dashboard process.
   Then the Costs page after one assumption changes (no target).
2. The paged sample explorer (core.queries.sample_pages, target: under 1 s per page): first
   page, sort by latency, a filter (model, failed, quality range), a text search and page 500,
   each cold (first time in the process) and warm (again).
3. The dashboard's memory: resident set size of the process running the app (AppTest) after
   every page has been opened in turn, the largest reading (target: under 2 GB).
4. Time from `streamlit run app.py` to the first page served (target: under 5 s).

    .venv/bin/python bench/dashboard.py [--models 10] [--items 33334] [--repeats 3] [--db PATH]
                                        [--baseline CHECKOUT]

--db keeps the synthetic store at PATH (built when missing) so repeated runs skip the build.
--baseline measures another checkout of this code the same way (its app, pages and core, in a
subprocess, one after the other) and prints its figures beside these: e.g. the code before a
change, from `git worktree add /tmp/base HEAD`. Rows it lacks print as "-".

Prints each figure with its target and ratio, side by side.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_CODE") or Path(__file__).resolve().parent.parent).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from core.store import Store  # noqa: E402

RENDER_TARGET_S = 3.0
PAGE_TARGET_S = 1.0
RSS_TARGET_GB = 2.0
STARTUP_TARGET_S = 5.0
PAGES = ("pages/3_results.py", "pages/4_compare.py", "pages/5_costs.py")
RUN = "bench"


def _timed(at, action) -> float:  # noqa: ANN001 - an AppTest and a callable that runs it
    t0 = time.perf_counter()
    action()
    dt = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].value}")
    return dt


def _toggle(at, key: str):  # noqa: ANN001, ANN202 - AppTest, its toggle (None when the page has none)
    found = [t for t in at.toggle if t.key == key]
    return found[0] if found else None


def render_times(db: Path) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds per page and per opt-in statistic; fails loudly if a page raises.

    Cold: every st.cache_data cache cleared first, so each page computes its own queries and
    statistics (nothing carried over from the page before). The statistics stack is imported
    before timing, as the server does in the background once it has served its first page.
    """
    os.environ["LLM_EVAL_DB"] = str(db)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    import core.analysis  # noqa: F401  (ui.state.warm_up does this in a served dashboard)
    import genai_prices  # noqa: F401  (so does the price data)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900).run()
    out = {}
    for page in PAGES:
        st.cache_data.clear()
        cold = _timed(at, lambda p=page: at.switch_page(p).run())
        out[Path(page).stem.split("_", 1)[1]] = (cold, _timed(at, at.run))
    # Compare right after Results, as a user goes from one to the other: the KPI table's cache entry is shared
    st.cache_data.clear()
    at.switch_page("pages/3_results.py").run()
    out["compare right after results"] = (_timed(at, lambda: at.switch_page("pages/4_compare.py").run()), math.nan)
    # Costs after one assumption changes (electricity price): a new report, the same run
    at.switch_page("pages/5_costs.py").run()
    kwh = [n for n in at.number_input if n.key == "costs.kwh"]
    if kwh:
        out["costs, an assumption changed"] = (_timed(at, lambda: kwh[0].set_value(round(kwh[0].value + 0.05, 2)).run()),
                                               math.nan)
    for page, key, name in (("pages/3_results.py", "results.ci", "results with intervals"),
                            ("pages/4_compare.py", "compare.go", "compare with every test")):
        at.switch_page(page).run()
        toggle = _toggle(at, key)
        if toggle is None or toggle.value:  # no switch: the page's default render already has them
            st.cache_data.clear()
            out[name] = (_timed(at, at.run), _timed(at, at.run))
            continue
        st.cache_data.clear()
        out[name] = (_timed(at, lambda t=toggle: t.set_value(True).run()), _timed(at, at.run))
        _toggle(at, key).set_value(False).run()  # type: ignore[union-attr]
    return out


def dashboard_rss(db: Path) -> tuple[float, list[str]]:
    """Largest RSS (GB) of this process, which runs the app, while every page is opened in turn."""
    import psutil
    from streamlit.testing.v1 import AppTest

    os.environ["LLM_EVAL_DB"] = str(db)
    pages = re.findall(r'st\.Page\("(pages/[^"]+)"', (ROOT / "app.py").read_text())
    proc = psutil.Process()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900).run()
    peak, failed = proc.memory_info().rss, []
    for page in pages:
        at.switch_page(page).run()
        if at.exception:
            failed.append(page)
        peak = max(peak, proc.memory_info().rss)
    return peak / 2**30, failed


EXPLORER_OPS = (  # name, filter, sort options
    ("first page", {}, {}),
    ("sort by latency", {}, {"sort": "latency_ms", "descending": True}),
    ("filter (model, failed, quality 2-4)", {"models": ("model-03",), "passed": False, "quality_min": 2.0,
                                             "quality_max": 4.0}, {}),
    ("search 'answer' (every output)", {"text": "answer"}, {}),
    ("page 500", {}, {"page_no": 500}),
)


def explorer_times(db: Path) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds per explorer operation at 50 rows per page; {} where the code has none."""
    try:
        from core.queries import sample_pages as sp
    except ImportError:
        return {}
    store = Store(db)
    out = {}
    for name, f, kw in EXPLORER_OPS:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            sp.page(store, RUN, sp.SampleFilter(**f), page_size=50, **kw)
            times.append(time.perf_counter() - t0)
        out[f"explorer: {name}"] = (times[0], times[1])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        n = sp.export(store, RUN, sp.SampleFilter(), Path(tmp) / "all.parquet", "parquet")
        out[f"explorer: export {n:,} rows (Parquet)"] = (time.perf_counter() - t0, math.nan)
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


def kept_render_times(db: Path) -> dict[str, tuple[float, float]]:
    """The pages again, cold (every st.cache_data cache cleared), after the worker has kept the run's
    statistics as it does when a large run finishes (core.analysis_cache.warm; timed too): what a user
    opening the finished run sees. {} for code without that cache (a --baseline before it)."""
    try:
        from core import analysis_cache
    except ImportError:
        return {}
    os.environ.pop("LLM_EVAL_STATS_CACHE", None)
    for old in analysis_cache.cache_dir(db).glob("*.pkl"):
        old.unlink()
    t0 = time.perf_counter()
    analysis_cache.warm(Store(db), RUN)
    out = {"worker keeps the run's statistics (after the run)": (time.perf_counter() - t0, math.nan)}
    out.update({f"kept: {k}": v for k, v in render_times(db).items() if k in KEPT_ROWS})
    return out


def interaction_times(db: Path) -> dict[str, tuple[float, float]]:
    """What a user does next on Compare, after its default view: another baseline (27 tests instead of
    135; the KPI table is already in memory), then the Holm correction switched to Benjamini-Hochberg.
    Nothing kept on disk (LLM_EVAL_STATS_CACHE=off): these views are computed when asked for."""
    os.environ["LLM_EVAL_DB"] = str(db)
    os.environ["LLM_EVAL_STATS_CACHE"] = "off"
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900).run()
    at.switch_page("pages/4_compare.py").run()
    picks = {s.key: s for s in at.selectbox}
    if "compare.baseline" not in picks:
        return {}
    first = next(o for o in picks["compare.baseline"].options if o != "(every pair)")
    out = {"compare: another baseline": (_timed(at, lambda: picks["compare.baseline"].set_value(first).run()), math.nan)}
    correction = {s.key: s for s in at.selectbox}["compare.correction"]
    out["compare: another correction"] = (_timed(at, lambda: correction.set_value("bh").run()), math.nan)
    return out


KEPT_ROWS = ("results", "compare", "results with intervals", "compare with every test")


def measure(db: Path) -> dict[str, list[float]]:
    """Every figure: name -> [cold, warm] seconds (warm NaN where there is none); RSS in GB."""
    out: dict[str, list[float]] = {"streamlit run -> first page": [startup_time(db), math.nan]}
    os.environ["LLM_EVAL_STATS_CACHE"] = "off"  # first: every statistic computed on view (nothing kept on disk)
    out.update({k: list(v) for k, v in render_times(db).items()})
    out.update({k: list(v) for k, v in interaction_times(db).items()})
    out.update({k: list(v) for k, v in kept_render_times(db).items()})
    out.update({k: list(v) for k, v in explorer_times(db).items()})
    rss, failed = dashboard_rss(db)
    out["dashboard RSS, every page opened (GB)"] = [rss, math.nan]
    if failed:
        print(f"pages that raised while measuring memory: {', '.join(failed)}", file=sys.stderr)
    return out


def target(name: str) -> float:
    if name.startswith("streamlit"):
        return STARTUP_TARGET_S
    if name.startswith("explorer: export") or name.startswith("costs, an") or name.startswith("worker"):
        return math.nan
    if name.startswith("explorer"):
        return PAGE_TARGET_S
    return RSS_TARGET_GB if "RSS" in name else RENDER_TARGET_S


def baseline(db: Path, checkout: Path) -> dict[str, list[float]]:
    """The same measurements of another checkout, in a subprocess (its own imports)."""
    env = {**os.environ, "BENCH_CODE": str(checkout)}
    res = subprocess.run([sys.executable, __file__, "--db", str(db), "--json"], env=env, cwd=checkout,
                         capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(f"the baseline failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def report(now: dict[str, list[float]], before: dict[str, list[float]] | None) -> None:
    def cell(v: float | None) -> str:
        return "-" if v is None or not math.isfinite(v) else f"{v:.2f}"

    head = f"{'step':<44}{'cold':>8}{'warm':>8}{'target':>8}{'ratio':>8}"
    print(head + (f"{'before':>9}{'b.warm':>8}" if before is not None else ""))
    for name in list(now) + [n for n in (before or {}) if n not in now]:
        cold, warm = now.get(name, [math.nan, math.nan])
        t = target(name)
        line = f"{name:<44}{cell(cold):>8}{cell(warm):>8}{cell(t):>8}{cell(cold / t if t == t else math.nan):>8}"
        if before is not None:
            b = before.get(name, [math.nan, math.nan])
            line += f"{cell(b[0]):>9}{cell(b[1]):>8}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--items", type=int, default=33_334)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--db", type=Path, help="keep the synthetic store here (built when missing)")
    ap.add_argument("--baseline", type=Path, help="another checkout to measure the same way, side by side")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the baseline subprocess's output
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.db)))
        return
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "dashboard.duckdb"
        t0 = time.perf_counter()
        store = Store(db)
        if not store.count_samples(RUN):
            from analysis import synthetic_run  # bench/analysis.py: the shared synthetic run

            synthetic_run(store, n_models=args.models, n_items=args.items, repeats=args.repeats)
        n = store.count_samples(RUN)
        print(f"store: {n:,} samples ({args.models} models x {args.items:,} prompts x {args.repeats} repeats), "
              f"ready in {time.perf_counter() - t0:.1f} s")
        del store
        before = baseline(db, args.baseline) if args.baseline else None
        now = measure(db)
    print("seconds (RSS: GB); cold: empty caches (in memory and, but for 'kept:' rows, on disk); warm: the same again"
          + ("; before: --baseline" if before else ""))
    report(now, before)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
