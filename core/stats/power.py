"""Power of a paired t test (noncentral t): the smallest detectable difference at n, and the
n needed for a difference."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from scipy import optimize
from scipy import stats as sps
from scipy.special import ndtri

from core.stats.basics import DEFAULT_ALPHA, finite_or_none


@dataclass(frozen=True)
class Power:
    """Paired t power analysis: the detectable difference at n, or the n for a difference."""

    n: int | None
    sd: float | None  # SD of per-prompt differences
    effect: float | None  # difference in the metric's unit
    effect_size: float | None  # standardised (Cohen's dz)
    alpha: float = DEFAULT_ALPHA
    power: float = 0.8
    method: str = "paired-t (noncentral t)"
    note: str = ""


def _t_power(dz: float, n: float, alpha: float) -> float:
    """Power of the two-sided one-sample/paired t test (noncentral t, as statsmodels TTestPower)."""
    df = n - 1
    crit = sps.t.ppf(1 - alpha / 2, df)
    nc = dz * math.sqrt(n)
    upper = float(sps.nct.sf(crit, df, nc))
    lower = float(sps.nct.cdf(-crit, df, nc))  # the far tail: negligible, NaN when nc is large
    return upper + (lower if math.isfinite(lower) else 0.0)


def _normal_guess(alpha: float, power: float) -> float:
    return float(ndtri(1 - alpha / 2) + ndtri(power))


def _solve_increasing(f: object, lo: float, hi: float, cap: float) -> float:
    """Root of an increasing function, widening the upper bracket as needed (keeps nct finite)."""
    while f(hi) < 0 and hi < cap:  # type: ignore[operator]
        lo, hi = hi, hi * 2
    return float(optimize.brentq(f, lo, min(hi, cap)))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _detectable_dz(n: int, alpha: float, power: float) -> float:
    guess = _normal_guess(alpha, power) / math.sqrt(n)
    return _solve_increasing(lambda d: _t_power(d, n, alpha) - power, guess / 4, guess * 2, 1e4)


def minimum_detectable_effect(sd_diff: float | None, n: int, *, alpha: float = DEFAULT_ALPHA, power: float = 0.8) -> Power:
    """Smallest mean difference a two-sided paired t test detects with `power` at this n."""
    if n < 2:
        return Power(n, sd_diff, None, None, alpha, power, note="n < 2: no power analysis")
    dz = _detectable_dz(n, alpha, power)
    sd = finite_or_none(sd_diff)
    return Power(n, sd, None if sd is None else dz * sd, dz, alpha, power)


def required_sample_size(effect: float, sd_diff: float, *, alpha: float = DEFAULT_ALPHA, power: float = 0.8) -> Power:
    """Number of prompts a paired t test needs to detect `effect` (metric units) with `power`."""
    if effect == 0 or sd_diff is None or sd_diff <= 0:
        return Power(None, sd_diff, effect, None, alpha, power, note="needs a non-zero effect and a positive SD")
    dz = abs(effect) / sd_diff
    if _t_power(dz, 2, alpha) >= power:
        return Power(2, sd_diff, effect, dz, alpha, power)
    guess = (_normal_guess(alpha, power) / dz) ** 2
    n = _solve_increasing(lambda k: _t_power(dz, k, alpha) - power, 2.0, max(4.0, guess * 1.5), 1e12)
    return Power(int(math.ceil(n - 1e-9)), sd_diff, effect, dz, alpha, power)
