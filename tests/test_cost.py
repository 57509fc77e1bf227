"""core.analysis.costs: arithmetic by hand, offline price lookup, overrides, projections."""
from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import numpy as np
import pytest

from core.analysis import costs as C
from core.config import PRICING_FILE

PRICES = C.PricingOverrides(
    cloud={"acme-1": C.CloudPrice("acme-1", 1.0, 3.0, None, "pricing.yaml", "test")},
)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --------------------------------------------------------------------------- per request, by hand


def _local(latency_ms, s, watts=None):
    """(mean energy cost, mean hardware share, total) per request of these latencies: the public formula
    with the assumed (or given) watts, the machines from the mean request time."""
    sec = np.asarray(latency_ms, dtype=float) / 1000
    w = C.assumed_power(s).watts if watts is None else watts
    energy, share = C.local_cost_per_request(sec, w, s, mean_seconds=float(sec.mean()))
    return float(energy.mean()), float(share.mean()), float(energy.mean() + share.mean())


def _cloud(input_tokens, output_tokens, cloud_model, overrides=PRICES):
    return float(C.cloud_cost_per_request(input_tokens, output_tokens, C.cloud_price(cloud_model, overrides)).mean())


def _project(latency_ms, input_tokens, output_tokens, cloud_model, s, *, volume=None, overrides=PRICES):
    """The projection's point estimates (C.projection_quantities on the means), as floats."""
    means = C.Means(*(np.array([float(np.mean(x))]) for x in (np.asarray(latency_ms, float) / 1000, input_tokens, output_tokens)))
    q = C.projection_quantities(means, C.assumed_power(s).watts, C.cloud_price(cloud_model, overrides), s,
                                s.volume_per_month if volume is None else volume)
    return {k: float(v[0]) for k, v in q.items()}


def test_local_cost_by_hand():
    # 36 s at 100 W = 0.001 kWh x 0.20 USD = 0.0002 USD energy.
    # 8766 USD over 1 year (8766 h) at 50% utilisation = 2 USD per busy hour -> 36 s = 0.02 USD.
    s = C.CostSettings(electricity_price_per_kwh=0.20, hardware_price_usd=8766, lifetime_years=1, utilisation=0.5, power_watts=100,
                       cost_model="shared")
    assert float(C.energy_kwh(100, 36.0)) == pytest.approx(0.001)
    energy, share, total = _local([36_000.0, 36_000.0], s)
    assert energy == pytest.approx(0.0002)
    assert share == pytest.approx(0.02)
    assert total == pytest.approx(0.0202)
    assert C.assumed_power(s).watts == 100 and C.assumed_power(s).name == "override"


def test_dedicated_cost_by_hand():
    # dedicated: the whole write-off, 8766 USD / 12 months = 730.5 USD/month, over 1,000 requests = 0.7305 USD each,
    # whatever the request's duration or the utilisation; energy as in the shared model.
    s = C.CostSettings(electricity_price_per_kwh=0.20, hardware_price_usd=8766, lifetime_years=1, utilisation=0.5, power_watts=100,
                       volume_per_month=1000)
    assert s.cost_model == "dedicated" and "dedicated machine" in s.cost_model_sentence
    _, share, total = _local([36_000.0, 36_000.0], s)
    assert share == pytest.approx(0.7305)
    assert total == pytest.approx(0.7305 + 0.0002)
    assert _local([36_000.0], dataclasses.replace(s, utilisation=0.1))[2] == pytest.approx(total)
    with pytest.raises(ValueError, match="cost_model"):
        C.CostSettings(cost_model="cheap")


@pytest.mark.parametrize("cost_model", ["dedicated", "shared"])
@pytest.mark.parametrize("volume", [1_000, 100_000, 5_000_000])
def test_per_request_times_volume_is_the_monthly_cost(cost_model, volume):
    """One cost model for every figure: the per-request cost (KPI cards, per 1,000 requests)
    times the volume is the monthly projection, under both models (5M/month needs 2 machines)."""
    lat, i, o = np.full(40, 1000.0), np.full(40, 500.0), np.full(40, 200.0)
    s = C.CostSettings(hardware_price_usd=3600, power_watts=100, volume_per_month=volume, cost_model=cost_model)
    per_request = _local(lat, s)[2]
    p = _project(lat, i, o, "acme-1", s)
    assert per_request * volume == pytest.approx(p["local"])
    assert p["machines"] == (2 if volume == 5_000_000 else 1)
    cloud = _cloud(i, o, "acme-1")
    assert p["savings"] == pytest.approx((cloud - per_request) / cloud * 100)


