"""Prometheus metrics of the evaluation worker (`python -m core worker`), served on 127.0.0.1.

Each WorkerMetrics owns a private CollectorRegistry (not the global default one), so several can
live in one process (tests). The HTTP server runs in a daemon thread; the worker only updates
counters and gauges, which costs microseconds and happens outside the timed region.

Scrape configuration (prometheus.yml)::

    scrape_configs:
      - job_name: llm-eval-worker
        scrape_interval: 15s
        static_configs:
          - targets: ["127.0.0.1:9464"]
"""
from __future__ import annotations

import errno
import math
import socket
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from core.measure import rss_bytes

DEFAULT_PORT = 9464  # the setting's default; 0 = pick a free port

# 1 ms .. 120 s: tiny demo models answer in milliseconds, large local ones take minutes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                   120.0, math.inf)


class WorkerMetrics:
    """The worker's metrics on a private registry; start() serves them, render() returns them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.samples = Counter("llm_eval_samples_total", "Samples generated, by model and outcome status "
                               "(ok or an error kind).", ["model", "status"], registry=r)
        self.latency = Histogram("llm_eval_sample_latency_seconds", "End-to-end generation latency of "
                                 "successful samples, in seconds.", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.run_done = Gauge("llm_eval_run_samples_done", "Samples finished in the current run "
                              "(0 when idle).", registry=r)
        self.run_planned = Gauge("llm_eval_run_samples_planned", "Samples planned for the current run "
                                 "(0 when idle).", registry=r)
        self.run_active = Gauge("llm_eval_run_active", "1 for the run the worker is executing now; "
                                "no series when idle.", ["run_id"], registry=r)
        self.load_seconds = Gauge("llm_eval_model_load_seconds", "Duration of the model's most recent "
                                  "load, in seconds.", ["model"], registry=r)
        self.loads = Counter("llm_eval_model_loads_total", "Model loads (cache misses of the loader).",
                             ["model"], registry=r)
        self.loaded_bytes = Gauge("llm_eval_loaded_model_bytes", "Estimated memory of each model the "
                                  "loader holds now, in bytes.", ["model"], registry=r)
        self.loaded_count = Gauge("llm_eval_loaded_models", "Number of models the loader holds now.", registry=r)
        self.rss = Gauge("llm_eval_worker_rss_bytes", "Resident set size of the worker process at scrape "
                         "time, in bytes.", registry=r)
        self.rss.set_function(rss_bytes)
        self._lock = threading.Lock()
        self._run_id: str | None = None
        self._loaded: set[str] = set()
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> int:
        """Serve /metrics from a daemon thread; return the port bound (port 0 resolves to a free one)."""
        if self._server is not None:
            raise RuntimeError(f"metrics server already running on port {self._server.server_port}")
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise OSError(errno.EADDRINUSE, f"metrics: port {port} is in use on {host}; pass --metrics-port "
                              "with another port (0 = any free port)") from e
            raise
        return int(self._server.server_port)

    def stop(self) -> None:
        """Shut the server down and free its port (no-op when not started)."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            # shutdown() waits for serve_forever's next poll (up to 0.5 s): connect to wake it up at once.
            waiter = threading.Thread(target=server.shutdown, daemon=True)
            waiter.start()
            while waiter.is_alive():
                try:
                    socket.create_connection(server.server_address[:2], timeout=0.2).close()
                except OSError:
                    pass
                waiter.join(0.02)
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def observe_sample(self, model: str, status: str, latency_ms: float | None) -> None:
        """Count one sample; its latency goes into the histogram only when it succeeded."""
        self.samples.labels(model=model, status=status).inc()
        if status == "ok" and latency_ms is not None and math.isfinite(latency_ms):
            self.latency.labels(model=model).observe(latency_ms / 1000.0)

    def set_progress(self, run_id: str | None, done: int, planned: int) -> None:
        """Progress of the current run; run_id None means idle (gauges 0, no active run series)."""
        with self._lock:
            if self._run_id is not None and self._run_id != run_id:
                self.run_active.remove(self._run_id)
            self._run_id = run_id
            if run_id is None:
                done = planned = 0
            else:
                self.run_active.labels(run_id=run_id).set(1)
            self.run_done.set(done)
            self.run_planned.set(planned)

    def observe_load(self, model: str, seconds: float) -> None:
        """A model was loaded in `seconds`."""
        self.load_seconds.labels(model=model).set(seconds)
        self.loads.labels(model=model).inc()

    def set_loaded(self, models: dict[str, int]) -> None:
        """The models the loader holds now -> their estimated bytes; others' series are removed."""
        with self._lock:
            for gone in self._loaded - models.keys():
                self.loaded_bytes.remove(gone)
            for model, nbytes in models.items():
                self.loaded_bytes.labels(model=model).set(nbytes)
            self._loaded = set(models)
            self.loaded_count.set(len(models))

    def render(self) -> bytes:
        """The exposition text a scrape would get."""
        return generate_latest(self.registry)
