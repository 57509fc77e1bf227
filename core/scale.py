"""One policy for large runs: when a run counts as large, and what changes then.

The statistics themselves have one size rule (core.stats: above LARGE_N observations in a series,
bootstrap intervals use LARGE_N_RESAMPLES instead of DEFAULT_RESAMPLES; see METHODS). The product
adds two more, stated here once and read by the reports and the dashboard:

- a report of more than `report_samples` samples resamples `report_resamples` times unless the
  user sets a count (the report says so next to its intervals);
- the dashboard computes the per-category breakdown of a run above `dashboard_samples` samples
  only on request (one more pass over every sample, by model and category), and the Overview's
  latency bars come without whiskers there (the Results page shows the intervals).

Intervals and tests themselves are computed at every size: from 5,000 prompts they come from
core.stats.large_sample (seconds at a million samples), with the statistics' default resamples.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LargeRunPolicy:
    report_samples: int = 5_000
    report_resamples: int = 500
    dashboard_samples: int = 60_000

    def report_resamples_for(self, n_samples: int, chosen: int | None = None) -> int | None:
        """A report's resample count: the user's, else report_resamples above report_samples,
        else None (the statistics' own defaults)."""
        return chosen or (self.report_resamples if n_samples > self.report_samples else None)

    def dashboard_heavy(self, n_samples: int) -> bool:
        """Whether a run of n_samples counts as large for the dashboard (see the module text)."""
        return n_samples > self.dashboard_samples


POLICY = LargeRunPolicy()