def test_shared_model_breaks_even_from_the_first_request_or_never():
    s = C.CostSettings(hardware_price_usd=3600, power_watts=100, cost_model="shared")
    cheap = _break_even(_project(*_constant_inputs(), "acme-1", s))
    assert cheap.estimate == 0 and "first request" in C.break_even_text(cheap)
    dear = _break_even(_project(*_constant_inputs(), "acme-1", dataclasses.replace(s, hardware_price_usd=1e9)))
    assert dear.estimate is None


def _break_even(p, boot=None):
    """The break-even as the cost report writes it (an Interval with its note) from point estimates."""
    est = p["break_even"]
    return C.projection_interval(est, np.full(10, est) if boot is None else boot, 0.95, 50, 10, 0, "break-even")


def test_free_hardware_breaks_even_immediately_not_at_0_requests():
    s = C.CostSettings(hardware_price_usd=0, power_watts=100)
    be = _break_even(_project(*_constant_inputs(), "acme-1", s))
    assert be.estimate == 0 and "no fixed hardware cost" in be.note
    text = C.break_even_text(be)
    assert "first request" in text and "0 requests" not in text
    assert C.break_even_text(be, short=True) == "from the first request"


def test_break_even_text_rounds_like_the_caption_and_is_empty_when_none():
    iv = C.Interval(15_099_614.6, None, None, "percentile-bootstrap", 0.95, 10)
    assert C.break_even_text(iv) == "15,099,615 requests/month" and C.break_even_text(iv, short=True) == "15,099,615"
    none = C.Interval(None, None, None, "percentile-bootstrap", 0.95, 10, note=C.NO_BREAK_EVEN)
    assert C.break_even_text(none, short=True) == "" and C.break_even_text(none) == C.NO_BREAK_EVEN


@pytest.mark.parametrize(("est", "low", "high", "words"), [
    (-14_776.0, -18_000.0, -12_000.0, "local costs 149x more (95% CI 121x to 181x)"),
    (-35.0, -40.0, -30.0, "local costs 35% more (95% CI 30% to 40%)"),
    (42.0, 30.0, 50.0, "saves 42% (95% CI 30% to 50%)"),
])
def test_negative_savings_are_written_as_how_much_more_local_costs(est, low, high, words):
    iv = C.Interval(est, low, high, "percentile-bootstrap", 0.95, 10)
    assert C.savings_text(iv) == words
    assert C.savings_text(iv, ci=False) == words.split(" (")[0]
    assert "-" not in C.savings_text(iv)


def test_quality_warning_below_the_threshold_only():
    assert C.quality_warning("tiny", 0.30, 40).startswith("Quality is not free: tiny passed 30% of 40")
    assert C.quality_warning("big", C.QUALITY_WARN_PASS_RATE, 40) is None
    assert C.quality_warning("unscored", None, 0) is None


def test_measured_power_wins_and_is_labelled():
    from core.analysis import cost_context

    ctx = cost_context(C.CostSettings(cloud_models=()), ["m", "other"], measured_watts={"m": 36.0})
    assert ctx.power["m"][:2] == (36.0, "measured") and ctx.power["other"][1] == "assumed"
    assert float(C.energy_kwh(36.0, 1.0)) == pytest.approx(36 * 1 / 3.6e6)


def test_cloud_cost_by_hand_with_override():
    # 1000 input x 1 USD/M + 500 output x 3 USD/M = 0.001 + 0.0015
    assert _cloud([1000], [500], "acme-1") == pytest.approx(0.0025)
    assert C.cloud_price("acme-1", PRICES).source == "pricing.yaml"
    assert "approximate" in C.TOKENIZER_NOTE


def test_no_successful_requests_is_explained(tmp_path):
    from bench.analysis import synthetic_run
    from core.analysis import cost_report
    from core.store import Store

    store = Store(tmp_path / "empty.duckdb")
    run_id = synthetic_run(store, run_id="empty", n_models=2, n_items=10, repeats=1, all_errors=("model-01",))
    rep = cost_report(store, run_id, C.CostSettings(cloud_models=("gpt-4o-mini",)))
    local = {x.model: x for x in rep.local}
    assert local["model-01"].note == "no successful requests" and local["model-01"].cost_per_request.estimate is None
    cloud = {x.model: x for x in rep.cloud}
    assert cloud["model-01"].cost_per_request.estimate is None and local["model-00"].note == ""


# --------------------------------------------------------------------------- prices


def test_genai_prices_lookup_is_offline(no_network):
    p = C.cloud_price("gpt-4o-mini")
    assert p.source == "genai-prices" and p.provider == "openai"
    assert (p.input_per_mtok, p.output_per_mtok) == pytest.approx((0.15, 0.60))
    assert p.snapshot.startswith("genai-prices 0.2.3") and p.price_date
    for model in C.CostSettings().cloud_models:
        assert C.cloud_price(model).input_per_mtok > 0


