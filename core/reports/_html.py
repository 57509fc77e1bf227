"""The report as one self-contained HTML file: plotly.js embedded once, no external scripts,
fonts or images, a Content-Security-Policy that allows only the page's own scripts (by hash)
and no network at all. Text goes through Jinja2 autoescaping; chart data through plotly's
JSON encoder, which escapes `<`, `>` and `/`."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from pathlib import Path

import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from core.reports.model import Report

TEMPLATES = Path(__file__).resolve().parent / "templates"
_PRELUDE = "window.PlotlyConfig = {MathJaxConfig: 'local'};"
_DRAW = """(function () {
  var figs = %s;
  var config = {displaylogo: false, responsive: true};
  Object.keys(figs).forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { Plotly.newPlot(el, figs[id].data, figs[id].layout, config); }
  });
})();"""


@functools.cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["slug"] = lambda s: re.sub(r"[^a-z0-9]+", "-", str(s).lower()).strip("-")
    return env


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # never true for plotly's bundle; guards a future one
        js = re.sub(r"(?i)</script", r"<\\/script", js)
    return js


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def render(report: Report) -> str:
    """The HTML document (str)."""
    figs = {f"chart-{c.key}": c.figure() for c in report.charts()}
    heights = {k: int(f.layout.height or 420) for k, f in figs.items()}
    body = "{" + ",".join(f"{json.dumps(k)}:{pio.to_json(f, validate=False)}" for k, f in figs.items()) + "}"
    scripts = [_PRELUDE, _plotly_js(), _DRAW % body] if figs else []
    csp = ("default-src 'none'; script-src " + (" ".join(_sha256(s) for s in scripts) or "'none'")
           + "; style-src 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'; "
             "base-uri 'none'; form-action 'none'")
    return _env().get_template("report.html.j2").render(
        r=report, csp=csp, heights=heights, scripts=[Markup(s) for s in scripts],
    )
