"""core.stats: reference values (scipy / statsmodels / textbook), properties, calibration."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from core import compare as CMP
from core import stats as S
from core.stats import cluster_bootstrap as CB
from core.stats import resampling as R

RNG = np.random.default_rng(20240601)
floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(floats, min_size=2, max_size=40)


# --------------------------------------------------------------------------- Interval


def test_interval_format_matches_house_style():
    iv = S.Interval(412.3, 398.1, 430.4, "bca-bootstrap", 0.95, 100, 2000, 0)
    assert iv.format("ms") == "412 ms (95% CI 398-430, BCa bootstrap, 2000 resamples, seed 0)"
    assert S.Interval(-0.25, -0.5, 0.1, "t", 0.9, 10).format() == "-0.25 (90% CI -0.5 to 0.1, t interval)"


@pytest.mark.parametrize("values", [[], [np.nan], [5.0], [3.0, 3.0, 3.0]])
def test_degenerate_data_is_explained_not_raised(values):
    for iv in (S.mean_ci(values), S.median_ci(values), S.percentile_ci(values, 99)):
        assert iv.note
        for v in (iv.estimate, iv.low, iv.high):
            assert v is None or math.isfinite(v)
        if len(values) >= 2 and not np.isnan(values).all():
            assert iv.low == iv.high == iv.estimate == 3.0
        else:
            assert not iv.is_defined
    s = S.summarize(values)
    assert s.mean.note and s.p99 is not None and s.p99.note


def test_all_errors_summary_and_comparison_are_defined():
    df = pd.DataFrame({
        "model": ["a"] * 3 + ["b"] * 3, "item_id": ["1", "2", "3"] * 2,
        "status": ["error"] * 6, "latency_ms": [np.nan] * 6,
    })
    assert S.summarize_models(df, "latency_ms") == {}
    c = CMP.compare_models(df, "latency_ms", "a", "b")
    assert c.p_value is None and "not enough data" in CMP.verdict(c)


# --------------------------------------------------------------------------- analytic intervals


def test_mean_ci_equals_scipy_t_interval():
    x = RNG.normal(10, 3, 25)
    iv = S.mean_ci(x, 0.9)
    lo, hi = sps.t.interval(0.9, 24, loc=x.mean(), scale=sps.sem(x))
    assert (iv.low, iv.high) == pytest.approx((lo, hi), rel=1e-12)
    assert iv.method == "t" and iv.n_resamples is None and iv.seed is None


# Newcombe (1998) Statist. Med. 17:857-872, Table I, method 3 (Wilson score, no correction).
@pytest.mark.parametrize(
    "k,n,low,high", [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]
)
def test_wilson_textbook_and_statsmodels(k, n, low, high):
    iv = S.wilson_ci(k, n)
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=5e-5)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (iv.low, iv.high) == pytest.approx(ref, abs=1e-12)


def test_newcombe_difference_textbook_and_statsmodels():
    # Newcombe (1998) Statist. Med. 17:873-890, Table II (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339
    iv = S.newcombe_diff_ci(56, 70, 48, 80)
    assert (iv.low, iv.high) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    ref = confint_proportions_2indep(56, 70, 48, 80, method="newcomb", compare="diff")
    assert (iv.low, iv.high) == pytest.approx(ref, abs=1e-12)


# --------------------------------------------------------------------------- bootstrap == scipy


@pytest.mark.parametrize("method", ["BCa", "percentile"])
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_quantile_bootstrap_equals_scipy(method, q):
    x = RNG.lognormal(5, 0.6, 83)
    ours = S.quantile_cis(x, (0.5, 0.9, 0.95, 0.99), n_resamples=999, seed=11, method=method)[(0.5, 0.9, 0.95, 0.99).index(q)]
    ref = sps.bootstrap(
        (x,), lambda v, axis: np.percentile(v, q * 100, axis=axis), n_resamples=999, method=method,
        rng=np.random.default_rng(11), vectorized=True,
    ).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert ours.estimate == pytest.approx(np.percentile(x, q * 100))
    assert ours.n_resamples == 999 and ours.seed == 11


def test_bootstrap_in_memory_blocks_gives_same_answer(monkeypatch):
    x = RNG.normal(0, 1, 300)
    whole = S.median_ci(x, n_resamples=500, seed=3)
    monkeypatch.setattr(R, "_MAX_BLOCK", 7 * 300)  # 7 resamples per block
    assert S.median_ci(x, n_resamples=500, seed=3) == whole


def test_bootstrap_sums_and_the_compact_count_cache_give_a_fresh_draws_resamples(monkeypatch):
    """bootstrap_sums on per-prompt totals == bootstrap_means on the rows, and a draw kept as
    uint8 counts (large k x B) == the same draw made afresh, block by block."""
    items = np.repeat(np.arange(40), 3).astype(str)
    x = RNG.lognormal(5, 0.5, items.size)
    x[::17] = np.nan
    ref = S.bootstrap_means({"x": x, "y": 2 * x}, items, n_resamples=300, seed=4)
    sums = pd.DataFrame({"c": items, "x": np.nan_to_num(x), "k": np.isfinite(x)}).groupby("c", sort=False).sum()
    ours = S.bootstrap_sums(("x", "y"), np.column_stack([sums["x"], 2 * sums["x"]]), np.column_stack([sums["k"]] * 2),
                            items.size, clustered=True, n_resamples=300, seed=4)
    assert ours.mean("x")[0] == pytest.approx(ref.mean("x")[0], rel=1e-12)
    np.testing.assert_allclose(ours.boot_totals, ref.boot_totals, rtol=1e-12)
    np.testing.assert_array_equal(ours.boot_counts, ref.boot_counts)
    assert (ours.n, ours.n_clusters, ours.clustered, ours.n_resamples) == (ref.n, ref.n_clusters, ref.clustered, ref.n_resamples)
    monkeypatch.setattr(R, "_COUNTS_CACHE_MAX", 0)  # force the path of large draws
    monkeypatch.setattr(R, "_MAX_BLOCK", 7 * 40)  # several blocks
    R._compact_counts.cache_clear()
    R._cached_counts64.cache_clear()
    fresh = np.concatenate([R._counts(i, 40) for i in R._index_blocks(np.random.default_rng(4), 40, 300)])
    np.testing.assert_array_equal(np.concatenate(list(R._seeded_counts(4, 40, 300))), fresh)
    np.testing.assert_array_equal(np.concatenate(list(R._seeded_counts(4, 40, 300))), fresh)  # from the cache
    assert R._cached_counts64.cache_info().hits == 1  # the float64 copy, kept (made once from the uint8 draw)
    assert R._compact_counts.cache_info().misses == 1


@pytest.mark.parametrize("paired", [True, False])
def test_ratio_of_medians_equals_scipy(paired):
    a = RNG.lognormal(6, 0.4, 60)
    b = a * RNG.lognormal(0.3, 0.2, 60) if paired else RNG.lognormal(6.2, 0.5, 45)
    ours = S.ratio_of_medians_ci(a, b, paired=paired, n_resamples=800, seed=5)
    ref = sps.bootstrap(
        (a, b), lambda x, y, axis: np.percentile(x, 50, axis=axis) / np.percentile(y, 50, axis=axis),
        paired=paired, n_resamples=800, rng=np.random.default_rng(5), vectorized=True,
    ).confidence_interval
    assert ours.method == "bca-bootstrap"
    assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), rel=1e-12)


def test_ratio_of_medians_over_repeats_resamples_prompts_together():
    """With repeats the ratio is that of the medians of every run (the KPI table's medians); the paired
    interval draws the same prompts for both models, whatever the row order, and is a plain loop's."""
    k, reps = 30, 3
    prompt = np.tile(np.arange(k), reps)
    base = RNG.lognormal(5, 0.6, k)[prompt]
    a, b = base * 2 * RNG.lognormal(0, 0.1, k * reps), base * RNG.lognormal(0, 0.1, k * reps)
    iv = S.ratio_of_medians_cluster_ci(a, prompt, b, prompt, paired=True, n_resamples=400, seed=3)
    assert iv.estimate == np.median(a) / np.median(b) and iv.method == "cluster-bootstrap"
    order = RNG.permutation(a.size)
    assert S.ratio_of_medians_cluster_ci(a[order], prompt[order], b, prompt, paired=True, n_resamples=400, seed=3) == iv
    idx = np.random.default_rng(3).integers(0, k, (400, k))  # the seeded prompt draws, resampled by hand
    boot = [np.median(np.concatenate([a[prompt == j] for j in row])) / np.median(np.concatenate([b[prompt == j] for j in row]))
            for row in idx]
    assert (iv.low, iv.high) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])), rel=1e-12)
    unpaired = S.ratio_of_medians_cluster_ci(a, prompt, b, prompt, paired=False, n_resamples=400, seed=3)
    assert unpaired.estimate == iv.estimate and unpaired.width > iv.width  # pairing removes prompt difficulty
    one = S.ratio_of_medians_cluster_ci(a[:k], prompt[:k], b[:k], prompt[:k], paired=True)
    assert one.estimate == S.ratio_of_medians_ci(a[:k], b[:k], paired=True).estimate
    with pytest.raises(ValueError, match="same prompts"):
        S.ratio_of_medians_cluster_ci(a, prompt, b[:-1], prompt[:-1] + 1, paired=True)


