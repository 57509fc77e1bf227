"""One policy for large runs: when a run counts as large, and what changes then.

The statistics themselves have one size rule (core.stats: above LARGE_N observations in a series,
bootstrap intervals use LARGE_N_RESAMPLES instead of DEFAULT_RESAMPLES; see METHODS). The product
adds one more, stated here once and read by the dashboard (and by core.analysis_cache, which keeps
the statistics of runs above the same size):

- the dashboard computes the per-category breakdown of a run above `dashboard_samples` samples
  only on request (one more pass over every sample, by model and category), and the Overview's
  latency bars come without whiskers there (the Results page shows the intervals).

Intervals and tests themselves are computed at every size: from 5,000 prompts they come from
core.stats.large_sample (seconds at a million samples), with the statistics' default resamples.
Reports use those defaults at every size too (a count only when the user sets one), so a report's
intervals are the dashboard's.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LargeRunPolicy:
    dashboard_samples: int = 60_000

    def dashboard_heavy(self, n_samples: int) -> bool:
        """Whether a run of n_samples counts as large for the dashboard (see the module text)."""
        return n_samples > self.dashboard_samples


POLICY = LargeRunPolicy()
