"""core.stats.large_sample: the multiplier bootstrap that replaces resampling prompts from
LARGE_CLUSTERS prompts on. It must agree with the cluster bootstrap where both run, cover the
truth at about the nominal rate, keep paired comparisons paired, and say which method it is."""
from __future__ import annotations

import numpy as np
import pytest

from core.stats import bootstrap_means, cluster_bootstrap_ci, large_sample, summarize
from core.stats.effects import ratio_of_medians_cluster_ci

K = 6_000  # prompts: above LARGE_CLUSTERS


def _latencies(rng: np.random.Generator, k: int, repeats: int, centre: float = 0.0, prompt_sd: float = 0.5,
               effects: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lognormal latencies with a shared per-prompt effect (repeats correlated within a prompt)."""
    u = rng.normal(0, prompt_sd, k) if effects is None else effects
    x = np.exp(centre + np.repeat(u, repeats) + rng.normal(0, 0.5, k * repeats)) * 100
    return x, np.repeat(np.arange(k), repeats).astype(str)


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The count bootstrap on the same data: the threshold raised above K."""
    def force_count_bootstrap() -> None:
        monkeypatch.setattr(large_sample, "LARGE_CLUSTERS", 10**9)
    return force_count_bootstrap


@pytest.mark.parametrize("statistic", ["mean", "median", "p90"])
def test_the_multiplier_interval_agrees_with_the_cluster_bootstrap(statistic: str, small_threshold) -> None:  # noqa: ANN001
    x, c = _latencies(np.random.default_rng(1), K, 3)
    large = cluster_bootstrap_ci(x, c, statistic)
    small_threshold()
    exact = cluster_bootstrap_ci(x, c, statistic)
    assert large.method == "multiplier-bootstrap" and exact.method == "cluster-bootstrap"
    assert large.estimate == exact.estimate
    width = exact.high - exact.low
    assert width > 0
    assert abs(large.low - exact.low) < 0.1 * width
    assert abs(large.high - exact.high) < 0.1 * width


def test_a_large_summary_says_which_method_and_why() -> None:
    x, c = _latencies(np.random.default_rng(2), K, 2)
    s = summarize(x, c)
    for iv in (s.mean, s.p50, s.p99):
        assert iv.method == "multiplier-bootstrap"
        assert "Woodruff" in iv.note and f"{K:,} prompts" in iv.note
        assert iv.low < iv.estimate < iv.high


def test_below_the_threshold_nothing_changes() -> None:
    x, c = _latencies(np.random.default_rng(3), large_sample.LARGE_CLUSTERS - 1, 2)
    assert cluster_bootstrap_ci(x, c, "median").method == "cluster-bootstrap"


def test_median_and_mean_intervals_cover_the_truth_at_about_the_nominal_rate() -> None:
    """200 simulated runs of 5,000 prompts x 2 repeats with a prompt effect: the population
    median is exactly 100 and the mean 100 exp(0.25); each 95% interval should cover about 95%."""
    rng = np.random.default_rng(4)
    k, hits_median, hits_mean, runs = large_sample.LARGE_CLUSTERS, 0, 0, 200
    for _ in range(runs):
        x, c = _latencies(rng, k, 2)
        s = summarize(x, c)
        hits_median += s.p50.low <= 100 <= s.p50.high
        hits_mean += s.mean.low <= 100 * np.exp(0.25) <= s.mean.high
    assert 0.9 <= hits_median / runs <= 0.99
    assert 0.9 <= hits_mean / runs <= 0.99


def test_paired_ratio_of_medians_stays_paired() -> None:
    """Two models with the same prompt effects: pairing (the same weights for both) cancels the
    shared prompt variation, so the paired interval is clearly narrower than the unpaired one."""
    rng = np.random.default_rng(5)
    u = rng.normal(0, 1.0, K)
    a, ca = _latencies(rng, K, 3, centre=0.1, effects=u)
    b, cb = _latencies(rng, K, 3, effects=u)
    paired = ratio_of_medians_cluster_ci(a, ca, b, cb, paired=True)
    unpaired = ratio_of_medians_cluster_ci(a, ca, b, cb, paired=False)
    assert paired.method == unpaired.method == "multiplier-bootstrap"
    assert "same weights" in paired.note and "Gaussian" in paired.note
    assert paired.low < np.exp(0.1) < paired.high
    assert (paired.high - paired.low) < 0.6 * (unpaired.high - unpaired.low)


def test_joint_means_use_the_weights_and_a_sparse_column_keeps_the_count_bootstrap(small_threshold) -> None:  # noqa: ANN001
    x, c = _latencies(np.random.default_rng(6), K, 2)
    bm = bootstrap_means({"lat": x, "double": 2 * x}, c)
    assert bm.large and bm.method == "multiplier-bootstrap"
    est, draws = bm.ratio("double", "lat")  # a ratio of two totals resampled jointly: exactly 2 every time
    assert est == 2 and np.allclose(draws, 2)
    iv = bm.interval(*bm.mean("lat"))
    small_threshold()
    exact = bootstrap_means({"lat": x}, c)
    ref = exact.interval(*exact.mean("lat"))
    assert abs(iv.low - ref.low) < 0.1 * (ref.high - ref.low) and abs(iv.high - ref.high) < 0.1 * (ref.high - ref.low)
    # a column with values on a handful of prompts only: the count bootstrap for everything
    sparse = np.full(x.size, np.nan)
    sparse[:10] = 1.0
    assert not bootstrap_means({"lat": x, "rare": sparse}, c).large


def test_the_results_page_shows_large_sample_intervals_without_a_switch(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Issue 15: above 60,000 samples intervals were opt-in. Now the Results page shows them at every
    size, and names the large-sample method where it applies (here 5,000 prompts x 2 repeats)."""
    from streamlit.testing.v1 import AppTest

    from bench.analysis import synthetic_run
    from core.store import Store
    from ui import state

    db = tmp_path / "large.duckdb"
    synthetic_run(Store(db), run_id="large", n_models=2, n_items=large_sample.LARGE_CLUSTERS, repeats=2, error_rate=0.0)
    monkeypatch.setattr(state, "HEAVY_SAMPLES", 1)  # the run counts as large for the dashboard
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file("../app.py", default_timeout=300).run()
    at.switch_page("pages/3_results.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key="results.ci").value is True
    captions = "\n".join(c.value for c in at.caption)
    assert "multiplier bootstrap over prompts (large sample" in captions
    assert "intervals are off by default" not in captions
    kpis = at.dataframe[0].value.set_index("model")
    for model in ("model-00", "model-01"):  # the median latency with its interval, around it
        assert kpis.loc[model, "latency_ms_p50_low"] < kpis.loc[model, "latency_ms_p50"] < kpis.loc[model, "latency_ms_p50_high"]


def test_single_runs_on_many_prompts_take_the_large_sample_path_too(small_threshold) -> None:  # noqa: ANN001
    """One run per prompt: no repeats, but 6,000 prompts: the BCa bootstrap would draw 1,000 x 6,000
    indices per statistic; the multiplier bootstrap gives the same interval to a few percent."""
    x = np.exp(np.random.default_rng(7).normal(0, 0.7, K)) * 100
    s = summarize(x, np.arange(K).astype(str))
    assert not s.clustered and s.p50.method == s.mean.method == "multiplier-bootstrap"
    small_threshold()
    ref = summarize(x, np.arange(K).astype(str)).p50  # the BCa bootstrap below the threshold
    assert ref.method == "bca-bootstrap"
    width = ref.high - ref.low
    assert abs(s.p50.low - ref.low) < 0.1 * width and abs(s.p50.high - ref.high) < 0.1 * width
    se = np.std(x, ddof=1) / np.sqrt(K)  # the mean's interval is the t interval's, to a few percent
    assert abs((s.mean.high - s.mean.low) - 2 * 1.96 * se) < 0.08 * 2 * 1.96 * se


def _identical_by_bytes(columns: np.ndarray) -> tuple[list[int], list[int]]:
    """The grouping group_draws has always used: columns with the same bytes, first one kept."""
    seen: dict[bytes, int] = {}
    kept: list[int] = []
    where = []
    for j in range(columns.shape[1]):
        key = columns[:, j].tobytes()
        if key not in seen:
            seen[key] = len(kept)
            kept.append(j)
        where.append(seen[key])
    return kept, where


def test_group_draws_merge_exactly_the_columns_with_the_same_bytes() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=K), rng.normal(size=K)
    c = a.copy()
    c[[0, 1]] = c[[1, 0]]  # the same total as a (the same numbers), not the same column
    zero, minus_zero, nan = np.zeros(K), np.full(K, -0.0), np.full(K, np.nan)
    columns = np.column_stack([a, b, a, c, zero, minus_zero, nan, nan, b, zero])
    kept, where = large_sample._identical_columns(columns, columns.sum(axis=0), {})
    assert (kept, list(where)) == _identical_by_bytes(columns)
    # a caller that knows a column repeats another gets the same draws without the comparison
    plain = large_sample.group_draws(columns, 7, 200)
    hinted = large_sample.group_draws(columns, 7, 200, copies={2: 0, 8: 1, 9: 4})
    assert np.array_equal(plain, hinted, equal_nan=True)


def test_group_draws_read_column_major_totals_alike() -> None:
    """bootstrap_means fills its totals column by column (Fortran order): the draws are those of
    the row-major copy up to rounding (the sums add in another order)."""
    rng = np.random.default_rng(4)
    columns = np.column_stack([rng.normal(size=K), rng.integers(1, 4, K).astype(float), rng.lognormal(size=K)])
    rows = large_sample.group_draws(np.ascontiguousarray(columns), 1, 300)
    cols = large_sample.group_draws(np.asfortranarray(columns), 1, 300)
    assert np.allclose(rows, cols, rtol=1e-12, atol=0)


@pytest.mark.parametrize("k", [K, K + 1])  # column starts at every alignment in a column-major array
def test_identical_columns_are_found_in_column_major_totals(k: int) -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=k), rng.lognormal(size=k)
    columns = np.asfortranarray(np.column_stack([a, b, a, a, b, b, a]))
    kept, where = large_sample._identical_columns(columns, columns.sum(axis=0), {})
    assert (kept, list(where)) == ([0, 1], [0, 1, 0, 0, 1, 1, 0])
