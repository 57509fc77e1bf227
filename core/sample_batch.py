"""Finished samples on their way to the store: buffered, scored and written together, outside the
timed region (core.runner's SampleBatch, fed by core.model_loop)."""
from __future__ import annotations

import json
import time

from core.run_state import PlannedSample, RunState
from core.schemas import Measurement, PromptItem, RunSpec
from core.store import DONE_STATUSES, Store, now

# Finished samples are scored and written together every FLUSH_INTERVAL_S (or every
# RunSpec.batch_size samples). A write costs 40-70 ms (open the file, commit, checkpoint on
# close), so writing every 16 samples of a fast model cost 20-40% of the run's wall time
# (bench/harness_overhead.py); every 5 s it is about 1%. A crash loses at most the last 5 s of
# measurements, which resume re-runs; another process (the dashboard) sees progress at that pace,
# the dashboard's own runs report every sample through progress events.
FLUSH_INTERVAL_S = 5.0


class SampleBatch:
    """Buffers finished samples; scores and writes them together, outside the timed region."""

    def __init__(self, store: Store, state: RunState, spec: RunSpec, flush_every: int) -> None:
        self.store = store
        self.state = state
        self.spec = spec
        self.flush_every = max(1, flush_every)
        self.rows: list[dict] = []
        self.pending: list[tuple[dict, PromptItem, Measurement | None]] = []
        self.last_flush = time.monotonic()
        self.last_latency: float | None = None
        self.last_rss: float | None = None
        self.last_message: str | None = None
        self.other_cpu: float | None = None  # the machine load of the sample being added (core.measure.MachineLoad)
        self.errors = 0  # rows since the last flush that are not ok (cancelled included)
        self.done_rows = 0  # rows since the last flush with a stored outcome (ok, error, timeout)
        self.model_done_rows = 0  # ... since this model's loop began

    def _row(self, p: PlannedSample, backend: str, device: str | None, dtype: str | None, fallback: str | None) -> dict:
        return {
            "result_key": p.key,
            "run_id": self.state.run_id,
            "model": p.model,
            "model_version": p.model_version,
            "backend": backend,
            "prompt_set": self.spec.prompt_set,
            "prompt_set_hash": None,  # filled at flush
            "item_id": p.item.id,
            "category": p.item.category,
            "repeat": p.repeat,
            "seq": p.seq,
            "attempts": 1,
            "device": device,
            "dtype": dtype,
            "fallback": fallback,
        }

    def add(self, p: PlannedSample, backend, started, *, measurement: Measurement | None = None, status: str = "ok",  # noqa: ANN001
            error_kind: str | None = None, message: str | None = None, latency_ms: float | None = None, attempts: int = 1) -> None:
        row = self._row(p, backend.name, backend.device, backend.dtype, backend.fallback)
        row.update(status=status, error_kind=error_kind, error_message=message, attempts=attempts, started_at=started,
                   finished_at=now(), other_cpu=self.other_cpu)
        self.other_cpu = None
        if measurement is not None:
            row.update(
                latency_ms=measurement.latency_ms,
                ttft_ms=measurement.ttft_ms,
                decode_tps=measurement.decode_tps,
                input_tokens=measurement.input_tokens,
                output_tokens=measurement.output_tokens,
                token_source=measurement.token_source,
                peak_rss_mb=measurement.peak_rss_mb,
                peak_accel_mb=measurement.peak_accel_mb,
                mem_added_mb=measurement.mem_added_mb,
                output_text=measurement.text,
                attempts=measurement.attempts,
            )
            self.last_latency = measurement.latency_ms
            self.last_rss = measurement.peak_rss_mb
        else:
            row["latency_ms"] = latency_ms
            self.errors += 1
            self.last_message = message
        self.rows.append(row)
        self.pending.append((row, p.item, measurement))
        if status in DONE_STATUSES:
            self.done_rows += 1
            self.model_done_rows += 1

    def skip_all(self, todo: list[PlannedSample], kind: str, message: str, backend: str, device: str | None = None, dtype: str | None = None) -> None:
        for p in todo:
            row = self._row(p, backend, device, dtype, None)
            row.update(status="skipped", error_kind=kind, error_message=message, attempts=0, started_at=now(), finished_at=now())
            self.rows.append(row)
            self.pending.append((row, p.item, None))

    def maybe_flush(self) -> None:
        if len(self.rows) >= self.flush_every or time.monotonic() - self.last_flush > FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        from core.scoring import score_batch

        ok = [(row, item, m) for row, item, m in self.pending if m is not None]
        if ok:
            try:
                results = score_batch([m.text for _, _, m in ok], [item for _, item, _ in ok])
            except Exception as exc:  # noqa: BLE001 - a scorer failure must not lose measurements
                note = json.dumps({"_error": f"scoring failed: {type(exc).__name__}: {exc}"[:500]})
                for row, _, _ in ok:
                    row.update(quality=None, passed=None, scores=note)
            else:
                for (row, _, _), res in zip(ok, results, strict=True):
                    row.update(quality=res.quality, passed=res.passed, scores=json.dumps(res.scores))
        for row in self.rows:
            row["prompt_set_hash"] = self.state.ps_hash
        self.store.append_samples(self.rows)
        for row in self.rows:
            self.state.counts[row["status"]] = self.state.counts.get(row["status"], 0) + 1
            if row["status"] in ("ok", "error", "timeout"):
                self.state.done += 1
                self.state.executed += 1
            if row["status"] != "ok":
                self.state.errors += 1
        self.rows, self.pending = [], []
        self.errors = self.done_rows = 0
        self.last_flush = time.monotonic()
