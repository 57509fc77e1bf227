"""Cost model: what a request costs locally (energy + amortised hardware) and in the cloud.

Pure Python over numpy/pandas; cloud prices come from the `genai-prices` package's bundled
snapshot (offline: no network call), with user overrides from data/pricing.yaml winning.
`COST_METHODS` states the formulas; every cost carries its price source and snapshot.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from core.config import PRICING_FILE
from core.stats import DEFAULT_CONFIDENCE, DEFAULT_SEED, Interval

HOURS_PER_YEAR = 365.25 * 24
HOURS_PER_MONTH = HOURS_PER_YEAR / 12
J_PER_KWH = 3.6e6
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are per 1M tokens
TOKENIZER_NOTE = (
    "token counts come from the local model's tokenizer and only approximate what the cloud "
    "model's tokenizer would count"
)

QUALITY_WARN_PASS_RATE = 0.8  # below this pass rate a cheaper local answer may well be a worse one
COST_METHODS = f"""\
Cost model (core.cost)

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
  analysis (core.analysis.cost_report, the KPI table) resamples prompts with their repeats;
  core.cost.project on bare arrays resamples requests.
Only successful requests are counted.
"""


# =========================================================================== settings


@dataclass(frozen=True)
class PowerProfile:
    """Power drawn by the device while generating."""

    name: str
    watts: float
    description: str = ""
    source: str = "builtin"  # builtin | pricing.yaml | override


POWER_PROFILES: dict[str, PowerProfile] = {
    p.name: p
    for p in (
        PowerProfile("apple-m1", 20, "Apple M1 SoC package under load"),
        PowerProfile("apple-m1-pro", 35, "Apple M1 Pro SoC package under load"),
        PowerProfile("apple-m1-max", 60, "Apple M1 Max SoC package under load"),
        PowerProfile("apple-m2", 22, "Apple M2 SoC package under load"),
        PowerProfile("apple-m2-pro", 40, "Apple M2 Pro SoC package under load"),
        PowerProfile("apple-m2-max", 70, "Apple M2 Max SoC package under load"),
        PowerProfile("apple-m3", 22, "Apple M3 SoC package under load"),
        PowerProfile("apple-m3-pro", 40, "Apple M3 Pro SoC package under load"),
        PowerProfile("apple-m3-max", 75, "Apple M3 Max SoC package under load"),
        PowerProfile("apple-m4", 25, "Apple M4 SoC package under load"),
        PowerProfile("apple-m4-pro", 45, "Apple M4 Pro SoC package under load"),
        PowerProfile("apple-m4-max", 80, "Apple M4 Max SoC package under load"),
        PowerProfile("nvidia-a100", 400, "NVIDIA A100 SXM board power (PCIe: 250-300 W)"),
        PowerProfile("nvidia-h100", 700, "NVIDIA H100 SXM board power (PCIe: 350 W)"),
        PowerProfile("nvidia-rtx-4090", 450, "NVIDIA GeForce RTX 4090 board power"),
        PowerProfile("nvidia-rtx-3090", 350, "NVIDIA GeForce RTX 3090 board power"),
        PowerProfile("nvidia-t4", 70, "NVIDIA T4 board power"),
        PowerProfile("nvidia-l4", 72, "NVIDIA L4 board power"),
        PowerProfile("generic-cpu", 65, "desktop CPU package under load (typical 65 W TDP)"),
        PowerProfile("generic-laptop", 30, "laptop CPU package under sustained load"),
    )
}


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


# =========================================================================== pricing overrides


@dataclass(frozen=True)
class CloudPrice:
    """Price of a cloud model per 1M tokens, and where it came from."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    provider: str | None
    source: str  # "genai-prices" | "pricing.yaml"
    snapshot: str  # e.g. "genai-prices 0.2.3 (bundled data)" or the overrides file
    price_date: str | None = None  # date the price applies to (ISO), genai-prices only
    note: str = ""


