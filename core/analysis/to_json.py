"""Plain JSON of analysis results (the `--format json` shapes): NaN and infinity as null,
intervals as objects, dataclasses as dicts.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.stats import Interval


def finite(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def or_nan(x: float | None) -> float:
    return math.nan if x is None else x


def jsonable(obj: Any) -> Any:
    """Dataclasses / Intervals / numpy values as plain JSON (NaN and infinity -> None)."""
    if isinstance(obj, Interval):
        return interval_dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return finite(obj)
    return obj


def whole(x: object) -> int | None:
    v = finite(x)
    return None if v is None else int(v)


def interval_dict(iv: Interval | None) -> dict[str, Any] | None:
    """An Interval as JSON (the shape every `--format json` output uses)."""
    if iv is None:
        return None
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "method": iv.method, "confidence": iv.confidence,
            "n": iv.n, "n_resamples": iv.n_resamples, "seed": iv.seed, "note": iv.note}
