"""core.stats.joint_bootstrap: several means from one resample of prompts."""
from __future__ import annotations

import numpy as np
import pytest

from core.stats import bootstrap_means


@pytest.mark.parametrize("k", [300, 6_000])  # the count bootstrap; the multiplier bootstrap
def test_a_column_passed_twice_is_summed_once_with_the_same_resamples(k: int) -> None:
    """kpi_intervals passes one array under two names when two KPIs read the same values
    (output tokens for throughput and for cost): the resamples must be those of two copies."""
    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(k), 2)
    x = rng.lognormal(size=2 * k)
    x[rng.random(2 * k) < 0.05] = np.nan
    y = rng.normal(size=2 * k)
    shared = bootstrap_means({"x": x, "y": y, "x_again": x}, clusters, n_resamples=200, seed=3)
    copied = bootstrap_means({"x": x, "y": y, "x_again": x.copy()}, clusters, n_resamples=200, seed=3)
    assert shared.large == (k >= 5_000)
    for name in ("x", "y", "x_again"):
        assert shared.mean(name)[0] == copied.mean(name)[0]
        assert np.array_equal(shared.mean(name)[1], copied.mean(name)[1], equal_nan=True)
        assert np.array_equal(shared.count(name)[1], copied.count(name)[1])
