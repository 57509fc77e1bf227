"""Prices and power of the cost model: cloud prices per 1M tokens (data/pricing.yaml first, else
genai-prices, offline), power profiles assumed when none is measured, and the price basis of an
HTTP model (an hourly endpoint or per-token prices). The formulas are core.analysis.costs.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import yaml

from core.config import PRICING_FILE

if TYPE_CHECKING:
    from core.analysis.costs import CostSettings


TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are per 1M tokens


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