def test_default_resamples_drop_for_large_n():
    assert S.median_ci(RNG.normal(size=50)).n_resamples == 2000
    assert S.median_ci(RNG.normal(size=1500)).n_resamples == 1000


def test_bca_falls_back_to_percentile_when_undefined():
    x = np.array([1.0] * 30 + [2.0])  # jackknife medians all equal: acceleration undefined
    iv = S.median_ci(x, n_resamples=200)
    assert iv.method == "percentile-bootstrap" and "BCa undefined" in iv.note and iv.is_defined


# --------------------------------------------------------------------------- cluster bootstrap


def _naive_cluster_stat(x, clusters, q, seed, B):
    """Reference: expand every resample explicitly, then np.percentile / np.mean."""
    labels = pd.unique(clusters)
    groups = [x[clusters == c] for c in labels]
    idx = np.random.default_rng(seed).integers(0, len(labels), (B, len(labels)))
    out = []
    for row in idx:
        v = np.concatenate([groups[i] for i in row])
        out.append(v.mean() if q is None else np.percentile(v, q * 100))
    return np.array(out)


@pytest.mark.parametrize("sizes", ["equal", "few-failed", "unequal"])
@pytest.mark.parametrize("q", [None, 0.5, 0.9])
def test_cluster_bootstrap_matches_naive_expansion(sizes, q):
    """Equal and nearly equal repeat counts (padded sort) and very unequal ones (weighted
    order statistics) all equal numpy on the explicitly expanded resamples."""
    k = 40
    reps = {"equal": np.full(k, 3), "few-failed": np.where(np.arange(k) % 7 == 0, 2, 3), "unequal": RNG.integers(1, 5, k)}[sizes]
    clusters = np.repeat([f"item{i}" for i in range(k)], reps)
    x = RNG.lognormal(0, 1, clusters.size) + np.repeat(RNG.normal(0, 1, k), reps) ** 2
    codes, uniques = pd.factorize(pd.Series(clusters))
    ref = _naive_cluster_stat(x, clusters, q, 4, 150)
    ours = CB._cluster_boot(x, np.asarray(codes), len(uniques), [q], np.random.default_rng(4), 150)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    # a seed instead of a generator: the shared (cached) index and count matrices, same numbers
    for _ in range(2):
        np.testing.assert_allclose(CB._cluster_boot(x, np.asarray(codes), len(uniques), [q], 4, 150)[0], ref, rtol=1e-12)


def test_summary_uses_cluster_bootstrap_only_with_repeats():
    x = RNG.lognormal(0, 1, 90)
    single = S.summarize(x, clusters=np.arange(90))
    assert not single.clustered and single.p50.method == "bca-bootstrap" and single.mean.method == "t"
    rep = S.summarize(x, clusters=np.repeat(np.arange(30), 3))
    assert rep.clustered and rep.n_prompts == 30
    assert {iv.method for iv in (rep.mean, rep.p50, rep.p99)} == {"cluster-bootstrap"}
    assert "30 prompts" in rep.mean.note


