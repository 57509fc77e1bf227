"""Model and cloud-option colours shared by the dashboard (ui/) and the reports (core.charts).

Pure Python, no plotly/numpy, so a page can import it cheaply. Same model, same colour
everywhere: fixed for the bundled models, else a hash slot of the palette.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

# 20 distinguishable colours (Tableau 10 + its light variants reordered for contrast).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#0b3d91", "#c45a00", "#1b6e1b", "#8b0000", "#5b3a8c",
    "#d4a017", "#00827f", "#b03060", "#4b8bbe", "#556b2f",
)
# Fixed colours for the bundled models, so screenshots and docs always match.
FIXED = {"demo-tiny": "#1f77b4", "demo-small": "#ff7f0e", "demo-base": "#2ca02c"}
# Cloud options (cost charts): neutral greys and dashes, never a model's colour.
CLOUD_GREYS = ("#333333", "#666666", "#999999", "#4d4d4d", "#808080")
CLOUD_DASHES = ("dot", "dash", "dashdot", "longdash", "longdashdot")


def _slot(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(PALETTE)


def model_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour per model: fixed for the bundled ones, else a hash slot of the palette.

    Collisions are resolved by probing in name order over the whole universe passed in,
    so callers must pass the same universe (ui.state.model_colors does).
    """
    out: dict[str, str] = {}
    used = set()
    for name, color in FIXED.items():
        out[name] = color
        used.add(color)
    for name in sorted(set(names) - set(FIXED)):
        slot = _slot(name)
        for k in range(len(PALETTE)):
            color = PALETTE[(slot + k) % len(PALETTE)]
            if color not in used:
                break
        else:  # more models than colours: reuse the hash slot
            color = PALETTE[slot]
        out[name] = color
        used.add(color)
    return out
