"""core.stats.bradley_terry and core.stats.position_bias: closed forms, score equations,
interval coverage on simulated preferences, distinguishable pairs, position bias, bad input."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.stats import bradley_terry as BT

COLUMNS = ["prompt", "model_a", "model_b", "outcome"]


def _prefs(*groups: tuple[str, str, str, int]) -> pd.DataFrame:
    rows, k = [], 0
    for a, b, outcome, n in groups:
        for _ in range(n):
            rows.append((f"p{k}", a, b, outcome))
            k += 1
    return pd.DataFrame(rows, columns=COLUMNS)


def test_two_models_closed_form_p_equals_w_over_w_plus_l():
    r = BT.rank_by_preferences(_prefs(("x", "y", "A", 7), ("y", "x", "A", 3)), n_resamples=200)
    x, y = r.leaderboard
    assert (x.model, x.rank, x.wins, x.losses) == ("x", 1, 7.0, 3.0)
    p = 1 / (1 + math.exp(-(x.strength.estimate - y.strength.estimate)))
    assert p == pytest.approx(7 / 10, abs=1e-4)  # the weak ridge moves it by ~1e-5
    assert x.strength.estimate == pytest.approx(-y.strength.estimate)  # sum-to-zero
    assert r.tie_parameter is None and r.win_rates.loc["x", "y"] == pytest.approx(0.7)


def test_davidson_two_models_closed_form_with_ties():
    # the model is saturated for two players: probabilities equal the observed shares,
    # so theta_x - theta_y = log(w / l) and nu = t / sqrt(w l)
    r = BT.rank_by_preferences(_prefs(("x", "y", "A", 6), ("x", "y", "B", 2), ("x", "y", "tie", 4)), n_resamples=200)
    x, y = r.leaderboard
    assert x.strength.estimate - y.strength.estimate == pytest.approx(math.log(6 / 2), abs=1e-3)
    assert r.tie_parameter.estimate == pytest.approx(4 / math.sqrt(12), abs=1e-3)
    assert r.win_rates.loc["x", "y"] == pytest.approx((6 + 2) / 12)  # a tie counts half
    split = BT.rank_by_preferences(_prefs(("x", "y", "A", 6), ("x", "y", "B", 2), ("x", "y", "tie", 4)), ties="split", n_resamples=200)
    assert split.tie_parameter is None
    assert split.leaderboard[0].strength.estimate * 2 == pytest.approx(math.log(8 / 4), abs=1e-3)


def test_three_models_satisfy_the_score_equations():
    # at the maximum-likelihood estimate each model's expected wins equal its observed wins
    df = _prefs(("a", "b", "A", 5), ("a", "b", "B", 3), ("b", "c", "A", 4), ("b", "c", "B", 2), ("a", "c", "A", 6), ("a", "c", "B", 1))
    r = BT.rank_by_preferences(df, n_resamples=100)
    theta = {row.model: row.strength.estimate for row in r.leaderboard}
    n = {("a", "b"): 8, ("b", "c"): 6, ("a", "c"): 7}
    expected = dict.fromkeys(theta, 0.0)
    for (i, j), m in n.items():
        p = 1 / (1 + math.exp(theta[j] - theta[i]))
        expected[i] += m * p
        expected[j] += m * (1 - p)
    observed = {"a": 11, "b": 7, "c": 3}
    for model in theta:
        assert expected[model] == pytest.approx(observed[model], abs=1e-3)
    assert [row.model for row in r.leaderboard] == ["a", "b", "c"] and sum(theta.values()) == pytest.approx(0, abs=1e-9)


TRUE = np.array([0.8, 0.3, -0.2, -0.9])
NU = 0.5


def _simulate(rng: np.random.Generator, n_prompts: int = 40) -> pd.DataFrame:
    i, j = np.triu_indices(TRUE.size, 1)
    num = np.stack([np.exp(TRUE[i]), np.exp(TRUE[j]), NU * np.exp((TRUE[i] + TRUE[j]) / 2)], axis=1)
    cum = np.cumsum(num / num.sum(axis=1, keepdims=True), axis=1)
    outcome = (rng.random((n_prompts, i.size))[..., None] > cum[None]).sum(axis=-1)
    return pd.DataFrame({
        "prompt": np.repeat(np.arange(n_prompts), i.size),
        "model_a": [f"m{k}" for k in np.tile(i, n_prompts)],
        "model_b": [f"m{k}" for k in np.tile(j, n_prompts)],
        "outcome": np.array(["A", "B", "tie"])[outcome.ravel()],
    })


def test_intervals_cover_known_strengths_at_about_the_nominal_rate():
    truth = TRUE - TRUE.mean()
    covered, nu_covered = [], []
    for seed in range(200):
        r = BT.rank_by_preferences(_simulate(np.random.default_rng(1000 + seed)), n_resamples=250, seed=seed)
        covered += [row.strength.contains(truth[int(row.model[1:])]) for row in r.leaderboard]
        nu_covered.append(r.tie_parameter.contains(NU))
    assert 0.88 <= np.mean(covered) <= 0.99
    assert 0.85 <= np.mean(nu_covered) <= 0.99


def test_leaderboard_ranks_and_distinguishable_pairs():
    r = BT.rank_by_preferences(_simulate(np.random.default_rng(7), n_prompts=150), n_resamples=500)
    assert [row.model for row in r.leaderboard] == ["m0", "m1", "m2", "m3"]
    assert all(row.rank_low <= row.rank <= row.rank_high for row in r.leaderboard)
    far = next(p for p in r.pairs if (p.model_a, p.model_b) == ("m0", "m3"))
    assert far.distinguishable and far.difference.low > 0 and far.p_adjusted >= far.p_value
    assert r.correction == "holm" and len(r.pairs) == 6 and r.n_prompts == 150 and r.n_comparisons == 900
    assert r.comparisons.loc["m0", "m1"] == 150 and math.isnan(r.win_rates.loc["m0", "m0"])
    assert r.win_rates.loc["m0", "m3"] + r.win_rates.loc["m3", "m0"] == pytest.approx(1.0)


def test_a_model_that_wins_everything_is_finite_and_noted():
    r = BT.rank_by_preferences(_prefs(("x", "y", "A", 5), ("y", "z", "A", 3), ("z", "y", "A", 2)), n_resamples=100)
    assert r.leaderboard[0].model == "x" and math.isfinite(r.leaderboard[0].strength.estimate)
    assert "do not exist" in r.note
    apart = BT.rank_by_preferences(_prefs(("a", "b", "A", 2), ("a", "b", "B", 1), ("c", "d", "A", 2), ("c", "d", "B", 1)), n_resamples=50)
    assert "never compared" in apart.note


@pytest.mark.parametrize("bad, message", [
    ([("p", "x", "y", "C")], "unknown outcome"),
    ([("p", "x", "x", "A")], "compared with itself"),
    ([], "no preferences"),
])
def test_bad_preferences_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        BT.rank_by_preferences(pd.DataFrame(bad, columns=COLUMNS))


def test_missing_columns_named():
    with pytest.raises(ValueError, match="missing: outcome"):
        BT.rank_by_preferences([{"prompt": "p", "model_a": "x", "model_b": "y"}])


def test_resolve_both_orders_counts_order_dependent_verdicts_as_ties():
    calls = pd.DataFrame([
        ("p1", "x", "y", "A"), ("p1", "y", "x", "B"),  # x both times: consistent
        ("p2", "x", "y", "A"), ("p2", "y", "x", "A"),  # the first-shown answer both times: order-dependent
        ("p3", "x", "y", "tie"), ("p3", "y", "x", "A"),  # tie then y: order-dependent
        ("p4", "x", "y", "B"), ("p4", "y", "x", "B"), ("p4", "y", "x", "A"),  # later call wins: y both times
        ("p5", "x", "y", "A"),  # one order only
    ], columns=COLUMNS)
    pb = BT.resolve_both_orders(calls)
    assert (pb.n_pairs, pb.n_order_dependent, pb.n_incomplete, pb.favoured_first, pb.favoured_second) == (4, 2, 1, 1, 0)
    assert pb.share.estimate == pytest.approx(0.5) and pb.share.method == "wilson"
    got = {p: o for p, _a, _b, o in pb.preferences.itertuples(index=False)}
    assert got == {"p1": "A", "p2": "tie", "p3": "tie", "p4": "B"}
    ranked = BT.rank_by_preferences(pb.preferences, n_resamples=50)
    assert ranked.n_comparisons == 4