def test_cluster_interval_is_wider_when_repeats_are_correlated():
    k = 60
    item_effect = np.repeat(RNG.normal(0, 5, k), 5)
    x = 100 + item_effect + RNG.normal(0, 0.5, k * 5)
    naive = S.mean_ci(x)
    clustered = S.cluster_bootstrap_ci(x, np.repeat(np.arange(k), 5), "mean")
    assert clustered.width > 1.8 * naive.width


# --------------------------------------------------------------------------- tests


def test_paired_tests_equal_scipy():
    a = RNG.normal(10, 2, 30)
    b = a + RNG.normal(0.5, 1, 30)
    t = S.paired_test(a, b, "t")
    ref = sps.ttest_rel(a, b)
    assert (t.statistic, t.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    w = S.paired_test(a, b, "wilcoxon")
    ref = sps.wilcoxon(a, b)
    assert (w.statistic, w.p_value) == pytest.approx((ref.statistic, ref.pvalue))


def test_wilcoxon_all_zero_differences():
    a = np.arange(10.0)
    r = S.paired_test(a, a.copy(), "wilcoxon")
    assert r.p_value == 1.0 and "zero" in r.note


def test_unpaired_tests_equal_scipy():
    a, b = RNG.normal(0, 1, 20), RNG.normal(0.5, 2, 35)
    w = S.unpaired_test(a, b, "welch")
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert (w.statistic, w.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    m = S.unpaired_test(a, b)
    ref = sps.mannwhitneyu(a, b, alternative="two-sided")
    assert (m.statistic, m.p_value) == pytest.approx((ref.statistic, ref.pvalue))


@pytest.mark.parametrize("b,c", [(3, 9), (0, 5), (7, 7), (20, 35), (40, 12)])
def test_mcnemar_equals_statsmodels(b, c):
    both, neither = 30, 10
    a_pass = np.array([1] * both + [1] * b + [0] * c + [0] * neither)
    b_pass = np.array([1] * both + [0] * b + [1] * c + [0] * neither)
    ours = S.mcnemar_test(a_pass, b_pass)
    table = [[both, b], [c, neither]]
    exact = b + c < 25
    ref = sm_mcnemar(table, exact=exact, correction=True)
    assert ours.test == ("mcnemar-exact" if exact else "mcnemar-chi2")
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert ours.statistic == pytest.approx(ref.statistic)


def test_fisher_equals_scipy():
    r = S.fisher_test(8, 10, 3, 12)
    assert r.p_value == pytest.approx(sps.fisher_exact([[8, 2], [3, 9]]).pvalue)


# --------------------------------------------------------------------------- effect sizes


def test_cliffs_delta_hand_example():
    # pairs (a_i, b_j): (1,2)< (1,4)< (2,2)= (2,4)< (3,2)> (3,4)< -> (1 - 4) / 6
    assert S.cliffs_delta([1, 2, 3], [2, 4]) == pytest.approx(-0.5)
    assert S.cliffs_delta([5, 6], [1, 2]) == 1.0
    assert S.cliffs_delta([], [1]) is None


def test_rank_biserial_and_dz_hand_examples():
    # differences 1, -2, 3, 0 -> zero dropped; ranks of |d| = 1, 2, 3; (1 + 3 - 2) / 6
    assert S.rank_biserial_paired([1, 0, 3, 5], [0, 2, 0, 5]) == pytest.approx(2 / 6)
    # differences 1, 2, 3: mean 2, sd 1 -> dz 2
    assert S.cohens_dz([2, 4, 6], [1, 2, 3]) == pytest.approx(2.0)
    assert S.cohens_dz([1, 2, 3], [0, 1, 2]) is None  # constant difference: undefined


# Student (1908) "The probable error of a mean", Biometrika 6:1-25: extra hours of sleep with
# two soporifics in the same 10 patients (R's `sleep` data set). Published reference outputs
# (R documentation examples ?t.test and ?wilcox.test, and the TOSTER vignette "IntroTOSTt"):
#   t.test(extra ~ group, sleep, paired = TRUE): t = -4.0621, df = 9, p = 0.002833,
#       mean difference -1.58, 95% CI -2.4598858 to -0.7001142
#   t.test(extra ~ group, sleep) (Welch): t = -1.8608, p = 0.07939, 95% CI -3.3654832 to 0.2054832
#   wilcox.test(extra ~ group, sleep): W = 25.5, p = 0.06933
#   paired TOST, bounds +/-0.5: lower test t(9) = -2.777, p = 0.989; upper t(9) = -5.348, p < 0.001
SLEEP_1 = np.array([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
SLEEP_2 = np.array([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4])


def test_student_sleep_data_t_tests_and_intervals():
    t = S.paired_test(SLEEP_1, SLEEP_2, "t")
    assert t.statistic == pytest.approx(-4.0621, abs=5e-5) and t.p_value == pytest.approx(0.002833, abs=5e-7)
    d = S.mean_difference_ci(SLEEP_1, SLEEP_2, paired=True)
    assert (d.estimate, d.low, d.high) == pytest.approx((-1.58, -2.4598858, -0.7001142), abs=5e-8)
    w = S.unpaired_test(SLEEP_1, SLEEP_2, "welch")
    assert w.statistic == pytest.approx(-1.8608, abs=5e-5) and w.p_value == pytest.approx(0.07939, abs=5e-6)
    d = S.mean_difference_ci(SLEEP_1, SLEEP_2, paired=False)
    assert (d.low, d.high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)


def test_cliffs_delta_textbook_sleep_data():
    # Cliff (1993) Psychol. Bull. 114:494-509: delta = (#(x > y) - #(x < y)) / (m n) = 2U/(mn) - 1
    # with U the Mann-Whitney statistic; R's wilcox.test gives W = U = 25.5 for the sleep data.
    assert S.cliffs_delta(SLEEP_1, SLEEP_2) == pytest.approx(2 * 25.5 / 100 - 1)
    dominance = np.sign(SLEEP_1[:, None] - SLEEP_2[None, :]).mean()  # the dominance matrix itself
    assert S.cliffs_delta(SLEEP_1, SLEEP_2) == pytest.approx(dominance)
    assert S.unpaired_test(SLEEP_1, SLEEP_2).p_value == pytest.approx(0.06933, abs=5e-6)


def test_tost_textbook_sleep_data():
    """Schuirmann (1987) TOST on the sleep data; TOSTER's published one-sided t values, and
    Schuirmann's duality: equivalent at alpha 0.05 exactly when the 90% CI lies inside the margin."""
    se = 1.58 / 4.0621  # from the published mean difference and t
    assert (-1.58 + 0.5) / se == pytest.approx(-2.777, abs=5e-4) and (-1.58 - 0.5) / se == pytest.approx(-5.348, abs=5e-4)
    eq = S.tost_paired(SLEEP_1, SLEEP_2, 0.5)
    assert not eq.equivalent and eq.p_value == pytest.approx(0.989, abs=5e-4)
    ci90 = S.mean_ci(SLEEP_1 - SLEEP_2, 0.90)
    for margin in (0.5, 1.0, 2.0, 2.3, 2.5, 3.0):
        inside = -margin < ci90.low and ci90.high < margin
        assert S.tost_paired(SLEEP_1, SLEEP_2, margin).equivalent == inside, margin
    assert S.tost_paired(SLEEP_1, SLEEP_2, 2.5).equivalent


def test_wilcoxon_large_n_equals_scipy_with_ties_and_zeros():
    """Above 50 pairs the normal approximation is computed in core.stats: equal to scipy."""
    rng = np.random.default_rng(12)
    for i in range(60):
        n = int(rng.integers(51, 400))
        a = rng.lognormal(5, 0.5, n)
        b = a * rng.lognormal(0.02 * (i % 3), 0.1, n)
        if i % 3 == 0:
            a, b = np.round(a), np.round(b)  # ties
        if i % 4 == 0:
            b[: n // 5] = a[: n // 5]  # zero differences
        ours, ref = S.paired_test(a, b), sps.wilcoxon(a, b)
        assert ours.statistic == ref.statistic and ours.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)


def test_average_ranks_equal_scipy_with_many_ties():
    """The ranks behind Wilcoxon and the rank-biserial (an unstable sort: ties share their average)."""
    from core.stats.significance import _average_ranks

    rng = np.random.default_rng(3)
    for a in (np.round(rng.lognormal(3, 1, 20_000)), rng.integers(0, 5, 5_000).astype(float), rng.random(1_000)):
        ranks, ties = _average_ranks(a)
        assert np.array_equal(ranks, sps.rankdata(a, "average"))
        assert np.array_equal(np.sort(ties), np.sort(np.unique(a, return_counts=True)[1]))


def test_cliffs_delta_equals_every_pair_with_ties():
    rng = np.random.default_rng(4)
    for _ in range(20):
        a, b = rng.integers(0, 8, int(rng.integers(1, 300))), rng.integers(0, 8, int(rng.integers(1, 300)))
        diff = np.sign(a[:, None] - b[None, :])
        assert S.cliffs_delta(a, b) == pytest.approx(diff.mean(), abs=1e-15)
        u = sps.mannwhitneyu(a, b).statistic  # the rank form: 2U / (n_a n_b) - 1
        assert S.cliffs_delta(a, b) == pytest.approx(2 * u / (a.size * b.size) - 1, abs=1e-12)


# --------------------------------------------------------------------------- multiplicity


def test_holm_wikipedia_example():
    # Wikipedia "Holm-Bonferroni method" example: p = 0.01, 0.04, 0.03, 0.005.
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max.
    adj = S.adjust_pvalues([0.01, 0.04, 0.03, 0.005], "holm")
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_1995_example():
    # Benjamini & Hochberg (1995) J. R. Statist. Soc. B 57:289-300, section 4 (15 p-values from
    # a thrombolysis trial): at level 0.05 Bonferroni-type procedures (Holm included) reject
    # the 3 smallest, the BH procedure rejects 4.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]
    holm, bh = S.adjust_pvalues(p, "holm"), S.adjust_pvalues(p, "bh")
    assert np.flatnonzero(holm < 0.05).tolist() == [0, 1, 2]
    assert np.flatnonzero(bh < 0.05).tolist() == [0, 1, 2, 3]
    assert holm[3] == pytest.approx(12 * 0.0095) and bh[3] == pytest.approx(15 / 4 * 0.0095)


def test_adjustments_equal_references():
    p = RNG.uniform(0, 0.2, 17)
    np.testing.assert_allclose(S.adjust_pvalues(p, "holm"), multipletests(p, method="holm")[1])
    np.testing.assert_allclose(S.adjust_pvalues(p, "bh"), multipletests(p, method="fdr_bh")[1])
    np.testing.assert_allclose(S.adjust_pvalues(p, "bh"), sps.false_discovery_control(p))


def test_missing_pvalues_are_left_out_of_the_family():
    adj = S.adjust_pvalues([0.01, None, 0.04], "holm")
    assert np.isnan(adj[1])
    np.testing.assert_allclose(adj[[0, 2]], [0.02, 0.04])


pvals = st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(pvals, st.sampled_from(["holm", "bh"]))
def test_adjusted_pvalues_monotone_and_not_below_raw(p, method):
    p = np.array(p)
    adj = S.adjust_pvalues(p, method)
    assert np.all(adj >= p - 1e-15) and np.all(adj <= 1)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)


@settings(max_examples=50, deadline=None)
@given(pvals)
def test_bh_agrees_with_scipy(p):
    np.testing.assert_allclose(S.adjust_pvalues(p, "bh"), sps.false_discovery_control(p), rtol=1e-10, atol=1e-15)


# --------------------------------------------------------------------------- properties of intervals


@settings(max_examples=50, deadline=None)
@given(samples)
def test_intervals_contain_their_estimate(x):
    for iv in (S.mean_ci(x), S.median_ci(x, n_resamples=200), S.percentile_ci(x, 90, n_resamples=200)):
        if iv.is_defined:
            assert iv.low - 1e-9 * (1 + abs(iv.estimate)) <= iv.estimate <= iv.high + 1e-9 * (1 + abs(iv.estimate))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(1, 60), st.integers(1, 60), samples)
def test_proportion_and_cluster_intervals_contain_their_estimate(k1, k2, e1, e2, x):
    n1, n2 = k1 + e1, k2 + e2
    for iv in (S.wilson_ci(k1, n1), S.newcombe_diff_ci(k1, n1, k2, n2), S.mean_difference_ci(x, x[::-1], paired=False)):
        assert iv.is_defined and iv.low - 1e-12 <= iv.estimate <= iv.high + 1e-12
    clusters = np.arange(len(x)) // 2  # pairs of repeats
    iv = S.cluster_bootstrap_ci(x, clusters, "mean", n_resamples=200)
    if iv.is_defined:
        tol = 1e-9 * (1 + abs(iv.estimate))
        assert iv.low - tol <= iv.estimate <= iv.high + tol


@settings(max_examples=50, deadline=None)
@given(samples, st.integers(0, 50), st.integers(1, 50))
def test_intervals_widen_with_confidence(x, k, extra):
    n = k + extra
    pairs = [
        (S.mean_ci(x, 0.8), S.mean_ci(x, 0.95)),
        (S.wilson_ci(k, n, 0.8), S.wilson_ci(k, n, 0.95)),
        (S.median_ci(x, confidence=0.8, method="percentile", n_resamples=200),
         S.median_ci(x, confidence=0.95, method="percentile", n_resamples=200)),
    ]
    for narrow, wide in pairs:
        if narrow.is_defined:
            assert wide.low <= narrow.low + 1e-12 and wide.high >= narrow.high - 1e-12


# --------------------------------------------------------------------------- calibration


def test_t_interval_coverage():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (1000, 15))
    hits = sum(S.mean_ci(row).contains(3.0) for row in x)
    assert 930 <= hits <= 970


def test_bootstrap_median_coverage():
    rng = np.random.default_rng(2)
    hits = 0
    for i in range(1000):
        x = rng.lognormal(0.0, 1.0, 100)  # true median exp(0) = 1
        hits += S.median_ci(x, n_resamples=400, seed=i).contains(1.0)
    assert 930 <= hits <= 970


def test_a_a_comparisons_reject_at_nominal_rate():
    """The same model twice (shared per-prompt difficulty, independent noise), 1,000 datasets:
    each test rejects at about 5% (binomial SD 0.7 points; accepted 2.5-7.5%). n = 60 pairs,
    so the Wilcoxon test runs on its normal approximation computed in core.stats."""
    rng = np.random.default_rng(3)
    item = rng.lognormal(0, 1, (1000, 60))
    a, b = item * rng.lognormal(0, 0.3, item.shape), item * rng.lognormal(0, 0.3, item.shape)
    u, v = rng.lognormal(0, 1, (1000, 30)), rng.lognormal(0, 1, (1000, 30))
    rejections = {
        "t": sum(S.paired_test(x, y, "t").p_value < 0.05 for x, y in zip(a, b)),
        "wilcoxon": sum(S.paired_test(x, y).p_value < 0.05 for x, y in zip(a, b)),
        "welch": sum(S.unpaired_test(x, y, "welch").p_value < 0.05 for x, y in zip(u, v)),
        "mann-whitney": sum(S.unpaired_test(x, y).p_value < 0.05 for x, y in zip(u, v)),
    }
    for name, r in rejections.items():
        assert 25 <= r <= 75, (name, r)
    # pass/fail: McNemar (exact below 25 discordant pairs: conservative, so at most nominal)
    p = rng.uniform(0.05, 0.6, (1000, 60))
    pa, pb = rng.random(p.shape) < p, rng.random(p.shape) < p
    r = sum(S.mcnemar_test(x, y).p_value < 0.05 for x, y in zip(pa, pb))
    assert 10 <= r <= 75, r


def test_cluster_bootstrap_coverage_with_repeats():
    """100 prompts x 3 repeats, prompt effect SD 1 and noise SD 1 (intra-prompt correlation
    0.5), 1,000 datasets with the product's defaults (2000 resamples, seed 0): the 95% cluster
    interval covers the true mean in 93-97%; a t interval that treats repeats as independent
    covers far less (the false precision that clustering prevents)."""
    rng = np.random.default_rng(5)
    k = 100
    clusters = np.repeat(np.arange(k), 3)
    hits = naive = 0
    for _ in range(1000):
        x = np.repeat(rng.normal(10, 1, k), 3) + rng.normal(0, 1, 3 * k)
        hits += S.cluster_bootstrap_ci(x, clusters, "mean").contains(10.0)
        naive += S.mean_ci(x).contains(10.0)
    assert 930 <= hits <= 970, hits
    assert naive < 880, naive


def test_wilson_coverage():
    """1,000 binomial datasets (n = 200, p = 0.3): Wilson 95% intervals cover p in 93-97%, and
    the simulation agrees with the exact coverage (sum of binomial probabilities of the counts
    whose interval covers p; Wilson's coverage oscillates with n and p around 95%)."""
    n, p = 200, 0.3
    covers = {j: S.wilson_ci(j, n).contains(p) for j in range(n + 1)}
    k = np.random.default_rng(9).binomial(n, p, 1000)
    hits = sum(covers[int(j)] for j in k)
    exact = sum(sps.binom.pmf(j, n, p) for j, c in covers.items() if c)
    assert 930 <= hits <= 970, hits
    assert 0.93 <= exact <= 0.97 and abs(hits / 1000 - exact) < 0.02


# --------------------------------------------------------------------------- equivalence and power


def test_tost_equals_statsmodels():
    a = RNG.normal(5, 1, 40)
    b = a + RNG.normal(0.05, 0.4, 40)
    ours = S.tost_paired(a, b, 0.3)
    ref = ttost_paired(a, b, -0.3, 0.3)
    assert ours.p_value == pytest.approx(ref[0], rel=1e-10) and ours.equivalent == (ref[0] < 0.05)
    c = RNG.normal(5.1, 1.5, 55)
    ours = S.tost_unpaired(a, c, 0.5)
    ref = ttost_ind(a, c, -0.5, 0.5, usevar="unequal")
    assert ours.p_value == pytest.approx(ref[0], rel=1e-10)


def test_power_equals_statsmodels():
    mde = S.minimum_detectable_effect(2.0, 30)
    ref = TTestPower().solve_power(effect_size=None, nobs=30, alpha=0.05, power=0.8)
    assert mde.effect_size == pytest.approx(ref, rel=1e-5) and mde.effect == pytest.approx(2 * ref, rel=1e-5)
    need = S.required_sample_size(0.3, 1.0)
    ref_n = TTestPower().solve_power(effect_size=0.3, nobs=None, alpha=0.05, power=0.8)
    assert need.n == math.ceil(ref_n)
    assert S.minimum_detectable_effect(1.0, 3000).effect == pytest.approx(
        TTestPower().solve_power(effect_size=None, nobs=3000, alpha=0.05, power=0.8), rel=1e-5
    )
    assert S.minimum_detectable_effect(1.0, 1).effect is None


# --------------------------------------------------------------------------- drift, cold start, Pareto


def test_theil_sen_hand_example():
    # pairwise slopes of (0,0) (1,1) (2,2) (3,10): 1, 1, 10/3, 1, 9/2, 8 -> median (1 + 10/3) / 2
    d = S.drift([0, 1, 2, 10], order=[0, 1, 2, 3])
    assert d.slope.estimate == pytest.approx((1 + 10 / 3) / 2)


def test_theil_sen_interval_by_hand():
    """Sen (1968) J. Am. Stat. Assoc. 63:1379-1389: the slope is the median of the N pairwise
    slopes; its interval takes the sorted slopes at ranks (N - C)/2 and (N + C)/2 + 1 (1-based),
    C = z_0.975 sqrt(n(n-1)(2n+5)/18) (Kendall's tau variance, no ties in x)."""
    x = np.arange(12.0)
    y = np.array([3.0, 4.1, 3.9, 5.2, 6.8, 6.1, 7.7, 8.0, 9.9, 9.1, 11.5, 12.2])
    slopes = np.sort([(y[j] - y[i]) / (x[j] - x[i]) for i in range(12) for j in range(i + 1, 12)])
    N, n = slopes.size, 12
    C = 1.959963984540054 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    lo, hi = int(round((N - C) / 2)) - 1, int(round((N + C) / 2 + 1)) - 1
    d = S.drift(y, order=x)
    assert d.slope.estimate == pytest.approx(np.median(slopes))
    assert (d.slope.low, d.slope.high) == pytest.approx((slopes[lo], slopes[hi]))
    assert d.slope.method == "theil-sen" and d.significant


def test_drift_block_medians_recover_a_long_linear_trend():
    """Above 500 samples the slope comes from block medians (our own step): on a noiseless line
    it is exact, and with noise it stays close to the true slope."""
    n = 3000
    d = S.drift(50 + 0.01 * np.arange(n))
    assert d.slope.estimate == pytest.approx(0.01) and "medians" in d.slope.note
    noisy = 50 + 0.01 * np.arange(n) + np.random.default_rng(4).normal(0, 2, n)
    d = S.drift(noisy)
    assert d.slope.contains(0.01) and d.slope.estimate == pytest.approx(0.01, rel=0.1)


def test_drift_flags_material_trend_only():
    n = 400
    order = np.arange(n)
    noisy = 100 + RNG.normal(0, 5, n)
    rising = noisy + 0.05 * order  # 5 ms per 100 samples on a 100 ms median: 5%
    d = S.drift(rising)
    assert d.significant and d.material and d.flagged
    assert d.relative_per_100 == pytest.approx(0.05, abs=0.02)
    assert not S.drift(noisy).flagged
    tiny = noisy + 0.002 * order  # significant with enough data, but 0.2% per 100 samples
    assert not S.drift(tiny).material
    assert S.drift([5, 5, 5, 5]).note and not S.drift([1.0]).flagged


def test_cold_start():
    c = S.cold_start([900, 100, 110, 90, 100])
    assert c.first == 900 and c.warm_median == 100 and c.ratio == 9 and c.excess == 800 and c.n_warm == 4
    assert S.cold_start([]).first is None and S.cold_start([5]).note


def test_pareto_front_hand_example():
    t = pd.DataFrame({
        "model": ["big", "small", "mid", "bad"],
        "quality": [9.0, 5.0, 7.0, 6.0],
        "latency_ms": [900, 100, 400, 500],
        "cost": [3.0, 1.0, 2.0, 2.5],
    })
    pts = {p.model: p for p in S.pareto_front(t)}
    assert [m for m, p in pts.items() if p.efficient] == ["big", "small", "mid"]
    assert pts["bad"].dominated_by == ("mid",)


# --------------------------------------------------------------------------- comparisons from the samples table


def _samples(n_items=60, repeats=1, speeds=(1.0, 2.4), quality_shift=(0.0, 0.0), seed=0, names=("demo-tiny", "demo-base")):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(5, 0.5, n_items)
    qual = rng.uniform(3, 7, n_items)
    rows = []
    for name, speed, dq in zip(names, speeds, quality_shift):
        for r in range(repeats):
            q = np.clip(qual + dq + rng.normal(0, 0.3, n_items), 0, 10)
            rows.append(pd.DataFrame({
                "run_id": "r1", "model": name, "item_id": [f"q{i}" for i in range(n_items)], "repeat": r,
                "seq": np.arange(n_items) + r * n_items, "status": "ok",
                "latency_ms": base * speed * rng.lognormal(0, 0.1, n_items), "quality": q,
                "passed": pd.array(q > 5, dtype=object),
            }))
    return pd.concat(rows, ignore_index=True)


def test_compare_models_latency_verdict():
    df = _samples()
    c = CMP.compare_models(df, "latency_ms", "demo-base", "demo-tiny")
    assert c.paired and c.test.test == "wilcoxon" and c.n_pairs == 60
    assert c.ratio.estimate == pytest.approx(2.4, rel=0.1) and c.ratio.low > 1
    assert c.direction == "a_higher" and c.better() == "demo-tiny"
    v = CMP.verdict(c)
    assert v.startswith("demo-base is 2.") and "x slower than demo-tiny (ratio of medians; 95% CI" in v and "p < 0.001" in v


def test_compare_models_quality_verdicts():
    up = _samples(quality_shift=(0.0, 3.0))
    c = CMP.compare_models(up, "quality", "demo-base", "demo-tiny", test="t")
    assert c.test.test == "paired-t"
    assert c.difference.estimate == pytest.approx(3.0, abs=0.2)
    d = c.difference
    assert CMP.verdict(c) == (
        f"demo-base scores {S.format_number(d.estimate)} points higher on quality than demo-tiny "
        f"(95% CI {S.format_number(d.low)}-{S.format_number(d.high)}, p < 0.001)"
    )
    same = _samples(quality_shift=(0.0, 0.0))
    c = CMP.compare_models(same, "quality", "demo-base", "demo-tiny")
    v = CMP.verdict(c)
    assert not c.significant()
    assert v.startswith("no meaningful difference in quality") and "±0.5 points, TOST p" in v
    c = CMP.compare_models(same, "quality", "demo-base", "demo-tiny", margin=0.01)
    assert CMP.verdict(c).startswith("no significant difference in quality")


def test_passed_uses_mcnemar_and_repeats_use_item_means():
    df = _samples(quality_shift=(0.0, 1.0))
    c = CMP.compare_models(df, "passed", "demo-base", "demo-tiny")
    assert c.test.test.startswith("mcnemar")
    rep = _samples(repeats=3, speeds=(1.0, 1.1))
    c = CMP.compare_models(rep, "latency_ms", "demo-base", "demo-tiny")
    assert c.n_pairs == 60 and c.paired  # 180 samples each, 60 prompts
    c = CMP.compare_models(rep, "passed", "demo-base", "demo-tiny")
    assert c.test.test == "wilcoxon"  # per-prompt pass rates, not single pass/fail pairs


def test_unpaired_fallback_says_why():
    df = _samples()
    df.loc[df["model"] == "demo-base", "item_id"] = [f"other{i}" for i in range(60)]
    c = CMP.compare_models(df, "latency_ms", "demo-base", "demo-tiny")
    assert not c.paired and c.test.test == "mann-whitney"
    assert "unpaired" in c.pairing and "0 of 60" in c.pairing
    assert c.ratio.estimate == pytest.approx(2.4, rel=0.2)
    assert CMP.compare_models(df, "latency_ms", "demo-base", "demo-tiny", test="t").test.test == "welch-t"
    with pytest.raises(ValueError, match="not in the samples"):
        CMP.compare_models(df, "latency_ms", "demo-base", "demo-huge")


def test_pairwise_adjusts_within_each_metric():
    df = pd.concat([_samples(), _samples(names=("demo-x", "demo-y"), speeds=(1.05, 1.0), seed=1)])
    df["item_id"] = df["item_id"].astype(str)
    comps = CMP.pairwise(df, ["latency_ms", "quality"])
    assert len(comps) == 12  # 6 pairs x 2 metrics
    for metric in ("latency_ms", "quality"):
        fam = [c for c in comps if c.metric == metric]
        np.testing.assert_allclose([c.p_adjusted for c in fam], S.adjust_pvalues([c.p_value for c in fam], "holm"))
        assert all(c.correction == "holm" for c in fam)
    assert "after Holm correction" in CMP.verdict(comps[0])
    base = CMP.pairwise(df, ["latency_ms"], baseline="demo-tiny", correction="bh")
    assert [(c.model_a, c.model_b) for c in base] == [("demo-base", "demo-tiny"), ("demo-x", "demo-tiny"), ("demo-y", "demo-tiny")]
    frame = CMP.comparisons_frame(base)
    assert list(frame["model_b"].unique()) == ["demo-tiny"] and "verdict" in frame


def test_pairwise_results_equal_single_comparisons():
    df = pd.concat([_samples(), _samples(names=("demo-x", "demo-y"), seed=1)])
    comps = CMP.pairwise(df, ["latency_ms"], correction="none")
    for c in comps:
        alone = CMP.compare_models(df, "latency_ms", c.model_a, c.model_b)
        assert c.ratio == alone.ratio and c.p_value == alone.p_value


def test_verdict_never_claims_unsupported_difference():
    rng = np.random.default_rng(7)
    for i in range(20):
        item = rng.lognormal(5, 0.5, 40)
        a, b = item * rng.lognormal(0, 0.2, 40), item * rng.lognormal(0, 0.2, 40)
        c = CMP.compare_arrays(a, b, paired=True, metric="latency_ms", model_a="x", model_b="y", n_resamples=300, seed=i)
        v = CMP.verdict(c)
        if not c.significant():
            assert v.startswith("no ")
        if "slower" in v:
            assert c.significant() and (c.ratio.low > 1 or c.ratio.high < 1)


def test_methods_text_names_the_choices():
    for word in ("Holm", "family-wise", "cluster bootstrap", "BCa", "Wilson", "McNemar", "TOST", "Theil-Sen", "1000"):
        assert word.lower() in S.METHODS.lower()


def test_spearman_p_is_exact_at_small_n_and_mann_whitney_u_on_ties_is_half_the_pairs():
    """Checked against R: cor.test(1:5, c(1,2,3,5,4), method = "spearman") gives p = 0.08333 (exact);
    scipy's t approximation gives 0.0374. All-equal samples: every pair of the 3 x 4 ties, U = 6."""
    d = S.drift([1, 2, 3, 5, 4])
    assert d.spearman_rho == pytest.approx(0.9) and d.spearman_p == pytest.approx(1 / 12)
    y10 = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    assert S.drift(y10).spearman_p == pytest.approx(sps.spearmanr(range(10), y10).pvalue)  # n > 9: t approximation
    r = S.unpaired_test([3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0])
    assert (r.statistic, r.p_value) == (6.0, 1.0)


def test_repeats_never_claim_more_certainty_than_one_answer_per_prompt():
    """Issue 11.1: 0% with 3 repeats of 40 prompts gave [0, 0]; it is Wilson on 40 prompts."""
    clusters = np.repeat(np.arange(40), 3)
    zero = S.proportion_ci([0] * 120, clusters=clusters)
    assert zero.low == 0.0 and zero.high == pytest.approx(S.wilson_ci(0, 40).high) and zero.high > 0.08
    full = S.proportion_ci([1] * 120, clusters=clusters)
    assert full.high == 1.0 and full.low == pytest.approx(S.wilson_ci(40, 40).low) and full.low < 0.92
    agree = S.proportion_ci(np.repeat([1] * 30 + [0] * 10, 3), clusters=clusters)
    assert (agree.low, agree.high) == pytest.approx((S.wilson_ci(30, 40).low, S.wilson_ci(30, 40).high))
    assert agree.method == "wilson-clusters" and "40 prompts" in agree.note
    mixed = np.repeat([1] * 30 + [0] * 10, 3)
    mixed[0] = 0  # one prompt's repeats disagree: the cluster bootstrap has information to resample
    assert S.proportion_ci(mixed, clusters=clusters).method == "cluster-bootstrap"


def test_methods_text_says_when_wilcoxon_is_exact():
    """Issue 11.4: with ties or zeros scipy is exact (permutation) only up to 13 pairs; the
    text says so, and the code agrees: 20 tied pairs give the uncorrected normal approximation."""
    text = " ".join(S.METHODS.split())
    assert "n <= 13" in text and "without continuity correction" in text and "exact for n <= 50," not in text
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 20).astype(float)
    y = rng.integers(0, 4, 20).astype(float)
    d = (x - y)[x != y]
    assert np.unique(np.abs(d)).size < d.size  # ties
    normal = sps.wilcoxon(x, y, method="asymptotic", correction=False)
    assert S.paired_test(x, y, "wilcoxon").p_value == pytest.approx(normal.pvalue, rel=1e-12)


