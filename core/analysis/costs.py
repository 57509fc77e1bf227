"""Cost model: what a request costs locally (energy + amortised hardware) and in the cloud.

Pure Python over numpy/pandas; cloud prices come from the `genai-prices` package's bundled
snapshot (offline: no network call), with user overrides from data/pricing.yaml winning
(core.analysis.pricing, whose names this module re-exports). `COST_METHODS` states the
formulas; every cost carries its price source and snapshot.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np

from core.analysis.pricing import (  # noqa: F401 - prices and power are part of the cost model's public names
    HOURLY_SOURCE,
    POWER_PROFILES,
    TOKENS_PER_PRICE_UNIT,
    TOKENS_SOURCE,
    CloudPrice,
    PowerProfile,
    PriceBasis,
    PricingOverrides,
    assumed_power,
    cloud_cost_per_request,
    cloud_price,
    load_pricing,
    power_profiles,
    price_snapshot,
    resolve_price_basis,
)
from core.stats import Interval

HOURS_PER_YEAR = 365.25 * 24
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
J_PER_KWH = 3.6e6
TOKENIZER_NOTE = (
    "token counts come from the local model's tokenizer and only approximate what the cloud "
    "model's tokenizer would count"
)

QUALITY_WARN_PASS_RATE = 0.8  # below this pass rate a cheaper local answer may well be a worse one
COST_METHODS = f"""\
Cost model (core.analysis.costs)

One cost model, chosen in the settings (cost_model), prices every local figure: per
request, per month, savings, break-even, the KPI table, the charts, the CLI and the reports.
Local cost per request = energy + hardware share
  energy         = watts x seconds / 3.6e6 (kWh) x electricity price per kWh
  hardware share = dedicated (default): machines x hardware price / (lifetime years x 12)
                     / volume per month (the whole machine is paid for, whatever the volume)
                   shared: hardware price / (lifetime hours x utilisation) x seconds / 3600
                     (only the machine time used; utilisation = share of the lifetime it is busy)
  (lifetime hours = years x {HOURS_PER_YEAR:g}); under both, per request x volume = local monthly.
  Watts are measured (NVML for NVIDIA GPUs,
  RAPL for the CPU package) when available: the runner meters each local model's generation
  loop and stores its energy and mean watts with the run; otherwise watts are assumed from a
  power profile (board or package power under load; idle power and the rest of the host
  are not counted). Every cost row says which.
Cloud cost per request = input tokens x input price + output tokens x output price, prices
  per 1M tokens from genai-prices' bundled snapshot (or data/pricing.yaml, which wins);
  {TOKENIZER_NOTE}.
Projections at a monthly volume V:
  local monthly  = dedicated: machines x hardware price / (lifetime years x 12) + V x energy
                   per request, machines = ceil(V / capacity), capacity = requests one machine
                   serves in a month when busy all the time (one request at a time);
                   shared: V x local cost per request
  cloud monthly  = V x cloud cost per request; annual = 12 x monthly
  savings        = (cloud - local) / cloud; when negative it is written as "local costs N% more"
                   (at -100% or below: "local costs Nx more", N = local / cloud)
  break-even     = dedicated: hardware per month / (cloud - energy per request), when that is
                   within one machine's capacity; otherwise there is none (the cloud is cheaper at
                   any volume). With no hardware cost (or shared, with a local request cheaper
                   than a cloud one) local is cheaper from the first request.
Quality is not free: the cloud models' quality is not measured here; a local model passing
  fewer than {QUALITY_WARN_PASS_RATE:.0%} of the run's scored requests (quality >= 5/10) is flagged.
HTTP models priced by their catalog entry's price basis (instead of energy + amortisation;
  energy does not apply):
  hourly price  = USD per hour x seconds / 3600 / requests in flight for the model in the run
                  (run_models.concurrency; 1 when unknown)
  per-token     = the cloud formula above with the basis' price model (genai-prices / pricing.yaml)
  Projections then price every request that way: no machines and no fixed cost.
Intervals: percentile bootstrap (mean latency and mean token counts of each resample
  propagate through every formula), seeded; prices and settings are fixed inputs. The run
  analysis (core.analysis.cost_report, the KPI table) resamples prompts with their repeats.
