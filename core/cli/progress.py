"""How a run's progress shows in a terminal (a tqdm bar) or in a log (a few plain lines)."""
from __future__ import annotations

import sys

from core.textfmt import DASH, duration, ms

LOG_EVERY_S = 10.0  # progress lines in a non-interactive log (CI): one per model event, else one every 10 s


def progress_printer(disabled: bool, interactive: bool | None = None):
    """A tqdm bar on a terminal; plain lines in a log (stderr not a terminal), at most every LOG_EVERY_S
    plus one per model loaded, finished or failed; nothing but failures with --no-progress."""
    if interactive is None:
        interactive = sys.stderr.isatty()
    if not interactive and not disabled:
        return _log_progress()
    from tqdm import tqdm

    bar = {"bar": None}

    def on_event(e) -> None:  # noqa: ANN001 - core.runner.ProgressEvent
        if disabled:
            if e.phase in ("model_failed",):
                print(f"! {e.message}", file=sys.stderr)
            return
        if e.phase == "planned":
            return
        if bar["bar"] is None:
            bar["bar"] = tqdm(total=e.planned, initial=e.done, unit="sample", file=sys.stderr, dynamic_ncols=True)
        b = bar["bar"]
        if e.phase == "sample" or e.phase == "model_done":
            b.n = e.done
            lat = ms(e.latency_ms) if e.latency_ms else DASH
            b.set_postfix_str(f"{e.model} {e.model_done}/{e.model_planned} last {lat} errors {e.errors}")
        elif e.phase == "loading":
            b.set_postfix_str(f"loading {e.model}")
        elif e.phase == "model_failed":
            b.write(f"! {e.message}")
        elif e.phase == "run_done":
            b.n = e.done
            b.refresh()
            b.close()

    return on_event


def _log_progress():
    import time

    last = {"t": time.monotonic()}

    def line(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        last["t"] = time.monotonic()

    def on_event(e) -> None:  # noqa: ANN001 - core.runner.ProgressEvent
        if e.phase == "loading":
            line(f"{e.model}: loading ({e.model_done}/{e.model_planned} samples already stored)")
        elif e.phase == "model_done":
            line(f"{e.model}: {'done' if e.status != 'stopped' else 'stopped'} at {e.model_done}/{e.model_planned} "
                 f"samples; run {e.done}/{e.planned}, {e.errors} not ok")
        elif e.phase == "model_failed":
            line(f"! {e.message}")
        elif e.phase == "sample" and time.monotonic() - last["t"] >= LOG_EVERY_S:
            lat = ms(e.latency_ms) if e.latency_ms else DASH
            left = f", about {duration(e.eta_s)} left" if e.eta_s is not None else ""
            line(f"{e.model}: {e.model_done}/{e.model_planned} samples, last {lat}; run {e.done}/{e.planned}{left}")

    return on_event