@dataclass(frozen=True)
class PricingOverrides:
    cloud: Mapping[str, CloudPrice] = field(default_factory=dict)
    power_profiles: Mapping[str, PowerProfile] = field(default_factory=dict)
    path: str | None = None


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def load_pricing(path: str | os.PathLike[str] | None = PRICING_FILE) -> PricingOverrides:
    """Read data/pricing.yaml (cloud price and power profile overrides); empty if absent."""
    if path is None or not Path(path).is_file():
        return PricingOverrides()
    p = Path(path)
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a mapping with 'cloud_prices' and/or 'power_profiles'")
    unknown = set(data) - {"cloud_prices", "power_profiles"}
    if unknown:
        raise ValueError(f"{p}: unknown keys {sorted(unknown)}; allowed: cloud_prices, power_profiles")
    cloud = {}
    for model, entry in (data.get("cloud_prices") or {}).items():
        where = f"{p}: cloud_prices.{model}"
        if not isinstance(entry, dict) or set(entry) != {"input_per_mtok", "output_per_mtok"}:
            raise ValueError(f"{where}: needs exactly input_per_mtok and output_per_mtok (USD per 1M tokens)")
        cloud[str(model)] = CloudPrice(
            str(model), _number(entry["input_per_mtok"], f"{where}.input_per_mtok"),
            _number(entry["output_per_mtok"], f"{where}.output_per_mtok"), None, "pricing.yaml", str(p),
        )
    power = {
        str(name): PowerProfile(str(name), _number(w, f"{p}: power_profiles.{name}"), "user profile", "pricing.yaml")
        for name, w in (data.get("power_profiles") or {}).items()
    }
    return PricingOverrides(cloud, power, str(p))


def power_profiles(overrides: PricingOverrides | None = None) -> dict[str, PowerProfile]:
    """Shipped profiles with the user's additions and replacements."""
    return {**POWER_PROFILES, **(overrides.power_profiles if overrides else {})}


def assumed_power(settings: CostSettings, overrides: PricingOverrides | None = None) -> PowerProfile:
    """The power assumed when none is measured: explicit watts, else the named profile."""
    if settings.power_watts is not None:
        return PowerProfile("override", settings.power_watts, "CostSettings.power_watts", "override")
    profiles = power_profiles(overrides)
    if settings.power_profile not in profiles:
        raise ValueError(
            f"unknown power profile {settings.power_profile!r}; known: {', '.join(sorted(profiles))} "
            "(add one under power_profiles in data/pricing.yaml, or set power_watts)"
        )
    return profiles[settings.power_profile]


# =========================================================================== cloud prices


def price_snapshot() -> str:
    """Which price data genai-prices ships here (the package pins its data; no date is published)."""
    try:
        v = version("genai-prices")
    except PackageNotFoundError:  # pragma: no cover - dependency is pinned
        v = "unknown"
    return f"genai-prices {v} (bundled data)"


def cloud_price(model: str, overrides: PricingOverrides | None = None, at: datetime | None = None) -> CloudPrice:
    """Price per 1M tokens for a cloud model: pricing.yaml first, else genai-prices (offline).

    Probes 1,000 tokens so the base (short-context) tier applies. Raises LookupError with a
    fix when the model is unknown.
    """
    if overrides and model in overrides.cloud:
        return overrides.cloud[model]
    from genai_prices import Usage, calc_price  # imported lazily: a large data module

    when = at or datetime.now(tz=UTC)
    probe = 1000
    provider, _, ref = model.partition(":") if ":" in model else (None, "", model)  # "openai:gpt-4o-mini"
    try:
        inp = calc_price(Usage(input_tokens=probe, output_tokens=0), ref, provider_id=provider, genai_request_timestamp=when)
        out = calc_price(Usage(input_tokens=0, output_tokens=probe), ref, provider_id=provider, genai_request_timestamp=when)
    except LookupError as exc:
        raise LookupError(
            f"no price for cloud model {model!r} in {price_snapshot()}: {exc}. "
            f"Add it under cloud_prices in {PRICING_FILE} (input_per_mtok, output_per_mtok in USD)"
        ) from exc
    scale = TOKENS_PER_PRICE_UNIT / probe
    return CloudPrice(
        model, float(inp.total_price) * scale, float(out.total_price) * scale, inp.provider.id,
        "genai-prices", price_snapshot(), when.date().isoformat(), f"matched {inp.provider.id}/{inp.model.id}",
    )


