"""core.scale: one large-run policy, read by the reports and the dashboard."""
from __future__ import annotations

from core.reports.model import ReportOptions
from core.scale import POLICY, LargeRunPolicy


def test_reports_follow_the_policy():
    o = ReportOptions()
    assert o.bootstrap_resamples(POLICY.report_samples) is None  # at the threshold: the statistics' defaults
    assert o.bootstrap_resamples(POLICY.report_samples + 1) == POLICY.report_resamples
    assert ReportOptions(n_resamples=123).bootstrap_resamples(10**7) == 123  # the user's count wins


def test_the_dashboard_threshold_is_the_policys():
    from ui import state

    assert state.HEAVY_SAMPLES == POLICY.dashboard_samples
    small = LargeRunPolicy(dashboard_samples=10)
    assert small.dashboard_heavy(11) and not small.dashboard_heavy(10)