# --------------------------------------------------------------------------- package layering


def test_the_stats_package_imports_no_other_project_module():
    """core.stats builds only on numpy / scipy / pandas and its own modules, so core.compare (and
    everything else that builds on it) can never form an import cycle with it; imports inside
    functions count."""
    import ast
    from pathlib import Path

    package = Path(S.__file__).parent
    assert (package / "__init__.py").exists() and len(list(package.glob("*.py"))) > 5
    outside = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.ImportFrom) and node.level:
                names = [f"core.stats.{node.module or ''}"]
            bad = [n for n in names if n.split(".")[0] in ("core", "ui", "pages", "app") and not n.startswith("core.stats")]
            if bad:
                outside[path.name] = bad
    assert not outside, outside
    assert not hasattr(S, "__getattr__")  # no lazy re-export of core.compare's names


# ---------------------------------------------------------------- fast exact paths (issue 15: Compare at 1M samples)


def _old_signed_rank_sums(d):
    """The rank-by-rank sums the grouped ones replaced."""
    from core.stats.significance import SignedRanks, _average_ranks
    d = np.asarray(d, dtype=float)
    d = d[(d != 0) & np.isfinite(d)]
    r, ties = _average_ranks(np.abs(d))
    t = ties.astype(float)
    return SignedRanks(int(d.size), float(r[d > 0].sum()), float(r[d < 0].sum()), float(np.sum(t ** 3 - t)))


