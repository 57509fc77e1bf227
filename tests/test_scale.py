"""core.scale: one large-run policy, read by the reports and the dashboard."""
from __future__ import annotations

from core.reports.model import ReportOptions
from core.scale import POLICY, LargeRunPolicy


def test_reports_use_the_dashboards_resamples_at_every_size():
    """A report's intervals must be the dashboard's: the statistics' defaults at every size (reports used
    500 resamples above 5,000 samples, so their intervals differed from the dashboard's in the 3rd digit)."""
    o = ReportOptions()
    assert o.bootstrap_resamples(10) is None and o.bootstrap_resamples(10**7) is None
    assert ReportOptions(n_resamples=123).bootstrap_resamples(10**7) == 123  # the user's count wins


def test_the_dashboard_threshold_is_the_policys():
    from ui import state

    assert state.HEAVY_SAMPLES == POLICY.dashboard_samples
    small = LargeRunPolicy(dashboard_samples=10)
    assert small.dashboard_heavy(11) and not small.dashboard_heavy(10)