Only successful requests are counted.
"""


# =========================================================================== settings


CostModel = Literal["dedicated", "shared"]
COST_MODELS: dict[str, str] = {
    "dedicated": "dedicated machine: the whole write-off, whatever the volume",
    "shared": "shared machine: only the machine time used, spread over the utilisation",
}


def _meta(unit: str, help_: str) -> dict[str, str]:
    return {"unit": unit, "help": help_}


@dataclass(frozen=True)
class CostSettings:
    """Inputs of the cost model (units in each field's metadata)."""

    electricity_price_per_kwh: float = field(default=0.15, metadata=_meta("USD/kWh", "price of electricity"))
    hardware_price_usd: float = field(default=2000.0, metadata=_meta("USD", "purchase price of the machine or accelerator"))
    lifetime_years: float = field(default=3.0, metadata=_meta("years", "period over which the hardware is written off"))
    utilisation: float = field(default=0.5, metadata=_meta("fraction 0..1", "share of its lifetime the hardware is busy serving requests"))
    power_profile: str = field(default="generic-cpu", metadata=_meta("name", "assumed power draw when none is measured (see POWER_PROFILES)"))
    power_watts: float | None = field(default=None, metadata=_meta("W", "explicit power draw; overrides the profile"))
    cloud_models: tuple[str, ...] = field(
        default=("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku"), metadata=_meta("model ids", "cloud models to compare against (genai-prices ids)")
    )
    volume_per_month: int = field(default=100_000, metadata=_meta("requests/month", "volume for projections"))
    currency: str = field(default="USD", metadata=_meta("ISO 4217", "currency of every price (USD only)"))
    cost_model: CostModel = field(default="dedicated", metadata=_meta(
        "dedicated | shared", "dedicated: the whole machine is paid for whatever the volume; shared: only the machine time used, "
        "the hardware spread over the utilisation"))

    def __post_init__(self) -> None:
        checks = [
            (self.electricity_price_per_kwh >= 0, "electricity_price_per_kwh must be >= 0"),
            (self.hardware_price_usd >= 0, "hardware_price_usd must be >= 0"),
            (self.lifetime_years > 0, "lifetime_years must be > 0"),
            (0 < self.utilisation <= 1, "utilisation must be in (0, 1], e.g. 0.5 for half the time"),
            (self.power_watts is None or self.power_watts >= 0, "power_watts must be >= 0"),
            (self.volume_per_month >= 0, "volume_per_month must be >= 0"),
            (self.currency == "USD", "only USD is supported (genai-prices and data/pricing.yaml are in USD)"),
            (self.cost_model in COST_MODELS, f"cost_model must be one of {', '.join(COST_MODELS)} (got {self.cost_model!r})"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(f"CostSettings: {msg}")
        object.__setattr__(self, "cloud_models", tuple(self.cloud_models))

    @property
    def lifetime_hours(self) -> float:
        return self.lifetime_years * HOURS_PER_YEAR

    @property
    def hardware_per_month(self) -> float:
        """Straight-line write-off of one machine per month."""
        return self.hardware_price_usd / (self.lifetime_years * 12)

    @property
    def cost_model_sentence(self) -> str:
        """The cost model in one sentence, shown once wherever local costs are (page, reports, CLI)."""
        hw = f"{self.hardware_price_usd:,.0f} {self.currency}"
        if self.cost_model == "shared":
            return (f"Cost model: shared machine. The local model pays only for the machine time it uses: the {hw} hardware "
                    f"is written off over the {self.utilisation:.0%} of its {self.lifetime_years:g} years it is busy, so "
                    "every request costs the same at any volume (no fixed cost), plus electricity.")
        return (f"Cost model: dedicated machine. The local model pays the whole machine's write-off "
                f"({self.hardware_per_month:,.2f} {self.currency}/month: {hw} over {self.lifetime_years:g} years) whatever "
                f"the volume, so a request's share is that write-off spread over {self.volume_per_month:,} requests/month, "
                "plus electricity (utilisation is not used).")


def settings_help() -> dict[str, tuple[str, str]]:
    """Field name -> (unit, help), e.g. for a settings form."""
    return {f.name: (f.metadata.get("unit", ""), f.metadata.get("help", "")) for f in fields(CostSettings)}


# =========================================================================== per-request costs


def energy_kwh(watts: float | np.ndarray, seconds: float | np.ndarray) -> float | np.ndarray:
    return np.asarray(watts) * np.asarray(seconds) / J_PER_KWH


MONTH_SECONDS = HOURS_PER_MONTH * 3600


def machines_needed(mean_seconds: float | np.ndarray, volume: float) -> np.ndarray:
    """Machines serving `volume` requests a month one at a time, busy all the time (at least 1)."""
    sec = np.asarray(mean_seconds, dtype=float)
    return np.maximum(1, np.ceil(volume * sec / MONTH_SECONDS))


def local_cost_per_request(seconds: float | np.ndarray, watts: float | np.ndarray, settings: CostSettings, *,
                           mean_seconds: float | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(energy cost, hardware share) per request of `seconds` duration under settings.cost_model.

    dedicated: the machines' monthly write-off / volume_per_month (NaN at volume 0), the same
    for every request; machines from `mean_seconds` (default: `seconds`, element-wise, right
    for mean or resampled-mean inputs). shared: write-off per busy hour x the request's time.
    Per request x volume is the monthly local cost of `projection_quantities` under both models."""
    s = np.asarray(seconds, dtype=float)
    energy = energy_kwh(watts, s) * settings.electricity_price_per_kwh
    if settings.cost_model == "shared":
        return energy, settings.hardware_price_usd / (settings.lifetime_hours * settings.utilisation) * s / 3600
    vol = settings.volume_per_month
    machines = machines_needed(s if mean_seconds is None else mean_seconds, vol)
    share = machines * settings.hardware_per_month / vol if vol > 0 else np.full(machines.shape, np.nan)
    return energy, share * np.ones(s.shape)


def monthly_cost_terms(settings: CostSettings, energy_per_request: float, hardware_share_per_request: float) -> tuple[float, float]:
    """(fixed USD per machine per month, USD per request) of the local monthly cost under the
    cost model, for a curve over volumes (the break-even chart): dedicated, the write-off and
    energy; shared, nothing fixed and the whole per-request cost."""
    if settings.cost_model == "shared":
        return 0.0, energy_per_request + hardware_share_per_request
    return settings.hardware_per_month, energy_per_request


# =========================================================================== projections


@dataclass(frozen=True)
class Projection:
    """Local model vs one cloud model at a monthly volume, with bootstrap intervals."""

    model: str
    cloud_model: str
    volume_per_month: int
    local_monthly: Interval
    local_annual: Interval
    cloud_monthly: Interval
    cloud_annual: Interval
    savings_pct: Interval  # (cloud - local) / cloud x 100; negative when local costs more
    break_even_per_month: Interval  # requests/month where local total = cloud total
    capacity_per_month: Interval  # requests one machine serves per month, busy all the time
    machines: int  # machines needed for the volume (at the point estimate)
    power_source: Literal["measured", "assumed"]
    price: CloudPrice
    currency: str = "USD"
    note: str = ""


NO_BREAK_EVEN = "never: the cloud is cheaper at any volume"
IMMEDIATE_BREAK_EVEN = "from the first request: no fixed hardware cost to recover, and a local request costs less than a cloud one"


def break_even_text(iv: Interval, *, short: bool = False) -> str:
    """A break-even Interval in words: '15,099,615 requests/month', 'from the first request
    (...)', or why there is none. short: the bare count, '' when there is none (table cells)."""
    if iv.estimate is None:
        return "" if short else (iv.note or NO_BREAK_EVEN)
    if iv.estimate == 0:
        return "from the first request" if short else IMMEDIATE_BREAK_EVEN
    return f"{iv.estimate:,.0f}" if short else f"{iv.estimate:,.0f} requests/month"


def _times(ratio: float) -> str:
    return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"


def savings_text(iv: Interval, *, ci: bool = True) -> str:
    """A savings Interval (percent, (cloud - local) / cloud) in words: 'saves 42%' or, when
    negative, 'local costs 35% more' / 'local costs 149x more' (local / cloud); ci: with
    the interval in the same unit, e.g. '(95% CI 120x to 180x)'."""
    e = iv.estimate
    if e is None:
        return "n/a" + (f" ({iv.note})" if iv.note else "")
    if e >= 0:
        head, f = f"saves {e:,.0f}%", (lambda v: f"{round(v) + 0:,}%")  # + 0: never "-0%"
    elif e > -100:
        head, f = f"local costs {-e:,.0f}% more", (lambda v: f"{round(-v) + 0:,}%")
    else:
        head, f = f"local costs {_times(1 - e / 100)} more", (lambda v: _times(1 - v / 100))
    if not ci or not iv.is_defined:
        return head
    ends = sorted([iv.low, iv.high], key=lambda v: -v if e < 0 else v)  # type: ignore[arg-type]
    return f"{head} ({iv.confidence:.0%} CI {f(ends[0])} to {f(ends[1])})"


def savings_short(iv: Interval) -> str:
    """savings_text for a card: '42% less', '35% more', '149x more' (what local costs against the cloud)."""
    e = iv.estimate
    if e is None:
        return "n/a"
    if e >= 0:
        return f"{e:,.0f}% less"
    return savings_text(iv, ci=False).removeprefix("local costs ")


def quality_warning(model: str, pass_rate: float | None, n_scored: int) -> str | None:
    """'Quality is not free': the cloud model's quality is not measured here, so a local model
    passing fewer than QUALITY_WARN_PASS_RATE of this run's scored requests (quality >= 5/10)
    is flagged; None when it passes enough, or when nothing was scored."""
    if pass_rate is None or n_scored == 0 or pass_rate >= QUALITY_WARN_PASS_RATE:
        return None
    return (f"Quality is not free: {model} passed {pass_rate:.0%} of {n_scored:,} scored requests in this run (below "
            f"{QUALITY_WARN_PASS_RATE:.0%}). The cloud models' quality is not measured here; a cheaper local answer may "
            "be a worse answer, so compare quality before choosing on cost.")


@dataclass(frozen=True)
class Means:
    """Mean seconds, input and output tokens per request (scalars as 1-element arrays, or one per resample)."""

    seconds: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def projection_quantities(m: Means, watts: float, price: CloudPrice, settings: CostSettings, volume: int,
                          basis: PriceBasis | None = None) -> dict[str, np.ndarray]:
    """Monthly local and cloud cost, savings (%), break-even (requests/month), capacity of one
    machine and machines needed at `volume`, element-wise over the means (point or resampled)."""
    cloud_req = cloud_cost_per_request(m.input_tokens, m.output_tokens, price)
    if basis is not None:  # priced per request (HTTP endpoint): no machines, no fixed cost
        own_req = np.atleast_1d(basis.per_request(m.seconds, m.input_tokens, m.output_tokens))
        local, cloud = volume * own_req, volume * cloud_req
        with np.errstate(divide="ignore", invalid="ignore"):
            savings = np.where(cloud > 0, (cloud - local) / cloud * 100, np.nan)
        inf = np.full(own_req.shape, np.inf)
        return {"local": local, "cloud": cloud, "savings": savings, "break_even": np.where(own_req < cloud_req, 0.0, np.inf),
                "capacity": inf, "machines": np.ones(own_req.shape)}
    s = dataclasses.replace(settings, volume_per_month=volume) if volume != settings.volume_per_month else settings
    energy_req, hw_req = local_cost_per_request(m.seconds, watts, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        capacity = np.where(m.seconds > 0, MONTH_SECONDS / m.seconds, np.inf)
        machines = machines_needed(m.seconds, volume)
        cloud = volume * cloud_req
        if s.cost_model == "shared":  # no fixed cost: local is cheaper from the first request, or never
            local = volume * (energy_req + hw_req)
            be = np.where(energy_req + hw_req < cloud_req, 0.0, np.inf)
        else:  # the whole machine's write-off, whatever the volume (= per request x volume when volume > 0)
            local = machines * s.hardware_per_month + volume * energy_req
            margin = cloud_req - energy_req
            be = np.where(margin > 0, s.hardware_per_month / margin, np.inf)
            be = np.where(be <= capacity, be, np.inf)
        savings = np.where(cloud > 0, (cloud - local) / cloud * 100, np.nan)
    return {"local": local, "cloud": cloud, "savings": savings, "break_even": be, "capacity": capacity, "machines": machines}


def projection_interval(est: float, boot: np.ndarray, confidence: float, n: int, B: int, seed: int, what: str) -> Interval:
    """A percentile interval of a projected quantity; what="break-even" words the no/immediate break-even notes."""
    alpha = (1 - confidence) / 2
    method = "percentile-bootstrap"
    if not math.isfinite(est):
        note = NO_BREAK_EVEN if what == "break-even" else "undefined"
        return Interval(None, None, None, method, confidence, n, B, seed, note)
    if what == "break-even" and est == 0:
        return Interval(0.0, None, None, method, confidence, n, B, seed, IMMEDIATE_BREAK_EVEN)
    if np.isnan(boot).any():
        return Interval(est, None, None, method, confidence, n, B, seed, "undefined in some resamples")
    with np.errstate(invalid="ignore"):  # inf break-evens in some resamples: inf - inf while interpolating
        low, high = np.quantile(boot, [alpha, 1 - alpha])
    note = ""
    if not math.isfinite(high):
        note = "no break-even in some resamples: no upper bound"
    return Interval(est, float(low), float(high) if math.isfinite(high) else None, method, confidence, n, B, seed, note)