@pytest.mark.parametrize("seed", range(4))
def test_signed_rank_sums_grouped_equal_rank_by_rank(seed):
    from core.stats.significance import signed_rank_sums
    rng = np.random.default_rng(seed)
    for n in (0, 1, 7, 300, 20_000):
        cont = rng.normal(size=n)
        tied = np.round(rng.normal(size=n) * 2) / 2  # many ties and zeros
        for d in (cont, tied, np.concatenate([tied, [np.nan, np.inf]])):
            assert signed_rank_sums(d) == _old_signed_rank_sums(d)


def test_cliffs_delta_from_a_merge_equals_counting_every_pair():
    rng = np.random.default_rng(5)
    for trial in range(60):
        n, m = rng.integers(1, 120, 2)
        x = rng.normal(size=n) if trial % 2 else np.round(rng.normal(size=n))
        y = rng.normal(size=m) if trial % 2 else np.round(rng.normal(size=m))
        if trial % 5 == 0:
            x[0], y[0] = 0.0, -0.0  # equal values of different signs tie
        brute = float(np.sign(x[:, None] - y[None, :]).sum() / (n * m))
        assert S.cliffs_delta(x, y) == brute


@pytest.mark.parametrize("kind", ["continuous", "ties", "trend", "near-sorted"])
def test_drift_trend_tests_in_sample_order_equal_scipy(kind):
    from core.stats import trends
    rng = np.random.default_rng(3)
    for n in (34, 500, 20_000):
        y = {"continuous": rng.lognormal(size=n), "ties": np.round(rng.normal(size=n) * 2),
             "trend": rng.normal(size=n) + np.arange(n) * 0.001, "near-sorted": np.arange(n, dtype=float)}[kind]
        if kind == "near-sorted":
            y[[3, 4, 10, 11]] = y[[4, 3, 11, 10]]  # a few discordant pairs: scipy's asymptotic route
        x = np.arange(n) * 2.0 + 7
        kt, sr = trends._ordered_trend_tests(y)
        assert kt is not None
        k0, s0 = sps.kendalltau(x, y), sps.spearmanr(x, y)
        assert (kt.statistic, kt.pvalue) == pytest.approx((k0.statistic, k0.pvalue), rel=1e-12, abs=0)
        assert (sr.statistic, sr.pvalue) == pytest.approx((s0.statistic, s0.pvalue), rel=1e-12, abs=0)


