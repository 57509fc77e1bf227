"""core.stats.windowed_quantiles: large cluster bootstraps locate their quantiles in a window
around the sample quantile; the numbers must be those of the full sort / weighted search."""
import numpy as np
import pytest

from core.stats import cluster_bootstrap as cb
from core.stats import cluster_bootstrap_ci
from core.stats import windowed_quantiles as wq

STATS = [None, 0.5, 0.9, 0.99, 0.0, 1.0]


def _clustered(n_prompts: int, repeats: int, drop: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(n_prompts), repeats)
    x = np.round(rng.lognormal(0, 1, codes.size) * np.repeat(rng.lognormal(0, 0.5, n_prompts), repeats), 1)  # ties
    keep = rng.random(x.size) >= drop  # failed repeats: unequal clusters
    codes = np.unique(codes[keep], return_inverse=True)[1]
    return x[keep], codes, int(codes.max()) + 1


def _both(monkeypatch: pytest.MonkeyPatch, x: np.ndarray, codes: np.ndarray, k: int, rng_of, B: int = 400):  # noqa: ANN001
    monkeypatch.setattr(cb, "WINDOW_MIN_N", 10**12)  # the full padded sort / weighted search
    full = cb._cluster_boot(x, codes, k, STATS, rng_of(), B)
    monkeypatch.setattr(cb, "WINDOW_MIN_N", 0)  # the window
    return full, cb._cluster_boot(x, codes, k, STATS, rng_of(), B)


@pytest.mark.parametrize(("n_prompts", "repeats", "drop"), [(1000, 3, 0.0), (1000, 3, 0.1), (3000, 1, 0.0), (400, 5, 0.3)])
@pytest.mark.parametrize("seeded", [True, False])
def test_window_gives_the_same_order_statistics(monkeypatch: pytest.MonkeyPatch, n_prompts: int, repeats: int,
                                                drop: float, seeded: bool) -> None:
    x, codes, k = _clustered(n_prompts, repeats, drop)
    full, win = _both(monkeypatch, x, codes, k, (lambda: 7) if seeded else (lambda: np.random.default_rng(7)))
    assert np.array_equal(full[1:], win[1:])  # quantiles: the very same values
    np.testing.assert_allclose(full[0], win[0], rtol=1e-12)  # means: summed in another order


def test_a_window_too_narrow_widens_to_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wq, "_SPREAD", 0.01)  # nearly every resample misses the first window
    x, codes, k = _clustered(500, 3, 0.05)
    full, win = _both(monkeypatch, x, codes, k, lambda: 3)
    assert np.array_equal(full[1:], win[1:])


def test_large_series_take_the_window_and_keep_the_interval() -> None:
    # 4,000 prompts x 6 repeats: 24,000 values take the window, and fewer than 5,000 prompts keep the
    # cluster bootstrap (from 5,000 prompts core.stats.large_sample takes over)
    rng = np.random.default_rng(4)
    codes = np.repeat(np.arange(4000), 6)
    x = rng.lognormal(0, 0.2, codes.size) * np.repeat(rng.lognormal(0, 0.4, 4000), 6)  # no ties
    assert x.size >= wq.WINDOW_MIN_N
    iv = cluster_bootstrap_ci(x, codes, "median", n_resamples=300, seed=2)
    assert iv.method == "cluster-bootstrap" and iv.low < np.median(x) < iv.high
    assert iv.n_resamples == 300 and "4000 prompts" in iv.note


def test_a_run_s_kpi_intervals_and_ratios_are_the_same_through_the_window(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a real DuckDB run: the KPI table's percentile intervals and Compare's ratio of medians."""
    from bench.analysis import synthetic_run
    from core import analysis
    from core.store import Store

    store = Store(tmp_path / "w.duckdb")
    synthetic_run(store, run_id="w", n_models=2, n_items=300, repeats=3, error_rate=0.05)

    def figures() -> tuple[list, list]:
        t = analysis.kpi_table(store, "w", n_resamples=200)
        ivs = [(iv.low, iv.high) for m in t.models for k in ("latency_ms_p50", "latency_ms_p99", "ttft_ms_p90")
               if (iv := t.interval(m, k)) is not None]
        comp = analysis.compare_run(store, "w", metrics=("latency",), use_champion=False, n_resamples=200)
        return ivs, [(c.ratio.low, c.ratio.high) for c in comp.comparisons]

    monkeypatch.setattr(cb, "WINDOW_MIN_N", 10**12)
    before = figures()
    monkeypatch.setattr(cb, "WINDOW_MIN_N", 0)
    assert figures() == before and len(before[0]) == 6 and before[1]


def test_kept_float64_draw_gives_the_same_means_as_widening_each_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The means come from the kept float64 copy of the draw (several blocks: a small _MAX_BLOCK),
    bit for bit as from widening each float32 block; a copy out of step is not used."""
    from core.stats import resampling as rs

    monkeypatch.setattr(rs, "_MAX_BLOCK", 50_000)  # 2,000 prompts: 25 resamples a block
    monkeypatch.setattr(rs, "_COUNTS_CACHE_MAX", 0)  # a draw as large as a million-sample run's, in miniature
    x, codes, k = _clustered(2000, 3, 0.05)
    sorted_x, rank = rs._sorted_ranks(x)
    cs = np.empty_like(codes)
    cs[rank] = codes
    sums, sizes = np.bincount(codes, weights=x, minlength=k), np.bincount(codes, minlength=k)
    blocks32 = list(rs._seeded_counts32(5, k, 300))
    blocks64 = list(rs._seeded_counts(5, k, 300))
    assert len(blocks32) == len(blocks64) > 1
    assert all(np.array_equal(a, b) for a, b in zip(blocks32, blocks64))
    widened = wq.windowed_cluster_stats(sorted_x, cs, sums, sizes, blocks32, STATS)
    kept = wq.windowed_cluster_stats(sorted_x, cs, sums, sizes, blocks32, STATS, blocks64)
    assert np.array_equal(widened, kept)
    skewed = wq.windowed_cluster_stats(sorted_x, cs, sums, sizes, blocks32, STATS, blocks64[1:])  # out of step
    assert np.array_equal(widened[1:], skewed[1:])
    monkeypatch.setattr(cb, "WINDOW_MIN_N", 0)
    assert np.array_equal(kept, cb._cluster_boot(x, codes, k, STATS, 5, 300))  # the path a summary takes
