"""A large run's statistics, kept on disk and keyed by the run's data version.

At a million samples the KPI table with its intervals and the comparison with every test take
seconds to compute, and they are pure functions of the run's stored data, the arguments and this
code. A finished run's data does not change, so they are computed once per data version and kept
on disk (one pickle per result): the evaluation worker computes the
dashboard's default views when it finishes a large run (`warm`), and the dashboard reads them, or
computes and keeps them on its first view, so that a page opened later, by any dashboard process,
does not recompute them. They live in this user's private cache folder (`cache_root`: not beside the
database, which may be shared), one folder per database.

The key of a result is a digest of: the kind (kpis, comparison), the run, its data version
(core.queries.run_data_version: status, last write, sample count, latest rating and judgement), the
arguments, this package's source code and the versions of the libraries the numbers come from.
Anything else reads as a miss: a new sample, a rating, an edited module, an upgraded scipy. A file
that cannot be read (truncated, foreign, from another Python) is a miss too and is recomputed; the
store is never touched. Only runs of at least `MIN_SAMPLES` samples are kept (smaller ones compute in
well under a second), at most `MAX_ENTRIES` files, the least recently used removed first.

The files are pickles, so a folder that anyone but this user can write is neither read nor written
(the statistics are then computed on every view). Set LLM_EVAL_STATS_CACHE=off to switch it off.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.queries import run_data_version, setting
from core.scale import POLICY
from core.store import Store

if TYPE_CHECKING:
    from core import analysis
    from core.analysis import costs as C

T = TypeVar("T")

FORMAT = 1  # bump when what is stored changes shape
MIN_SAMPLES = POLICY.dashboard_samples  # runs above this many samples (core.scale) keep their statistics
MAX_ENTRIES = 64
_LIBRARIES = ("numpy", "scipy", "pandas", "duckdb", "genai-prices")

# the Compare page's defaults, which `warm` computes ahead (pages/4_compare.py reads them from here)
COMPARE_METRICS = ("latency", "quality", "passed")
COMPARE_CORRECTION = "holm"
COMPARE_ALPHA = 0.05
COMPARE_MARGINS = {"quality": 0.5, "passed": 0.05, "latency": 0.0}  # 0: no margin


def enabled() -> bool:
    return os.environ.get("LLM_EVAL_STATS_CACHE", "on").strip().lower() not in ("off", "0", "false", "no")


def cache_root() -> Path:
    """This user's private cache: $LLM_EVAL_STATS_CACHE_DIR, else $XDG_CACHE_HOME/llm-eval/stats, else
    ~/.cache/llm-eval/stats (not beside the database: a shared database folder must not let others plant
    the pickles this module loads)."""
    env = os.environ.get("LLM_EVAL_STATS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm-eval" / "stats"


def cache_dir(db_path: str | Path) -> Path:
    """The folder of one database's results: named by a digest of its resolved path."""
    digest = hashlib.sha256(str(Path(db_path).expanduser().resolve()).encode()).hexdigest()[:16]
    return cache_root() / f"{Path(db_path).name}-{digest}"


