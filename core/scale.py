"""One policy for large runs: when a run counts as large, and what changes then.

The statistics themselves have one size rule (core.stats: above LARGE_N observations in a series,
bootstrap intervals use LARGE_N_RESAMPLES instead of DEFAULT_RESAMPLES; see METHODS). The product
adds two more, stated here once and read by the reports and the dashboard:

- a report of more than `report_samples` samples resamples `report_resamples` times unless the
  user sets a count (the report says so next to its intervals);
- the dashboard computes bootstrap intervals and pairwise tests of a run above
  `dashboard_samples` samples only on request (seconds to minutes otherwise), and its cost
  intervals there use `dashboard_cost_resamples` resamples (shown with every interval).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LargeRunPolicy:
    report_samples: int = 5_000
    report_resamples: int = 500
    dashboard_samples: int = 60_000
    dashboard_cost_resamples: int = 200

    def report_resamples_for(self, n_samples: int, chosen: int | None = None) -> int | None:
        """A report's resample count: the user's, else report_resamples above report_samples,
        else None (the statistics' own defaults)."""
        return chosen or (self.report_resamples if n_samples > self.report_samples else None)

    def dashboard_heavy(self, n_samples: int) -> bool:
        """Whether the dashboard makes intervals and tests opt-in for a run of n_samples."""
        return n_samples > self.dashboard_samples


POLICY = LargeRunPolicy()