def test_unknown_cloud_model_says_how_to_fix(no_network):
    with pytest.raises(LookupError, match="pricing.yaml"):
        C.cloud_price("no-such-model-xyz")


def test_shipped_pricing_file_loads_and_is_empty():
    o = C.load_pricing(PRICING_FILE)
    assert o.path == str(PRICING_FILE) and dict(o.cloud) == {} and dict(o.power_profiles) == {}
    assert C.load_pricing(Path("/nonexistent/pricing.yaml")) == C.PricingOverrides()


def test_pricing_yaml_overrides_win(tmp_path, no_network):
    f = tmp_path / "pricing.yaml"
    f.write_text(
        "cloud_prices:\n  gpt-4o-mini:\n    input_per_mtok: 0.1\n    output_per_mtok: 0.2\n"
        "power_profiles:\n  my-box: 123\n  generic-cpu: 80\n"
    )
    o = C.load_pricing(f)
    p = C.cloud_price("gpt-4o-mini", o)
    assert (p.input_per_mtok, p.output_per_mtok, p.source) == (0.1, 0.2, "pricing.yaml")
    assert C.assumed_power(C.CostSettings(power_profile="my-box"), o).watts == 123
    assert C.assumed_power(C.CostSettings(), o).watts == 80  # replaces the shipped 65 W
    assert C.assumed_power(C.CostSettings(power_watts=10), o).watts == 10  # explicit watts win


@pytest.mark.parametrize(
    "text,match",
    [
        ("cloud_prices:\n  x:\n    input_per_mtok: -1\n    output_per_mtok: 1\n", "non-negative"),
        ("cloud_prices:\n  x:\n    input_per_mtok: 1\n", "exactly input_per_mtok and output_per_mtok"),
        ("power_profiles:\n  x: fast\n", "non-negative number"),
        ("prices: {}\n", "unknown keys"),
    ],
)
def test_pricing_yaml_errors_name_the_problem(tmp_path, text, match):
    f = tmp_path / "pricing.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        C.load_pricing(f)


def test_power_profiles_and_settings():
    for name in ("apple-m1", "apple-m4-max", "nvidia-a100", "nvidia-h100", "nvidia-rtx-4090", "nvidia-rtx-3090",
                 "nvidia-t4", "nvidia-l4", "generic-cpu", "generic-laptop"):
        assert C.POWER_PROFILES[name].watts > 0
    assert C.assumed_power(C.CostSettings()).watts == 65
    with pytest.raises(ValueError, match="unknown power profile"):
        C.assumed_power(C.CostSettings(power_profile="toaster"))
    with pytest.raises(ValueError, match="utilisation"):
        C.CostSettings(utilisation=0)
    with pytest.raises(ValueError, match="USD"):
        C.CostSettings(currency="EUR")
    units = C.settings_help()
    assert units["electricity_price_per_kwh"][0] == "USD/kWh" and units["volume_per_month"][0] == "requests/month"


# --------------------------------------------------------------------------- projections


def _constant_inputs(n=50):
    return np.full(n, 1000.0), np.full(n, 1000.0), np.full(n, 1000.0)


def test_projection_by_hand():
    # 1 s per request at 100 W, 0.15 USD/kWh -> energy 100/3.6e6 x 0.15 = 4.1667e-6 USD/request.
    # Hardware 3600 USD over 3 years -> 100 USD/month. Cloud: 1000 x 1/M + 1000 x 3/M = 0.004 USD.
    s = C.CostSettings(hardware_price_usd=3600, power_watts=100, volume_per_month=100_000)
    p = _project(*_constant_inputs(), "acme-1", s)
    energy = 100 / 3.6e6 * 0.15
    assert p["cloud"] == pytest.approx(400.0)
    assert p["local"] == pytest.approx(100 + 100_000 * energy)
    assert p["savings"] == pytest.approx((400 - 100 - 100_000 * energy) / 400 * 100)
    assert p["break_even"] == pytest.approx(100 / (0.004 - energy))
    assert p["capacity"] == pytest.approx(365.25 * 24 / 12 * 3600)
    assert p["machines"] == 1
    # no spread in the inputs -> intervals collapse onto the estimates
    iv = C.projection_interval(p["cloud"], np.full(200, p["cloud"]), 0.95, 50, 200, 0, "")
    assert iv.low == pytest.approx(400.0) and iv.high == pytest.approx(400.0)


def test_no_break_even_when_cloud_is_cheaper():
    cheap = C.PricingOverrides(cloud={"free": C.CloudPrice("free", 0.0, 0.0, None, "pricing.yaml", "t")})
    p = _project(*_constant_inputs(), "free", C.CostSettings(), overrides=cheap)
    be = _break_even(p)
    assert be.estimate is None and "never" in be.note
    savings = C.projection_interval(p["savings"], np.full(10, p["savings"]), 0.95, 50, 10, 0, "")
    assert savings.estimate is None  # no cloud cost to save against


