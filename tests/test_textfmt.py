"""Issue 12: one formatter. core.textfmt decides how every number is written (dashboard, CLI
text, reports); ui.format re-exports it; one missing-value mark, the em dash."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import textfmt as T
from core.textfmt import (
    DASH,
    count,
    count_of,
    duration,
    fmt_interval,
    fmt_p,
    fmt_value,
    gb,
    mb,
    ms,
    params,
    pct,
    percent,
    quality,
    tps,
    usd,
)


def test_the_one_dash_is_the_em_dash():
    assert DASH == "—"


@pytest.mark.parametrize("v, text", [(0.4231, "0.42 ms"), (8.34, "8.3 ms"), (412.3, "412 ms"), (12_345.6, "12,346 ms"),
                                     (-3.25, "-3.2 ms")])
def test_ms(v, text):
    assert ms(v) == text


@pytest.mark.parametrize("v, text", [(12.34, "12.3 tokens/s"), (999.94, "999.9 tokens/s"), (1234.5, "1,234 tokens/s")])
def test_tps(v, text):
    assert tps(v) == text


@pytest.mark.parametrize("v, text", [(8.54, "8.5 MB"), (512.4, "512 MB"), (1536.0, "1.50 GB"), (2048.0, "2.00 GB")])
def test_mb(v, text):
    assert mb(v) == text


def test_gb():
    assert gb(1.5) == "1.50 GB" and gb(1234.5) == "1,234.50 GB"


@pytest.mark.parametrize("v, text", [(1234.5, "$1,234"), (12.345, "$12.35"), (1.0, "$1.00"), (0.5, "$0.500"),
                                     (0.0123, "$0.0123"), (5e-6, "$0.00000500"), (0.0, "$0"), (-1.5, "-$1.50"),
                                     (-0.0123, "-$0.0123")])
def test_usd(v, text):
    assert usd(v) == text


def test_pct_percent_count_quality_params():
    assert pct(0.1234) == "12.3%" and pct(0.1234, digits=0) == "12%" and pct(1.0) == "100.0%"
    assert percent(12.34) == "12.3%" and percent(-1234.5) == "-1,234.5%"
    assert count(1200) == "1,200" and count(2.0) == "2" and count(np.int64(1_000_000)) == "1,000,000"
    assert quality(7.254) == "7.25 / 10"
    assert params(418_000) == "418.0K" and params(7.9e6) == "7.9M" and params(1.2e9) == "1.2B" and params(999) == "999"


def test_count_of_plural():
    assert count_of(1, "model") == "1 model" and count_of(3, "model") == "3 models" and count_of(1200, "sample") == "1,200 samples"


@pytest.mark.parametrize("s, text", [(0.4, "0 s"), (45.2, "45 s"), (185, "3 min 05 s"), (7620, "2 h 07 min"), (-3, "0 s")])
def test_duration(s, text):
    assert duration(s) == text


MISSING = [None, float("nan"), np.nan, np.float32("nan"), float("inf"), -float("inf"), pd.NA, pd.NaT]
UNIT_FUNCTIONS = [ms, tps, mb, gb, usd, pct, percent, count, quality, duration, params, T.number, T.seconds, T.watts,
                  T.watt_hours, T.tokens, T.req_per_s]


@pytest.mark.parametrize("f", UNIT_FUNCTIONS, ids=lambda f: f.__name__)
def test_every_unit_function_writes_the_one_dash_for_a_missing_value(f):
    assert {f(v) for v in MISSING} == {DASH}


@pytest.mark.parametrize("unit", sorted(T.UNITS))
def test_fmt_value_and_interval_and_p_use_the_one_dash(unit):
    for v in MISSING:
        assert fmt_value(v, unit) == DASH
        assert fmt_interval(v, 1.0, 2.0, unit) == DASH
    assert fmt_value(None) == fmt_p(None) == fmt_p(float("nan")) == DASH


def test_ui_format_reexports_the_one_formatter():
    from ui import format as fmt

    for name in ("DASH", "ms", "tps", "mb", "gb", "usd", "pct", "percent", "count", "count_of", "quality", "duration", "params",
                 "fmt_value", "fmt_interval"):
        assert getattr(fmt, name) is getattr(T, name), name
    assert fmt.DASH == "—"


VALUES = [0.0, 0.004231, 0.4231, 5.5, 8.34, 45.67, 412.3, 999.95, 1234.5, 12_345.6, 2_500_000.0, -0.5, -42.0]


@pytest.mark.parametrize("unit, f", [("ms", ms), ("tok/s", tps), ("tps", tps), ("MB", mb), ("mb", mb), ("GB", gb), ("USD", usd),
                                     ("usd", usd), ("fraction", pct), ("pct", pct), ("%", percent), ("count", count),
                                     ("points 0-10", quality), ("quality", quality), ("duration", duration),
                                     ("params", params), ("s", T.seconds), ("W", T.watts), ("Wh", T.watt_hours),
                                     ("tokens", T.tokens), ("req/s", T.req_per_s), ("", T.number), ("p50", T.number)])
def test_fmt_value_is_the_unit_function(unit, f):
    assert fmt_value(412.3, unit) == f(412.3)
    for v in VALUES:
        assert fmt_value(v, unit) == f(v), (unit, v)


def test_the_same_latency_reads_the_same_in_cli_reports_and_dashboard():
    from ui import format as fmt

    assert fmt_value(412.3, "ms") == ms(412.3) == fmt.ms(412.3) == "412 ms"
    assert fmt_value(0.0123, "USD") == fmt.usd(0.0123) == "$0.0123"


def test_plain_numbers_and_suffixed_units():
    assert T.number(1234.5) == "1,234" and T.number(45.67) == "45.7" and T.number(5.5) == "5.50" and T.number(0.01234) == "0.0123"
    assert T.seconds(0.412) == "0.412 s" and T.watts(65) == "65.0 W" and T.tokens(128) == "128 tok"


@pytest.mark.parametrize("args, text", [
    ((412.3, 398, 430, "ms"), "412 ms [398, 430]"),
    ((980, 950, 1046, "MB"), "980 MB [950, 1.02 GB]"),  # a bound keeps its unit only where it changes
    ((0.0123, 0.01, 0.02, "USD"), "$0.0123 [0.0100, 0.0200]"),
    ((-1.5, -2.0, -1.0, "USD"), "-$1.50 [-2.00, -1.00]"),
    ((0.5, 0.4, 0.6, "fraction"), "50.0% [40.0, 60.0]"),
    ((7.25, 7.0, 7.5, "points 0-10"), "7.25 / 10 [7.00, 7.50]"),
    ((12.3, 11.0, 13.5, "tok/s"), "12.3 tokens/s [11.0, 13.5]"),
    ((3.1, 2.6, 3.6, ""), "3.10 [2.60, 3.60]"),
    ((412.3, None, 430, "ms"), "412 ms"),
    ((412.3, float("nan"), 430, "ms"), "412 ms"),
])
def test_fmt_interval(args, text):
    assert fmt_interval(*args) == text


def test_fmt_p():
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.0123) == "0.012" and fmt_p(1.0) == "1.000"


def test_share_never_rounds_to_none_or_all():
    from core.textfmt import share

    assert [share(x) for x in (0.34, 0.004, 0.0, 0.996, 1.0, None)] == ["34%", "<1%", "0%", ">99%", "100%", "—"]


def test_sig3_keeps_three_significant_digits_below_100():
    from core.textfmt import sig3

    assert [sig3(x) for x in (0.1234, 45.67, 5.5, 1234.5, -250.0)] == ["0.123", "45.7", "5.5", "1,234", "-250"]
    assert sig3(None, "n/a") == "n/a" and sig3(float("inf")) == "—"


def test_chart_ticks_are_short_and_written_out():
    """Axis ticks (core.charts' static PNGs): money to three significant digits without trailing
    zeros at a decade, counts with k/M/B, never 1e-5 or math text."""
    from core.textfmt import count_tick, usd_tick

    assert [usd_tick(v) for v in (5e-6, 1e-4, 0.0123, 0.5, 1.0, 2.5, 100.0, 1234.0, 0.0)] == [
        "$0.000005", "$0.0001", "$0.0123", "$0.5", "$1", "$2.50", "$100", "$1,234", "$0"]
    assert [count_tick(v) for v in (0.01, 100.0, 1e4, 2e6, 3e9)] == ["0.01", "100", "10k", "2M", "3B"]
