"""Several groups' multiplier-bootstrap quantiles resampled together, in one draw.

core.stats.large_sample resamples a quantile by Woodruff's method: the share of values at or
below the sample quantile is linearised into one column per prompt, and the resampled column
totals are w @ Z for Gaussian weights w (B x k). Drawing and streaming that weight matrix
(1000 x 33,334 float32: 133 MB) costs far more than the arithmetic, so the columns of every
model compared on the same prompts are stacked and their totals drawn at once: either w @ Z
with the caller's weights, or (large_sample.group_draws) from their exact joint distribution
N(0, Z'Z), c numbers per resample instead of k. Either way every group is resampled with the
same (implicit) weights, as a paired comparison needs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.stats.large_sample import _quantile_at, linearised_share, multiplier_totals


def multiplier_quantiles(groups: Sequence[tuple[np.ndarray, np.ndarray]], k: int, q: float,
                         draw: np.ndarray | Callable[[np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """For each group (x, codes 0..k-1): the B resampled q quantiles of x. draw: the weights
    w (B, k), or a function from the stacked per-prompt columns (k, c) to their B resampled
    totals (B, c), e.g. lambda z: large_sample.group_draws(z, seed, B)."""
    if not groups:
        return []
    cols, sorted_x = [], []
    for x, codes in groups:
        x = np.asarray(x, dtype=float)
        xs = np.sort(x)
        cols.append(linearised_share(x, xs, codes, k, q))
        sorted_x.append(xs)
    z = np.column_stack(cols)
    drawn = draw(z) if callable(draw) else multiplier_totals(z, draw)  # (B, groups)
    return [_quantile_at(xs, q + drawn[:, j] / xs.size) for j, xs in enumerate(sorted_x)]