def test_break_even_beyond_one_machine_is_none():
    # 0.004 USD per cloud request; hardware 1e9 USD -> break-even volume far above capacity
    s = C.CostSettings(hardware_price_usd=1e9, power_watts=100)
    assert _break_even(_project(*_constant_inputs(), "acme-1", s)).estimate is None


def test_large_volume_needs_more_machines():
    s = C.CostSettings(hardware_price_usd=3600, power_watts=100)
    cap = 365.25 * 24 / 12 * 3600
    p = _project(*_constant_inputs(), "acme-1", s, volume=int(2.5 * cap))
    assert p["machines"] == 3 and p["local"] == pytest.approx(3 * s.hardware_per_month + int(2.5 * cap) * 100 / 3.6e6 * 0.15)


def test_projection_intervals_are_seeded_and_contain_estimates():
    rng = np.random.default_rng(0)
    lat, i, o = rng.lognormal(6, 0.4, 400), rng.integers(50, 500, 400), rng.integers(10, 200, 400)
    s, price = C.CostSettings(), C.cloud_price("gpt-4o-mini")
    watts = C.assumed_power(s).watts
    cols = [lat / 1000, i.astype(float), o.astype(float)]

    def intervals(seed):
        idx = np.random.default_rng(seed).integers(0, lat.size, (500, lat.size))
        point = C.projection_quantities(C.Means(*(np.array([c.mean()]) for c in cols)), watts, price, s, s.volume_per_month)
        boot = C.projection_quantities(C.Means(*(c[idx].mean(axis=1) for c in cols)), watts, price, s, s.volume_per_month)
        return [C.projection_interval(float(point[k][0]), boot[k], 0.95, lat.size, 500, seed, "break-even" if k == "break_even" else "")
                for k in ("local", "cloud", "savings", "break_even")]

    a, b = intervals(3), intervals(3)
    assert a == b
    for iv in a:
        assert iv.is_defined and iv.low <= iv.estimate <= iv.high and iv.low < iv.high
        assert iv.n_resamples == 500 and iv.seed == 3 and iv.method == "percentile-bootstrap"
    assert price.snapshot.startswith("genai-prices")


def test_methods_text_states_formulas():
    for phrase in ("3.6e6", "lifetime hours x utilisation", "break-even", "tokenizer", "bootstrap"):
        assert phrase in C.COST_METHODS


# --------------------------------------------------------------------------- break-even chart (core.charts)


def test_break_even_chart_axis_reaches_past_the_break_even():
    """The volume axis used to stop at 10x the volume (1M) while the break-even was 15M/month."""
    from core import charts

    fixed, energy, cloud = 55.56, 1e-6, 4.68e-6
    be = fixed / (cloud - energy)  # ~15.1M requests/month
    chart = charts.break_even_chart("m", fixed, energy, 26e6, {"gpt-4o-mini": cloud}, 100_000, None)
    local, cloud_line = chart.lines
    assert max(local.x) >= be and max(cloud_line.x) >= be
    crossed = [x for x, yl, yc in zip(local.x, local.y, cloud_line.y) if yc >= yl]
    assert crossed and min(crossed) == pytest.approx(be, rel=0.05)  # the crossing is on the chart


def test_cost_axes_are_written_in_dollars_not_si_prefixes():
    from core import charts

    from core.textfmt import usd_tick

    assert usd_tick(5e-6) == "$0.000005" and usd_tick(0.0123) == "$0.0123"
    assert usd_tick(1234.0) == "$1,234" and usd_tick(2.5) == "$2.50" and usd_tick(0.0) == "$0"
    chart = charts.break_even_chart("m", 55.0, 1e-6, None, {"c": 5e-6}, 1000, None)
    y = chart.figure().layout.yaxis
    assert (y.tickprefix, y.exponentformat) == ("$", "none")
    assert chart.png().startswith(b"\x89PNG")
    bars = charts.BarChart("cost_per_1k", "t", "x", "USD per 1,000 requests", ("m",), (charts.BarSeries("local", (5e-6,)),),
                           log_y=True, y_money=True)
    assert bars.figure().layout.yaxis.exponentformat == "none" and bars.png().startswith(b"\x89PNG")


def test_the_savings_card_is_short_and_agrees_with_the_sentence():
    from core.stats import Interval

    for pct, card in ((42.0, "42% less"), (-35.0, "35% more"), (-14_800.0, "149x more")):
        iv = Interval(pct, pct - 1, pct + 1, "percentile-bootstrap")
        assert C.savings_short(iv) == card
        assert card.split()[0] in C.savings_text(iv, ci=False)
    assert C.savings_short(Interval(None, None, None, "percentile-bootstrap")) == "n/a"
