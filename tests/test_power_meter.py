"""core.power_meter: energy from a RAPL counter file (wraparound included); no source, no reading."""
from __future__ import annotations

import pytest

from core.power_meter import PowerMeter


def test_rapl_meter_reads_energy_and_handles_wraparound(tmp_path):
    energy = tmp_path / "energy_uj"
    (tmp_path / "max_energy_range_uj").write_text("10000000\n")
    energy.write_text("1000000\n")
    m = PowerMeter(rapl_path=energy)
    assert m.source == "rapl" and m.available
    m.start()
    energy.write_text("3500000\n")
    assert m.stop() == pytest.approx(2.5)
    energy.write_text("9000000\n")
    m.start()
    energy.write_text("1000000\n")  # wrapped: 1 J to the top + 1 J after
    assert m.stop() == pytest.approx(2.0)


def test_meter_without_a_source_returns_none(tmp_path):
    m = PowerMeter(rapl_path=tmp_path / "missing")
    if m.source is None:  # no NVML on this machine
        m.start()
        assert m.stop() is None and not m.available