# =========================================================================== measured power


RAPL_ENERGY = Path("/sys/class/powercap/intel-rapl:0/energy_uj")


class PowerMeter:
    """Energy used over a region: NVML (NVIDIA GPU, if `pynvml` is importable) or Linux RAPL
    (CPU package). `stop()` returns joules, or None when nothing could be measured.

        meter = PowerMeter(); meter.start(); ...; joules = meter.stop()
    """

    def __init__(self, rapl_path: str | os.PathLike[str] = RAPL_ENERGY, gpu_index: int = 0) -> None:
        self._rapl = Path(rapl_path)
        self._gpu_index = gpu_index
        self._nvml = None
        self._start: float | None = None
        self.source: Literal["nvml", "rapl"] | None = self._detect()

    @property
    def available(self) -> bool:
        return self.source is not None

    def _detect(self) -> Literal["nvml", "rapl"] | None:
        try:
            import pynvml  # type: ignore[import-not-found]  # optional: not a dependency

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self._gpu_index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            self._nvml = (pynvml, handle)
            return "nvml"
        except Exception:  # noqa: BLE001 - any NVML failure means "not measurable"
            pass
        return "rapl" if self._read_rapl() is not None else None

    def _read_rapl(self) -> float | None:
        try:
            return float(self._rapl.read_text().strip())
        except (OSError, ValueError):
            return None

    def _rapl_range(self) -> float | None:
        try:
            return float((self._rapl.parent / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            return None

    def _read_joules(self) -> float | None:
        if self.source == "nvml" and self._nvml is not None:
            try:
                pynvml, handle = self._nvml
                return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0  # mJ -> J
            except Exception:  # noqa: BLE001
                return None
        if self.source == "rapl":
            uj = self._read_rapl()
            return None if uj is None else uj / 1e6
        return None

    def start(self) -> None:
        self._start = self._read_joules()

    def stop(self) -> float | None:
        end = self._read_joules()
        if self._start is None or end is None:
            return None
        used = end - self._start
        if used < 0 and self.source == "rapl":  # counter wrapped around
            rng = self._rapl_range()
            used = used + rng / 1e6 if rng else None  # type: ignore[assignment]
        self._start = None
        return None if used is None or used < 0 else used


# =========================================================================== per-request costs


@dataclass(frozen=True)
class CostRow:
    """Local cost of one model's requests (means per request)."""

    model: str
    n_requests: int
    seconds_per_request: float | None
    power_watts: float
    power_source: Literal["measured", "assumed"]
    power_profile: str
    energy_kwh_per_request: float | None
    energy_cost_per_request: float | None
    amortisation_per_request: float | None
    cost_per_request: float | None
    cost_per_1k_requests: float | None
    currency: str = "USD"
    note: str = ""


@dataclass(frozen=True)
class CloudCostRow:
    """What the same requests would cost on a cloud model (means per request)."""

    model: str  # the local model whose token counts are priced
    cloud_model: str
    n_requests: int
    input_tokens_per_request: float | None
    output_tokens_per_request: float | None
    cost_per_request: float | None
    cost_per_1k_requests: float | None
    price: CloudPrice
    currency: str = "USD"
    note: str = TOKENIZER_NOTE


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
    Per request x volume is the monthly local cost of `project` under both models."""
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


def cloud_cost_per_request(input_tokens: float | np.ndarray, output_tokens: float | np.ndarray, price: CloudPrice) -> np.ndarray:
    return (
        np.asarray(input_tokens, dtype=float) * price.input_per_mtok
        + np.asarray(output_tokens, dtype=float) * price.output_per_mtok
    ) / TOKENS_PER_PRICE_UNIT


HOURLY_SOURCE = "endpoint hourly price"
TOKENS_SOURCE = "per-token price"


@dataclass(frozen=True)
class PriceBasis:
    """How an HTTP model's requests are priced (its catalog entry's price basis), instead of
    local energy and hardware: an hourly price for a self-hosted endpoint shared by the
    requests in flight, or cloud per-token prices. Energy does not apply."""

    kind: Literal["hourly", "tokens"]
    usd_per_hour: float | None = None
    concurrency: int = 1  # requests in flight for this model in the run
    price: CloudPrice | None = None

    @property
    def source(self) -> str:
        return HOURLY_SOURCE if self.kind == "hourly" else TOKENS_SOURCE

    @property
    def label(self) -> str:
        if self.kind == "hourly":
            return f"{self.usd_per_hour:g} USD/hour endpoint, {self.concurrency} request(s) in flight"
        p = self.price
        assert p is not None
        date = f", prices of {p.price_date}" if p.price_date else ""
        return f"{p.model} ({p.source}: {p.snapshot}{date})"

    def per_request(self, seconds: object, input_tokens: object, output_tokens: object) -> np.ndarray:
        """Cost per request (USD); linear, so it also maps mean inputs to the mean cost."""
        if self.kind == "hourly":
            return float(self.usd_per_hour or 0) * np.asarray(seconds, dtype=float) / 3600 / max(1, self.concurrency)
        assert self.price is not None
        return cloud_cost_per_request(input_tokens, output_tokens, self.price)


def resolve_price_basis(basis: Mapping[str, object] | None, *, concurrency: object = None,
                        overrides: PricingOverrides | None = None, at: datetime | None = None) -> PriceBasis | None:
    """A catalog price basis ({"kind": "hourly", "usd_per_hour": x} or {"kind": "tokens",
    "model": "openai:gpt-4o-mini"}) as a PriceBasis; None when there is none. concurrency:
    requests in flight in the run (unknown: 1). LookupError for an unknown price model."""
    if not basis:
        return None
    try:
        conc = int(concurrency)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        conc = 1
    conc = conc if conc >= 1 else 1
    if basis.get("kind") == "hourly" and basis.get("usd_per_hour") is not None:
        return PriceBasis("hourly", _number(basis["usd_per_hour"], "price basis usd_per_hour"), conc)
    if basis.get("kind") == "tokens" and basis.get("model"):
        return PriceBasis("tokens", None, conc, cloud_price(str(basis["model"]), overrides, at))
    return None


def _power(settings: CostSettings, overrides: PricingOverrides | None, measured_watts: float | None) -> tuple[float, str, str]:
    if measured_watts is not None and math.isfinite(measured_watts) and measured_watts >= 0:
        return float(measured_watts), "measured", "measured"
    prof = assumed_power(settings, overrides)
    return float(prof.watts), "assumed", prof.name


def local_cost(
    latency_ms: object,
    settings: CostSettings = CostSettings(),
    *,
    model: str = "",
    measured_watts: float | None = None,
    overrides: PricingOverrides | None = None,
    basis: PriceBasis | None = None,
    input_tokens: object = None,
    output_tokens: object = None,
) -> CostRow:
    """Mean local cost per request from request latencies (ms). basis: an HTTP model's price
    basis, which prices the requests instead (token counts needed for a per-token basis)."""
    if basis is not None:
        lat = np.asarray(latency_ms, dtype=float).ravel()
        nan = np.full(lat.shape, np.nan)
        if basis.kind == "tokens":
            sec, i, o = _finite_pairs(lat, nan if input_tokens is None else input_tokens, nan if output_tokens is None else output_tokens)
        else:
            sec, i, o = _finite(lat), None, None
        sec = sec / 1000
        n = sec.size
        c = float(basis.per_request(sec, i, o).mean()) if n else None
        return CostRow(model, n, float(sec.mean()) if n else None, math.nan, basis.source, basis.label,  # type: ignore[arg-type]
                       None, None, None, c, c * 1000 if c is not None else None, settings.currency,
                       "energy not applicable (priced by the endpoint)" if n else "no successful requests")
    s = _finite(latency_ms) / 1000
    watts, source, profile = _power(settings, overrides, measured_watts)
    if s.size == 0:
        return CostRow(model, 0, None, watts, source, profile, None, None, None, None, None, settings.currency, "no successful requests")  # type: ignore[arg-type]
    energy, amort = local_cost_per_request(s, watts, settings, mean_seconds=float(s.mean()))
    total = float(energy.mean() + amort.mean())
    return CostRow(
        model, s.size, float(s.mean()), watts, source, profile, float(energy_kwh(watts, s).mean()),  # type: ignore[arg-type]
        float(energy.mean()), float(amort.mean()), total, total * 1000, settings.currency,
    )


def cloud_cost(
    input_tokens: object, output_tokens: object, cloud_model: str, *, model: str = "",
    overrides: PricingOverrides | None = None, at: datetime | None = None,
) -> CloudCostRow:
    """Mean cloud cost per request for these token counts."""
    price = cloud_price(cloud_model, overrides, at)
    i, o = _finite_pairs(input_tokens, output_tokens)
    if i.size == 0:
        return CloudCostRow(model, cloud_model, 0, None, None, None, None, price, note="no successful requests")
    c = float(cloud_cost_per_request(i, o, price).mean())
    return CloudCostRow(model, cloud_model, i.size, float(i.mean()), float(o.mean()), c, c * 1000, price)


def _finite(x: object) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    return a[np.isfinite(a)]


def _finite_pairs(*arrays: object) -> tuple[np.ndarray, ...]:
    cols = [np.asarray(a, dtype=float).ravel() for a in arrays]
    keep = np.logical_and.reduce([np.isfinite(c) for c in cols])
    return tuple(c[keep] for c in cols)


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
class _Means:
    seconds: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def _bootstrap_means(cols: Sequence[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Means of each column over the same resampled requests (vectorised, memory-bounded)."""
    n = cols[0].size
    rng = np.random.default_rng(seed)
    rows = max(1, 4_000_000 // n)
    out: list[list[np.ndarray]] = [[] for _ in cols]
    for start in range(0, n_resamples, rows):
        idx = rng.integers(0, n, (min(rows, n_resamples - start), n))
        for acc, c in zip(out, cols):
            acc.append(c[idx].mean(axis=1))
    return [np.concatenate(a) for a in out]


def _projection_quantities(m: _Means, watts: float, price: CloudPrice, settings: CostSettings, volume: int,
                           basis: PriceBasis | None = None) -> dict[str, np.ndarray]:
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


def _interval(est: float, boot: np.ndarray, confidence: float, n: int, B: int, seed: int, what: str) -> Interval:
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


def project(
    latency_ms: object,
    input_tokens: object,
    output_tokens: object,
    cloud_model: str,
    settings: CostSettings = CostSettings(),
    *,
    model: str = "",
    volume_per_month: int | None = None,
    measured_watts: float | None = None,
    overrides: PricingOverrides | None = None,
    at: datetime | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = DEFAULT_SEED,
) -> Projection:
    """Monthly/annual costs, savings and break-even vs one cloud model, with intervals."""
    volume = settings.volume_per_month if volume_per_month is None else int(volume_per_month)
    price = cloud_price(cloud_model, overrides, at)
    watts, source, _ = _power(settings, overrides, measured_watts)
    s, i, o = _finite_pairs(latency_ms, input_tokens, output_tokens)
    s = s / 1000
    n = s.size
    if n == 0:
        empty = Interval(None, None, None, "percentile-bootstrap", confidence, 0, note="no successful requests")
        return Projection(model, cloud_model, volume, *([empty] * 7), 0, source, price, settings.currency, "no successful requests")  # type: ignore[arg-type]
    point = _projection_quantities(_Means(np.array([s.mean()]), np.array([i.mean()]), np.array([o.mean()])), watts, price, settings, volume)
    boot = _projection_quantities(_Means(*_bootstrap_means([s, i, o], n_resamples, seed)), watts, price, settings, volume)

    def iv(key: str, what: str = "", scale: float = 1.0) -> Interval:
        return _interval(float(point[key][0]) * scale, boot[key] * scale, confidence, n, n_resamples, seed, what)

    notes = [TOKENIZER_NOTE]
    machines = int(point["machines"][0])
    if machines > 1:
        notes.append(f"the volume needs {machines} machines serving one request at a time")
    return Projection(
        model, cloud_model, volume, iv("local"), iv("local", scale=12), iv("cloud"), iv("cloud", scale=12),
        iv("savings"), iv("break_even", "break-even"), iv("capacity"), machines, source, price,  # type: ignore[arg-type]
        settings.currency, "; ".join(notes),
    )


# =========================================================================== from the samples table


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df.columns else df


def cost_table(
    df: pd.DataFrame,
    settings: CostSettings = CostSettings(),
    *,
    measured_watts: Mapping[str, float] | None = None,
    overrides: PricingOverrides | None = None,
    bases: Mapping[str, PriceBasis] | None = None,
) -> tuple[CostRow, ...]:
    """Local cost per model from the samples table (ok rows); bases: HTTP models' price bases."""
    ok = _ok(df)

    def tokens(g: pd.DataFrame, col: str) -> np.ndarray | None:
        return g[col].to_numpy(float) if col in g.columns else None

    return tuple(
        local_cost(g["latency_ms"].to_numpy(float), settings, model=str(m), measured_watts=(measured_watts or {}).get(str(m)), overrides=overrides,
                   basis=(bases or {}).get(str(m)), input_tokens=tokens(g, "input_tokens"), output_tokens=tokens(g, "output_tokens"))
        for m, g in ok.groupby("model", sort=False)
    )


def cloud_table(
    df: pd.DataFrame, settings: CostSettings = CostSettings(), *, overrides: PricingOverrides | None = None, at: datetime | None = None
) -> tuple[CloudCostRow, ...]:
    """What each model's requests would cost on each of settings.cloud_models."""
    ok = _ok(df)
    return tuple(
        cloud_cost(g["input_tokens"].to_numpy(float), g["output_tokens"].to_numpy(float), cm, model=str(m), overrides=overrides, at=at)
        for m, g in ok.groupby("model", sort=False)
        for cm in settings.cloud_models
    )


def projections(
    df: pd.DataFrame,
    settings: CostSettings = CostSettings(),
    *,
    measured_watts: Mapping[str, float] | None = None,
    overrides: PricingOverrides | None = None,
    at: datetime | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = DEFAULT_SEED,
) -> tuple[Projection, ...]:
    """project() for every (model, cloud model) pair at settings.volume_per_month."""
    ok = _ok(df)
    out = []
    for m, g in ok.groupby("model", sort=False):
        for cm in settings.cloud_models:
            out.append(
                project(
                    g["latency_ms"].to_numpy(float), g["input_tokens"].to_numpy(float), g["output_tokens"].to_numpy(float),
                    cm, settings, model=str(m), measured_watts=(measured_watts or {}).get(str(m)), overrides=overrides,
                    at=at, confidence=confidence, n_resamples=n_resamples, seed=seed,
                )
            )
    return tuple(out)
