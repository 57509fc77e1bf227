"""core.stats.cluster_bootstrap: the point estimates beside its intervals."""
from __future__ import annotations

import numpy as np
import pytest

from core.stats import cluster_bootstrap as CB


@pytest.mark.parametrize("seed", range(6))
def test_point_quantiles_from_one_sorted_copy_are_numpy_percentile(seed: int) -> None:
    """All quantiles from x sorted once must be the numbers np.percentile(x, q * 100) gives one
    q at a time (the same order statistics, the same interpolation): ties, integers, one value."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4_000))
    x = [rng.lognormal(size=n), rng.integers(0, 9, n).astype(float), rng.normal(size=n) * 1e6][seed % 3]
    qs = [None, 0.5, 0.9, 0.95, 0.99, 0.0, 1.0, 1 / 3]
    got = CB._point_estimates(x, np.sort(x), qs)
    want = [float(x.mean()) if q is None else float(np.percentile(x, q * 100)) for q in qs]
    assert got == want


def test_the_mean_alone_needs_no_sorted_copy() -> None:
    assert CB._point_estimates(np.array([1.0, 2.0, 4.0]), None, [None]) == [7 / 3]
