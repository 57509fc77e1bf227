"""core.verdicts: what a comparison found, written as one sentence, and the factor every view writes."""
from __future__ import annotations

import numpy as np
import pytest

from core import compare, verdicts
from core.compare import compare_arrays
from core.verdicts import factor_text, verdict


def test_core_compare_re_exports_the_same_objects():
    for name in ("Comparison", "verdict", "factor_text", "TEST_LABELS", "RATIO_STATISTIC"):
        assert getattr(compare, name) is getattr(verdicts, name)


@pytest.mark.parametrize(("f", "text"), [(4.93, "4.9x"), (1.234, "1.23x"), (0.2041, "0.204x"), (None, "n/a"), (float("inf"), "n/a")])
def test_factor_text(f, text):
    assert factor_text(f) == text


@pytest.mark.parametrize(("f", "like", "text"), [(1.4996, 1.5004, "1.5x"), (1.5012, 1.4996, "1.50x"), (1.004, 0.99, "1.00x"),
                                                (0.97, 0.99, "0.97x")])
def test_an_intervals_ends_take_the_estimates_precision(f, like, text):
    """A verdict read '1.5x slower (95% CI 1.50x-1.5x)': the precision changed at 1.5 between the ends."""
    assert factor_text(f, like) == text


def test_a_clear_latency_difference_is_claimed_with_its_ratio_and_a_tie_is_not():
    rng = np.random.default_rng(1)
    fast = rng.lognormal(5, 0.1, 60)
    c = compare_arrays(fast * 2, fast, paired=True, metric="latency_ms", model_a="slow", model_b="fast", n_resamples=400)
    assert c.direction == "a_higher" and c.better() == "fast"
    v = verdict(c)
    assert v.startswith(f"slow is {factor_text(c.ratio.estimate).removesuffix('x')}x slower than fast (ratio of medians; 95% CI"), v
    same = compare_arrays(fast, fast * rng.normal(1, 0.001, 60), paired=True, metric="quality", model_a="a", model_b="b",
                          n_resamples=400)
    assert "no significant difference in quality" in verdict(same) or "no meaningful difference in quality" in verdict(same)
