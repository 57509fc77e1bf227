"""core.stats.multiplier_batch: several models' Woodruff medians from one draw."""
from __future__ import annotations

import numpy as np

from core.stats import large_sample
from core.stats.multiplier_batch import multiplier_quantiles


def _groups(k: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(k), 3)
    return [(rng.gamma(2.0, s, codes.size), codes) for s in (50.0, 60.0, 55.0)]


def test_with_the_weights_each_group_equals_its_own_multiplier_draw():
    k, B = 2_000, 400
    w = large_sample.weights(3, k, B)
    batched = multiplier_quantiles(_groups(k), k, 0.5, w)
    for (x, codes), got in zip(_groups(k), batched):
        alone = large_sample.multiplier_stats(x, codes, k, [0.5], w)[0]
        np.testing.assert_allclose(got, alone, rtol=1e-5)  # float32 products summed in another order


def test_the_exact_joint_draw_matches_the_weights_in_distribution_and_keeps_pairs_paired():
    k, B = 2_000, 2_000
    groups = _groups(k)
    w = multiplier_quantiles(groups, k, 0.5, large_sample.weights(5, k, B))
    g = multiplier_quantiles(groups, k, 0.5, lambda z: large_sample.group_draws(z, 5, B))
    for a, b in zip(w, g):
        assert abs(a.std() / b.std() - 1) < 0.1 and abs(a.mean() - b.mean()) < 0.1 * a.std()
    corr_w = np.corrcoef(w[0], w[1])[0, 1]
    corr_g = np.corrcoef(g[0], g[1])[0, 1]
    assert abs(corr_w - corr_g) < 0.1  # drawn together: the same dependence between models


def test_no_groups_no_draw():
    assert multiplier_quantiles([], 10, 0.5, lambda z: 1 / 0) == []
