"""Serving-side machinery shared by HTTP models: the per-endpoint circuit breaker, N requests
in flight (ConcurrentRequests, which the HTTP backend hands the runner), and the serving
statistics serving benchmarks report (request throughput, output tokens/s across requests,
goodput)."""
from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.backends.base import BackendBase
from core.measure import CancelToken
from core.schemas import GenerationParams, Measurement, ModelSpec, PromptItem, RunSpec

# failures that say the endpoint itself is unwell (a 429 or a 400 means it is alive)
BREAKER_KINDS = frozenset({"server_error", "connection", "timeout"})
BREAKER_COOLDOWN_S = 30.0


# --------------------------------------------------------------------------- circuit breaker


class EndpointBreaker:
    """Per endpoint, shared by every model served there (in this process).

    After `threshold` consecutive failed samples that say the endpoint is unwell, further
    attempts fail at once ('circuit_open', nothing sent) until a warm-up probe succeeds or
    the cooldown passes (then one request is let through).
    """

    def __init__(self, endpoint: str, threshold: int) -> None:
        self.endpoint = endpoint
        self.threshold = max(1, threshold)
        self.failures = 0
        self.opened_at: float | None = None
        self.last: str | None = None
        self._lock = threading.Lock()

    def check(self) -> str | None:
        """None when a request may go; else the reason it may not."""
        with self._lock:
            if self.opened_at is None:
                return None
            if time.monotonic() - self.opened_at >= BREAKER_COOLDOWN_S:
                self.opened_at = time.monotonic()  # half-open: this one request probes
                return None
            return (
                f"circuit breaker open for {self.endpoint}: {self.failures} consecutive failed requests "
                f"(last: {self.last}); not sending"
            )

    def record(self, ok: bool, kind: str | None = None, message: str | None = None) -> None:
        with self._lock:
            if ok:
                self.failures, self.opened_at, self.last = 0, None, None
            elif kind in BREAKER_KINDS:
                self.failures += 1
                self.last = message
                if self.failures >= self.threshold and self.opened_at is None:
                    self.opened_at = time.monotonic()


_BREAKERS: dict[str, EndpointBreaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(endpoint: str, threshold: int) -> EndpointBreaker:
    with _BREAKERS_LOCK:
        b = _BREAKERS.get(endpoint)
        if b is None:
            b = _BREAKERS[endpoint] = EndpointBreaker(endpoint, threshold)
        b.threshold = max(1, threshold)
        return b


# --------------------------------------------------------------------------- serving statistics


@dataclass(frozen=True)
class RequestRecord:
    """One generate() call, end to end (retries and backoff included)."""

    t_start: float
    t_end: float
    ok: bool
    e2e_ttft_ms: float | None
    e2e_latency_ms: float
    output_tokens: int | None


@dataclass(frozen=True)
class ServingStats:
    concurrency: int
    requests: int
    completed: int
    wall_s: float
    requests_per_s: float | None
    output_tps: float | None  # output tokens per second across requests
    median_latency_ms: float | None
    goodput: float | None  # share of requests that succeeded within the limits; None without limits
    goodput_ttft_ms: float | None
    goodput_latency_ms: float | None

    def row(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "requests_per_s": self.requests_per_s,
            "output_tps": self.output_tps,
            "goodput": self.goodput,
            "goodput_ttft_ms": self.goodput_ttft_ms,
            "goodput_latency_ms": self.goodput_latency_ms,
            "serving_wall_s": self.wall_s,
        }


def serving_stats(records: Sequence[RequestRecord], concurrency: int, ttft_limit_ms: float | None = None,
                  latency_limit_ms: float | None = None) -> ServingStats | None:
    """Request throughput, output tokens/s and goodput over the calls of one model, as serving benchmarks report them."""
    if not records:
        return None
    wall = max(r.t_end for r in records) - min(r.t_start for r in records)
    ok = [r for r in records if r.ok]
    tokens = sum(r.output_tokens or 0 for r in ok)
    goodput = None
    if ttft_limit_ms is not None or latency_limit_ms is not None:
        good = [
            r for r in ok
            if (ttft_limit_ms is None or (r.e2e_ttft_ms is not None and r.e2e_ttft_ms <= ttft_limit_ms))
            and (latency_limit_ms is None or r.e2e_latency_ms <= latency_limit_ms)
        ]
        goodput = len(good) / len(records)
    return ServingStats(
        concurrency=concurrency,
        requests=len(records),
        completed=len(ok),
        wall_s=wall,
        requests_per_s=len(ok) / wall if wall > 0 else None,
        output_tps=tokens / wall if wall > 0 else None,
        median_latency_ms=statistics.median(r.e2e_latency_ms for r in ok) if ok else None,
        goodput=goodput,
        goodput_ttft_ms=ttft_limit_ms,
        goodput_latency_ms=latency_limit_ms,
    )


def effective_concurrency(mspec: ModelSpec, spec: RunSpec) -> int:
    """Requests in flight for this model: the run's --concurrency, capped by the entry's max_concurrency."""
    return max(1, min(spec.concurrency, max(1, mspec.max_concurrency)))


# --------------------------------------------------------------------------- N in flight


class ConcurrentRequests:
    """Keeps N requests in flight for one HTTP model and hands results back in plan order.

    Stands in for the backend inside the runner's sample loop: every planned request is
    queued at once on a pool of N threads (so N are always in flight), and generate()
    returns (or raises) the outcome of the next planned sample. Each request measures its
    own deadline from when it starts. The runner scores and stores finished samples while
    others are in flight, so at N > 1 latencies are those of a busy client, as in serving
    benchmarks; N = 1 keeps the plain sequential loop and clean per-request latency.
    """

    def __init__(self, backend: BackendBase, items: Sequence[PromptItem], seeds: Sequence[int | None],
                 spec: RunSpec, cancel: CancelToken | None, concurrency: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.backend = backend
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"http-{backend.spec.name}")
        self._queue = deque(
            (item, self._pool.submit(self._one, item, seed, spec, cancel)) for item, seed in zip(items, seeds, strict=True)
        )

    def _one(self, item: PromptItem, seed: int | None, spec: RunSpec, cancel: CancelToken | None) -> Measurement:
        deadline = time.perf_counter() + spec.timeout_s
        return self.backend.generate(item, spec.generation, deadline=deadline, cancel=cancel, seed=seed)

    def __getattr__(self, name: str):  # name, device, dtype, fallback, endpoint, memory_note ...
        return getattr(self.backend, name)

    def warmup(self, item: PromptItem, params: GenerationParams) -> float:
        return self.backend.warmup(item, params)

    def generate(self, item: PromptItem, params: GenerationParams, *, deadline: float, cancel: CancelToken | None,
                 seed: int | None) -> Measurement:
        expected, future = self._queue.popleft()
        if expected is not item:
            raise RuntimeError(f"concurrent requests consumed out of order: expected {expected.id!r}, got {item.id!r}")
        return future.result()

    def serving_stats(self, concurrency: int | None = None) -> ServingStats | None:
        return self.backend.serving_stats(concurrency or self.concurrency)

    def finish(self) -> dict[str, Any] | None:
        """The runner's last hook: close the pool (not the client); the serving statistics at this concurrency."""
        self.close()
        stats = self.serving_stats()
        return stats.row() if stats else None

    def close(self) -> None:
        """Drop requests not yet started; wait for those in flight (their results are not stored)."""
        for _, future in self._queue:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._queue.clear()
