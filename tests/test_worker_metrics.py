"""Worker metrics over real HTTP scrapes of a server on a free port of 127.0.0.1."""
from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.worker_metrics import DEFAULT_PORT, WorkerMetrics


@pytest.fixture
def served():
    m = WorkerMetrics()
    port = m.start(0)
    yield m, port
    m.stop()


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    """sample name -> {sorted label items: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_defaults_and_no_heavy_imports():
    assert DEFAULT_PORT == 9464
    code = "import sys, core.worker_metrics; print(sorted({'torch', 'streamlit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_start_zero_binds_a_real_port(served):
    m, port = served
    assert port > 0
    assert scrape(port)  # something served there
    assert m.render().decode().count("llm_eval_worker_rss_bytes") >= 1


def test_samples_by_model_and_status(served):
    m, port = served
    for _ in range(3):
        m.observe_sample("tiny", "ok", 12.5)
    m.observe_sample("tiny", "timeout", None)
    m.observe_sample("tiny", "error", 40.0)  # latency of a failed sample is not a latency
    m.observe_sample("small", "ok", 2500.0)
    s = scrape(port)["llm_eval_samples_total"]
    assert s[(("model", "tiny"), ("status", "ok"))] == 3
    assert s[(("model", "tiny"), ("status", "timeout"))] == 1
    assert s[(("model", "tiny"), ("status", "error"))] == 1
    assert s[(("model", "small"), ("status", "ok"))] == 1
    assert (("model", "small"), ("status", "error")) not in s


def test_latency_histogram_counts_ok_samples_only(served):
    m, port = served
    m.observe_sample("tiny", "ok", 12.5)
    m.observe_sample("tiny", "ok", 7.5)
    m.observe_sample("tiny", "ok", None)  # no latency: counted, not observed
    m.observe_sample("tiny", "error", 999.0)
    m.observe_sample("big", "ok", 90_000.0)
    got = scrape(port)
    count, total = got["llm_eval_sample_latency_seconds_count"], got["llm_eval_sample_latency_seconds_sum"]
    assert count[(("model", "tiny"),)] == 2
    assert total[(("model", "tiny"),)] == pytest.approx(0.020)
    assert total[(("model", "big"),)] == pytest.approx(90.0)
    buckets = got["llm_eval_sample_latency_seconds_bucket"]
    les = sorted(float(dict(k)["le"]) for k in buckets if dict(k)["model"] == "tiny")
    assert les[0] == pytest.approx(0.001) and 120.0 in les and les[-1] == float("inf")
    assert buckets[(("le", "0.01"), ("model", "tiny"))] == 1  # 7.5 ms
    assert buckets[(("le", "0.025"), ("model", "tiny"))] == 2
    assert buckets[(("le", "60.0"), ("model", "big"))] == 0
    assert buckets[(("le", "120.0"), ("model", "big"))] == 1


def test_progress_and_run_label_switching(served):
    m, port = served
    m.set_progress("run-a", 3, 10)
    got = scrape(port)
    assert got["llm_eval_run_samples_done"][()] == 3
    assert got["llm_eval_run_samples_planned"][()] == 10
    assert got["llm_eval_run_active"] == {(("run_id", "run-a"),): 1}

    m.set_progress("run-a", 7, 10)
    assert scrape(port)["llm_eval_run_samples_done"][()] == 7

    m.set_progress("run-b", 0, 4)
    got = scrape(port)
    assert got["llm_eval_run_active"] == {(("run_id", "run-b"),): 1}  # run-a's series is gone
    assert got["llm_eval_run_samples_planned"][()] == 4

    m.set_progress(None, 4, 4)
    got = scrape(port)
    assert "llm_eval_run_active" not in got  # no series at all when idle
    assert got["llm_eval_run_samples_done"][()] == 0
    assert got["llm_eval_run_samples_planned"][()] == 0

    m.set_progress("run-c", 1, 2)  # after idle, a new run starts cleanly
    assert scrape(port)["llm_eval_run_active"] == {(("run_id", "run-c"),): 1}


def test_model_loads(served):
    m, port = served
    m.observe_load("tiny", 1.5)
    m.observe_load("tiny", 0.25)
    m.observe_load("small", 3.0)
    got = scrape(port)
    assert got["llm_eval_model_load_seconds"] == {(("model", "tiny"),): 0.25, (("model", "small"),): 3.0}
    assert got["llm_eval_model_loads_total"] == {(("model", "tiny"),): 2, (("model", "small"),): 1}


def test_loaded_models_and_label_removal(served):
    m, port = served
    m.set_loaded({"tiny": 1_000, "small": 50_000})
    got = scrape(port)
    assert got["llm_eval_loaded_model_bytes"] == {(("model", "tiny"),): 1_000, (("model", "small"),): 50_000}
    assert got["llm_eval_loaded_models"][()] == 2

    m.set_loaded({"small": 50_000, "base": 200_000})  # tiny evicted
    got = scrape(port)
    assert got["llm_eval_loaded_model_bytes"] == {(("model", "small"),): 50_000, (("model", "base"),): 200_000}
    assert got["llm_eval_loaded_models"][()] == 2

    m.set_loaded({})
    got = scrape(port)
    assert "llm_eval_loaded_model_bytes" not in got
    assert got["llm_eval_loaded_models"][()] == 0


def test_rss_gauge_is_live(served):
    _, port = served
    rss = scrape(port)["llm_eval_worker_rss_bytes"][()]
    assert 1 << 20 < rss < 1 << 40  # a Python process: more than 1 MiB, less than 1 TiB


def test_every_metric_has_help_text(served):
    m, _ = served
    families = list(text_string_to_metric_families(m.render().decode()))
    names = {f.name for f in families}
    assert {"llm_eval_samples", "llm_eval_sample_latency_seconds", "llm_eval_run_samples_done",
            "llm_eval_run_samples_planned", "llm_eval_run_active", "llm_eval_model_load_seconds",
            "llm_eval_model_loads", "llm_eval_loaded_model_bytes", "llm_eval_loaded_models",
            "llm_eval_worker_rss_bytes"} <= names
    assert all(len(f.documentation) > 15 for f in families)


def test_instances_are_independent(served):
    m, port = served
    other = WorkerMetrics()
    other.observe_sample("tiny", "ok", 1.0)
    assert "llm_eval_samples_total" not in scrape(port)  # no shared (global) registry
    assert b'llm_eval_samples_total{model="tiny",status="ok"} 1.0' in other.render()


def test_taken_port_raises_oserror_naming_it(served):
    _, port = served
    other = WorkerMetrics()
    with pytest.raises(OSError, match=rf"port {port} is in use.*--metrics-port"):
        other.start(port)
    with socket.socket() as s:  # a port held by some other program
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(OSError, match=rf"port {taken} is in use"):
            other.start(taken)


def test_stop_frees_the_port():
    m = WorkerMetrics()
    port = m.start(0)
    assert scrape(port)
    with pytest.raises(RuntimeError, match="already running"):
        m.start(0)
    m.stop()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    m.stop()  # idempotent
    assert m.start(port) == port  # the port is free again, and the instance restarts
    assert scrape(port)["llm_eval_worker_rss_bytes"][()] > 0
    m.stop()