def test_drift_leaves_scipys_exact_kendall_cases_to_scipy():
    from core.stats import trends
    assert trends._ordered_trend_tests(np.arange(20.0)[::-1].copy()) == (None, None)  # n <= 33: exact p-value
    assert trends._ordered_trend_tests(np.arange(100.0)) == (None, None)  # a perfect order: exact p-value
    d = S.drift(np.arange(100.0)[::-1], np.arange(100.0))  # still answered, by scipy
    assert d.kendall_tau == -1.0 and d.kendall_p < 1e-10


def test_drift_with_unordered_or_tied_order_matches_the_sorted_series():
    rng = np.random.default_rng(8)
    y, x = rng.normal(size=800) + np.arange(800) * 0.002, np.arange(800.0)
    perm = rng.permutation(800)
    assert S.drift(y[perm], x[perm]) == S.drift(y, x)  # the scipy route (order not increasing) gives the same
    from core.stats import trends
    y = rng.normal(size=1003)  # 92 blocks of 11: the last one padded with 9 NaN
    mx, my, note = trends._slope_points(np.arange(1003.0), y, 100)
    padded = np.concatenate([y, np.full(9, np.nan)]).reshape(92, 11)
    assert note.startswith("Theil-Sen slope on 92 medians") and np.array_equal(my, np.nanmedian(padded, axis=1))
