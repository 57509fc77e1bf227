"""core.stats.agreement and core.stats.judge_agreement: published worked examples, hand checks,
missing ratings, degenerate data and the judge stand-in rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from core.stats import agreement as A
from core.stats import judge_agreement as J

NA = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3],
    [NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA],
]).T
# Fleiss (1971) as worked on Wikipedia ("Fleiss' kappa"): 10 subjects, 14 raters, 5 categories
FLEISS_WIKIPEDIA = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_krippendorff_2011_worked_example(level, published):
    alpha = A.krippendorff_alpha(KRIPPENDORFF_2011, level)
    assert round(alpha, 3) == published


def test_krippendorff_nominal_by_hand_from_the_coincidence_matrix():
    # the paper's coincidence matrix: n = 40 pairable values, diagonal 7 + 10 + 8 + 4 + 3 = 32,
    # n_c = (9, 13, 10, 5, 3); nominal alpha = 1 - (n - 1)(n - sum o_cc) / (n^2 - sum n_c^2)
    n_c = np.array([9, 13, 10, 5, 3])
    expected = 1 - (40 - 1) * (40 - 32) / (40 * 40 - (n_c ** 2).sum())
    assert expected == pytest.approx(0.743, abs=5e-4)
    assert A.krippendorff_alpha(KRIPPENDORFF_2011, "nominal") == pytest.approx(expected)


def test_krippendorff_interval_equals_one_minus_variance_ratio_without_missing_values():
    # two raters, no missing values: D_o and D_e by hand on a tiny table
    m = np.array([[1.0, 2.0], [3.0, 3.0], [5.0, 4.0]])
    values = m.ravel()
    n = values.size
    d_o = sum((a - b) ** 2 * 2 for a, b in m) / 1  # each unit: o_ab + o_ba, weight 1/(m_u - 1) = 1
    d_e = sum((x - y) ** 2 for x in values for y in values)
    assert A.krippendorff_alpha(m, "interval") == pytest.approx(1 - (n - 1) * d_o / d_e)


def test_krippendorff_ci_with_missing_values_and_clusters():
    iv = A.krippendorff_alpha_ci(KRIPPENDORFF_2011, "interval", n_resamples=500, seed=3)
    assert iv.is_defined and iv.low <= iv.estimate <= iv.high <= 1 and iv.n == 11 and iv.method == "percentile-bootstrap"
    assert iv == A.krippendorff_alpha_ci(KRIPPENDORFF_2011, "interval", n_resamples=500, seed=3)
    prompts = ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4", "p5", "p5", "p6", "p6"]
    cl = A.krippendorff_alpha_ci(KRIPPENDORFF_2011, "interval", clusters=prompts, n_resamples=500)
    assert cl.method == "cluster-bootstrap" and cl.estimate == iv.estimate and cl.is_defined


def test_alpha_degenerate_data_explained():
    one_value = np.array([[3.0, 3.0], [3.0, 3.0]])
    iv = A.krippendorff_alpha_ci(one_value)
    assert iv.estimate is None and "single value" in iv.note
    unpaired = np.array([[1.0, NA], [NA, 2.0]])
    iv = A.krippendorff_alpha_ci(unpaired)
    assert iv.estimate is None and "no unit rated by two raters" in iv.note


def test_fleiss_wikipedia_example_and_statsmodels():
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    kappa = A.fleiss_kappa(FLEISS_WIKIPEDIA)
    assert round(kappa, 3) == 0.210
    assert kappa == pytest.approx(sm_fleiss(FLEISS_WIKIPEDIA))
    # Wikipedia's intermediate figures: P-bar = 0.378, P_e = 0.213
    assert (0.378 - 0.213) / (1 - 0.213) == pytest.approx(kappa, abs=1e-3)
    iv = A.fleiss_kappa_ci(FLEISS_WIKIPEDIA, n_resamples=500)
    assert iv.low < kappa < iv.high


def test_fleiss_from_a_label_matrix_with_a_missing_rating():
    labels = np.array([[0, 0, 0], [1, 1, NA], [0, 1, 1], [2, 2, 2]], dtype=float)
    counts = A.category_counts(labels)
    assert counts.tolist() == [[3, 0, 0], [0, 2, 0], [1, 2, 0], [0, 0, 3]]
    # by hand: P_i = 1, 1, 1/3, 1 -> P-bar = 5/6; p_j = (4, 4, 3) / 11
    p_e = (16 + 16 + 9) / 121
    assert A.fleiss_kappa(counts) == pytest.approx((5 / 6 - p_e) / (1 - p_e))


def test_cohens_kappa_textbook_example():
    # Wikipedia "Cohen's kappa": 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, kappa 0.4
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert A.cohens_kappa(a, b) == pytest.approx(0.4)
    iv = A.cohens_kappa_ci(a, b, n_resamples=500)
    assert iv.low < 0.4 < iv.high and iv.n == 50


def test_weighted_kappa_by_hand_and_sklearn():
    from sklearn.metrics import cohen_kappa_score

    # linear weights |i - j| / 2: observed disagreement 0.25, expected 0.4375 -> 1 - 4/7
    assert A.cohens_kappa([0, 1, 2, 2], [0, 2, 2, 1], "linear") == pytest.approx(3 / 7)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 11, 60)
    y = np.clip(x + rng.integers(-2, 3, 60), 0, 10)
    for w in (None, "linear", "quadratic"):
        assert A.cohens_kappa(x, y, w) == pytest.approx(cohen_kappa_score(x, y, weights=w))


def test_kappa_skips_missing_and_explains_undefined():
    assert A.cohens_kappa([1, 0, NA, 1], [1, 0, 1, NA]) == pytest.approx(1.0)
    iv = A.cohens_kappa_ci([2, 2, 2], [2, 2, 2])
    assert iv.estimate is None and "one category" in iv.note
    with pytest.raises(ValueError, match="equal length"):
        A.cohens_kappa([1, 2], [1])


def test_rating_matrix_later_rating_wins_and_bad_columns_named():
    records = [
        {"unit": "s1", "rater": "ann", "value": 3}, {"unit": "s1", "rater": "bob", "value": 4},
        {"unit": "s2", "rater": "ann", "value": 7}, {"unit": "s1", "rater": "ann", "value": 9},  # ann corrects s1
    ]
    m = A.rating_matrix(records)
    assert m.units == ("s1", "s2") and m.raters == ("ann", "bob")
    assert m.values[0].tolist() == [9, 4] and m.values[1, 0] == 7 and math.isnan(m.values[1, 1])
    with pytest.raises(ValueError, match="missing: value"):
        A.rating_matrix([{"unit": "s1", "rater": "ann"}])


def test_preference_codes():
    assert A.preference_codes(["A", "tie", "B", None]).tolist()[:3] == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="unknown preference"):
        A.preference_codes(["C"])


def test_weighted_spearman_equals_scipy_on_the_expanded_sample():
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 5, 30).astype(float), rng.integers(0, 5, 30).astype(float)
    w = rng.integers(0, 4, (5, 30)).astype(float)
    got = J.weighted_spearman(x, y, w)
    for row, rho in zip(w, got):
        ex = sps.spearmanr(np.repeat(x, row.astype(int)), np.repeat(y, row.astype(int)))[0]
        assert rho == pytest.approx(ex)


def _ratings(seed: int, n: int = 80, raters: int = 3, noise: int = 1):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 11, n).astype(float)
    humans = np.stack([np.clip(truth + rng.integers(-noise, noise + 1, n), 0, 10) for _ in range(raters)], axis=1)
    humans[rng.random(humans.shape) < 0.2] = NA
    return rng, truth, humans


def test_a_judge_that_rates_like_the_humans_stands_in():
    rng, truth, humans = _ratings(3)
    judge = np.clip(truth + rng.integers(-1, 2, truth.size), 0, 10)
    r = J.judge_vs_raters(judge, humans, n_resamples=500)
    assert r.stands_in and r.n_raters == 3 and r.weights == "quadratic"
    assert r.judge_kappa.low >= J.STAND_IN_KAPPA and r.difference.contains(0.0)
    rated = np.isfinite(humans).any(axis=1)
    expected = sps.spearmanr(judge[rated], np.nanmean(humans[rated], axis=1))[0]
    assert r.spearman.estimate == pytest.approx(expected) and r.n_units == rated.sum()
    assert "can stand in" in r.sentence and not any(ch.isdigit() for ch in r.sentence.replace("95%", "").replace("0.6", ""))


def test_a_random_judge_does_not_and_one_rater_is_said():
    rng, truth, humans = _ratings(4)
    r = J.judge_vs_raters(rng.integers(0, 11, truth.size).astype(float), humans, n_resamples=500)
    assert not r.stands_in and "cannot stand in" in r.sentence
    one = J.judge_vs_raters(truth, humans[:, :1], n_resamples=500)
    assert one.human_kappa is None and one.stands_in and "second rater" in one.sentence


def test_a_judge_worse_than_humans_who_agree_perfectly():
    rng, truth, humans = _ratings(5, n=200, noise=0)
    judge = np.clip(truth + rng.integers(-2, 3, truth.size), 0, 10)  # still kappa > 0.6, but below perfect humans
    r = J.judge_vs_raters(judge, humans, n_resamples=500)
    assert r.judge_kappa.low >= 0.6 and r.difference.high < 0 and not r.stands_in
    assert "less than they agree with each other" in r.sentence


def test_judge_agreement_on_preferences_and_too_little_data():
    judge = A.preference_codes(["A", "B", "tie", "A", "B", "A"] * 5)
    humans = np.stack([judge, judge], axis=1)
    r = J.judge_vs_raters(judge, humans, level="nominal", clusters=[i // 2 for i in range(30)], n_resamples=300)
    assert r.spearman is None and r.weights is None and r.judge_kappa.estimate == pytest.approx(1.0)
    assert r.judge_kappa.method == "cluster-bootstrap"
    none = J.judge_vs_raters([1.0, NA], np.array([[1.0], [NA]]))
    assert not none.stands_in and "cannot be said" in none.sentence