def _private(directory: Path) -> bool:
    """Whether only this user can write the folder: owned by them, not group- or world-writable. A folder
    others can write is never read (nor written)."""
    try:
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of every module of this package and the versions of the numeric libraries: stored
    statistics from other code are never read back."""
    h = hashlib.sha256(f"format {FORMAT}".encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib} {metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib} -".encode())
    return h.hexdigest()


def key(kind: str, run_id: str, version: tuple, args: Mapping[str, Any]) -> str:
    """The file name of one result: a digest of everything it depends on (repr of plain values and
    frozen dataclasses, which is deterministic)."""
    text = repr((kind, run_id, version, sorted(args.items()), code_version()))
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:40]}.pkl"


def load(directory: Path, name: str) -> Any | None:  # noqa: ANN401 - whatever was stored
    path = directory / name
    if not _private(directory):
        return None
    try:
        with path.open("rb") as f:
            value = pickle.load(f)  # noqa: S301 - written by this module in a folder only this user can write
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: recompute
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return value


def save(directory: Path, name: str, value: Any) -> bool:  # noqa: ANN401
    """Write atomically (a reader sees the old file, the new one or none); False when the directory is
    not writable (a read-only store still works, only slower)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(directory):
            return False
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pkl")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / name)
    except OSError:
        return False
    _prune(directory)
    return True


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("*.pkl"), key=lambda p: _mtime(p), reverse=True)
    for old in files[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


LIVE = ("queued", "running")  # a run in these states changes with every write: nothing of it is kept


def _keeps(version: tuple) -> bool:
    """Whether a run of this data version keeps its statistics: switched on, not live (version[0], its
    status), and above MIN_SAMPLES samples (version[2]; core.queries.run_data_version; ("missing",) for an
    unknown run keeps nothing)."""
    return enabled() and len(version) >= 3 and version[0] not in LIVE and int(version[2]) > MIN_SAMPLES


def cached(store: Store, kind: str, run_id: str, args: Mapping[str, Any], compute: Callable[[], T],
           version: tuple | None = None) -> T:
    """compute(), or the stored result of the same computation on the same data and code."""
    version = version if version is not None else run_data_version(store, run_id)
    if not _keeps(version):
        return compute()
    directory, name = cache_dir(store.path), key(kind, run_id, version, args)
    hit = load(directory, name)
    if hit is not None:
        return hit
    value = compute()
    save(directory, name, value)
    return value


def kpis(store: Store, run_id: str, *, models: tuple[str, ...] = (), by_category: bool = False, intervals: bool = True,
         settings: C.CostSettings | None = None, version: tuple | None = None) -> analysis.KpiTable:
    """core.analysis.kpi_table with these arguments (the dashboard's), kept for large runs."""
    from core import analysis
    from core.analysis import costs as C

    settings = settings or C.CostSettings()
    args = {"models": tuple(models), "by_category": by_category, "intervals": intervals, "settings": settings}
    return cached(store, "kpis", run_id, args, lambda: analysis.kpi_table(
        store, run_id, by_category=by_category, models=list(models) or None, intervals=intervals, settings=settings),
        version)


def comparison(store: Store, run_id: str, *, metrics: tuple[str, ...], baseline: str | None, correction: str,
               margins: tuple[tuple[str, float], ...], alpha: float, settings: C.CostSettings | None = None,
               version: tuple | None = None) -> analysis.RunComparison:
    """core.analysis.compare_run as the Compare page calls it (baseline None: every pair), kept for large runs."""
    from core import analysis
    from core.analysis import costs as C

    settings = settings or C.CostSettings()
    args = {"metrics": tuple(metrics), "baseline": baseline, "correction": correction, "margins": tuple(margins),
            "alpha": alpha, "settings": settings}
    return cached(store, "comparison", run_id, args, lambda: analysis.compare_run(
        store, run_id, metrics=metrics, baseline=baseline, use_champion=False, correction=correction,  # type: ignore[arg-type]
        margins=dict(margins), alpha=alpha, settings=settings), version)


def parity(store: Store, run_id: str, model_a: str, model_b: str, version: tuple | None = None) -> Any:  # noqa: ANN401
    """core.parity.parity_report of two paths as the Compare page's panel asks for it (only the pairs
    that differ or failed kept), kept for large runs."""
    from core import parity as P

    return cached(store, "parity", run_id, {"a": model_a, "b": model_b},
                  lambda: P.parity_report(store, run_id, model_a, model_b, keep="mismatches"), version)


def default_margins() -> tuple[tuple[str, float], ...]:
    """The Compare page's default equivalence margins, as it passes them (zero margins left out, sorted)."""
    return tuple(sorted((k, v) for k, v in COMPARE_MARGINS.items() if v > 0))


def warm(store: Store, run_id: str) -> list[str]:
    """Compute and keep the dashboard's default views of a large run (Results' KPI table with intervals,
    Compare against the champion or every pair, the parity panel's first pair); the kinds kept, [] for a small run. Called by the
    worker after a run, so the first visit reads them."""
    version = run_data_version(store, run_id)
    if not _keeps(version):
        return []
    from core.queries import run_models_order

    table = kpis(store, run_id, version=version)  # overall rows only: above MIN_SAMPLES (core.scale's dashboard
    # threshold) Results computes the per-category rows on request
    done = ["kpis"]
    models = [m for m in run_models_order(store, run_id) if m in table.models] or list(table.models)
    if len(models) >= 2:
        champion = setting(store, "champion")
        comparison(store, run_id, metrics=COMPARE_METRICS, baseline=champion if champion in models else None,
                   correction=COMPARE_CORRECTION, margins=default_margins(), alpha=COMPARE_ALPHA, version=version)
        done.append("comparison")
        from core import parity as P

        pairs = P.path_pairs(store.get_run(run_id).manifest, models)  # the panel's first pair is its default
        if pairs:
            parity(store, run_id, *pairs[0], version=version)
            done.append("parity")
    return done


def after_run(run_id: str, store: Store) -> None:
    """The runner's hook (worker and CLI runs): keep a large run's default statistics. A failure here
    loses nothing (the dashboard computes them on its first view) and does not fail the run."""
    try:
        kept = warm(store, run_id)
    except Exception as exc:  # noqa: BLE001 - a statistic that cannot be computed now is computed on view
        print(f"statistics of run {run_id} not kept ahead: {type(exc).__name__}: {exc}", flush=True)
        return
    if kept:
        print(f"statistics of run {run_id} kept for the dashboard: {', '.join(kept)}", flush=True)
