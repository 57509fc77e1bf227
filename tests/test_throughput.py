"""The local throughput sweep (core.throughput): stored rows, the CLI, the chart, the report section."""
from __future__ import annotations

import json

import pytest

from conftest import demo_available

pytestmark = pytest.mark.skipif(not demo_available("demo-tiny"), reason="demo models missing")


@pytest.fixture(scope="module")
def swept(tmp_path_factory, loader):
    from core.store import Store
    from core.throughput import sweep

    store = Store(tmp_path_factory.mktemp("tp") / "tp.duckdb")
    result = sweep(store, ["demo-tiny"], "demo-qa", [1, 2], limit=4, max_new_tokens=4, loader=loader)
    return store, result


def test_sweep_stores_rows_with_a_completed_run(swept):
    from core import queries

    store, result = swept
    rows = queries.throughput(store, result.run_id)
    assert list(rows["batch_size"]) == [1, 2] and set(rows["model"]) == {"demo-tiny"}
    assert (rows["n_requests"] == 4).all()
    assert (rows["tokens_per_s"] > 0).all() and (rows["requests_per_s"] > 0).all()
    assert (rows["latency_ms_mean"] > 0).all() and (rows["ttft_ms"] > 0).all()
    b1 = rows[rows["batch_size"] == 1].iloc[0]
    assert b1["identical_to_b1"] == 1.0
    assert 0.0 <= rows["identical_to_b1"].min() <= 1.0
    run = store.get_run(result.run_id)
    assert run.status == "completed" and run.manifest["kind"] == "throughput_sweep"
    assert queries.has_throughput(store, result.run_id) and "0009_throughput" in store.applied_migrations()


def test_batch_size_one_is_always_the_reference(store, loader):
    from core.throughput import sweep

    result = sweep(store, ["demo-tiny"], "demo-qa", "2", limit=2, max_new_tokens=2, loader=loader)
    assert list(result.rows["batch_size"]) == [1, 2] and result.notes


@pytest.mark.parametrize("bad", ["0", "1,x", "", "-2", "5000"])
def test_parse_batch_sizes_rejects(bad):
    from core.throughput import parse_batch_sizes

    with pytest.raises(ValueError):
        parse_batch_sizes(bad)


def test_cli_json(db_path, capsys):
    from core.cli.main import main

    rc = main(["throughput", "--models", "demo-tiny", "--prompt-set", "demo-qa", "--batch-sizes", "1,2",
               "--limit", "2", "--max-new-tokens", "2", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] and [r["batch_size"] for r in doc["rows"]] == [1, 2]
    assert doc["rows"][0]["identical_to_b1"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--models", "demo-tiny", "--batch-sizes", "0,2"], "batch sizes"),
    (["--models", "demo-tiny", "--batch-sizes", "a"], "batch sizes"),
    (["--models", "no-such-model", "--batch-sizes", "1"], "no-such-model"),
])
def test_cli_bad_input_exits_2(db_path, capsys, argv, message):
    from core.cli.main import main

    assert main(["throughput", "--prompt-set", "demo-qa", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_while_another_process_measures(db_path, capsys, monkeypatch):
    from core import jobs
    from core.cli.main import main

    monkeypatch.setattr(jobs, "measuring_elsewhere", lambda store, pid=None: ("run-x", 4242))
    assert main(["throughput", "--models", "demo-tiny", "--prompt-set", "demo-qa", "--batch-sizes", "1"]) == 2
    assert "busy" in capsys.readouterr().err


def test_chart_one_trace_per_model(swept):
    import pandas as pd

    from core import charts, queries

    store, result = swept
    rows = queries.throughput(store, result.run_id)
    other = rows.assign(model="demo-small")
    chart = charts.throughput_chart(pd.concat([rows, other]))
    fig = chart.figure()
    assert len(fig.data) == 2 and {t.name for t in fig.data} == {"demo-tiny", "demo-small"}
    assert list(fig.data[0].text) == ["b1", "b2"]
    assert chart.png()[:4] == b"\x89PNG"


def test_report_section_only_with_sweep_rows(demo_run, tmp_path):
    """A run without sweep rows keeps its report; the same run with rows gains the section."""
    import shutil

    from core.reports import _markdown
    from core.reports.model import ReportOptions
    from core.reports.run_report import build_report
    from core.store import Store

    path, run_id = demo_run
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    store = Store(copy)
    opts = ReportOptions(generated_at="2026-01-01 00:00 UTC")
    before = build_report(store, run_id, opts)
    assert before.throughput is None and "throughput" not in before.sections
    assert "Throughput sweep" not in _markdown.render(before, "c").text
    store.append_throughput([{"run_id": run_id, "model": "demo-tiny", "batch_size": b, "n_requests": 4,
                              "tokens_per_s": 10.0 * b, "requests_per_s": 2.0 * b, "latency_ms_mean": 50.0 * b,
                              "ttft_ms": 5.0, "mem_added_mb": 0.5, "identical_to_b1": 1.0} for b in (1, 2)])
    after = build_report(store, run_id, opts)
    assert list(after.sections).index("throughput") == list(after.sections).index("methods") - 1
    md = _markdown.render(after, "c")
    assert "## Throughput sweep" in md.text and "c/throughput.png" in md.images
    from core import reports

    assert 'id="throughput"' in reports.html(after) and 'id="throughput"' not in reports.html(before)


# --------------------------------------------------------------------------- HTTP concurrency sweep


class FakeOpenAI:
    """A loopback OpenAI-compatible completions server that streams a deterministic answer (the
    prompt's first words, one per chunk, with a usage chunk) and counts the requests in flight.
    `fail` answers every request with 400 instead."""

    def __init__(self, chunk_delay_s: float = 0.03, fail: bool = False) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.in_flight = self.max_in_flight = self.requests = 0
        self.temperatures: set[float] = set()
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                import time

                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if fail:
                    payload = b'{"error": {"message": "injected bad request"}}'
                    self.send_response(400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                with lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    fake.temperatures.add(body.get("temperature"))
                try:
                    words = str(body["prompt"]).split()[: body["max_tokens"]]
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for w in words:
                        time.sleep(chunk_delay_s)
                        self._send({"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                                    "choices": [{"index": 0, "text": w + " ", "finish_reason": None, "logprobs": None}]})
                    self._send({"id": "x", "object": "text_completion", "created": 0, "model": body["model"], "choices": [],
                                "usage": {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}})
                    self.wfile.write(b"data: [DONE]\n\n")
                finally:
                    with lock:
                        fake.in_flight -= 1

            def _send(self, doc: dict) -> None:
                self.wfile.write(b"data: " + json.dumps(doc).encode() + b"\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_http(store):
    from core import catalog

    srv = FakeOpenAI()
    store.add_model(catalog.make_http_spec("fake-http", srv.base_url, "fake-model", endpoint="completions", max_concurrency=8))
    yield srv
    srv.close()


def test_http_concurrency_sweep_stores_rows_in_the_same_table(store, fake_http):
    from core import queries
    from core.throughput import sweep

    result = sweep(store, ["fake-http"], "demo-qa", concurrency="2,4", limit=4, max_new_tokens=4)
    rows = queries.throughput(store, result.run_id)
    assert list(rows["batch_size"]) == [1, 2, 4] and set(rows["level_kind"]) == {"concurrency"}
    assert result.notes and "concurrency 1 added" in result.notes[0]
    assert (rows["n_requests"] == 4).all() and (rows["tokens_per_s"] > 0).all() and (rows["requests_per_s"] > 0).all()
    assert (rows["latency_ms_mean"] > 0).all() and (rows["ttft_ms"] > 0).all()
    assert rows["ttft_ms"].le(rows["latency_ms_mean"]).all()
    assert rows["mem_added_mb"].isna().all()  # a remote model's memory: NULL, never zero
    assert (rows["identical_to_b1"] == 1.0).all()  # the fake answers deterministically
    assert fake_http.max_in_flight == 4 and fake_http.requests == 1 + 3 * 4  # warm-up + 3 levels x 4 prompts
    assert fake_http.temperatures == {0.0}  # greedy
    run = store.get_run(result.run_id)
    assert run.status == "completed" and run.manifest["concurrency"] == [1, 2, 4]
    assert "0012_throughput_level_kind" in store.applied_migrations()


def test_http_sweep_failure_marks_the_run_failed_and_stores_nothing(store):
    from core import catalog, queries
    from core.throughput import sweep

    srv = FakeOpenAI(fail=True)
    try:
        store.add_model(catalog.make_http_spec("bad-http", srv.base_url, "m", endpoint="completions", max_concurrency=4))
        with pytest.raises(Exception, match="bad-http"):
            sweep(store, ["bad-http"], "demo-qa", concurrency="1,2", limit=2, max_new_tokens=2)
    finally:
        srv.close()
    runs = store.runs_df()
    assert list(runs["status"]) == ["failed"] and "bad-http" in runs.iloc[0]["message"]
    assert queries.throughput(store, runs.iloc[0]["run_id"]).empty


def test_cli_sweeps_local_batch_sizes_and_http_concurrency_in_one_command(db_path, store, fake_http, capsys):
    from core.cli.main import main

    rc = main(["throughput", "--models", "demo-tiny,fake-http", "--prompt-set", "demo-qa", "--batch-sizes", "1,2",
               "--concurrency", "1,2", "--limit", "2", "--max-new-tokens", "2", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    got = {(r["model"], r["level_kind"], r["batch_size"]) for r in doc["rows"]}
    assert got == {("demo-tiny", "batch", 1), ("demo-tiny", "batch", 2), ("fake-http", "concurrency", 1),
                   ("fake-http", "concurrency", 2)}
    local = [r for r in doc["rows"] if r["model"] == "demo-tiny"]
    assert all(r["mem_added_mb"] is not None for r in local)


@pytest.mark.parametrize("argv, message", [
    (["--models", "fake-http", "--batch-sizes", "1,2"], "--batch-sizes applies to local models"),
    (["--models", "demo-tiny", "--concurrency", "1,2"], "--concurrency applies to HTTP"),
    (["--models", "fake-http", "--concurrency", "1,16"], "at most 8 request(s) in flight"),
    (["--models", "fake-http", "--concurrency", "x"], "concurrency levels"),
])
def test_cli_refuses_levels_that_do_not_fit_the_models(db_path, store, fake_http, capsys, argv, message):
    from core.cli.main import main

    assert main(["throughput", "--prompt-set", "demo-qa", *argv]) == 2
    assert message in capsys.readouterr().err
    assert fake_http.requests == 0 and store.runs_df().empty  # nothing sent, nothing stored


def test_rows_stored_before_the_level_column_read_as_batch_sizes(store):
    from core import queries

    store.append_throughput([{"run_id": "old", "model": "m", "batch_size": 2, "n_requests": 1, "tokens_per_s": 1.0,
                              "requests_per_s": 1.0, "latency_ms_mean": 1.0, "ttft_ms": 1.0, "mem_added_mb": 0.0,
                              "identical_to_b1": 1.0}])  # no level_kind: as a pre-0012 row reads
    assert list(queries.throughput(store, "old")["level_kind"]) == ["batch"]
    assert queries.sweep_run_ids(store) == ["old"]


def test_chart_holds_both_kinds_in_one_figure():
    import pandas as pd

    from core import charts

    rows = pd.DataFrame([
        {"model": "a", "level_kind": kind, "batch_size": b, "latency_ms_mean": 10.0 * b, "tokens_per_s": 5.0 * b,
         "identical_to_b1": 1.0}
        for kind in ("batch", "concurrency") for b in (1, 2)] + [
        {"model": "srv", "level_kind": "concurrency", "batch_size": b, "latency_ms_mean": 3.0, "tokens_per_s": 9.0 * b,
         "identical_to_b1": 0.5} for b in (1, 4)])
    chart = charts.throughput_chart(rows)
    fig = chart.figure()
    assert [t.name for t in fig.data] == ["a · batch size", "a · requests in flight", "srv"]
    assert list(fig.data[0].text) == ["b1", "b2"] and list(fig.data[2].text) == ["1 in flight", "4 in flight"]
    assert list(fig.data[0].customdata) == ["batch size 1", "batch size 2"]
    assert "requests in flight" in chart.title and "srv 4 in flight: 50%" in chart.caption
    assert chart.png()[:4] == b"\x89PNG"


def test_worker_runs_a_queued_sweep_job(store, fake_http):
    """A sweep queued by a client (no torch, nothing sent) is measured by the worker like a run."""
    import os

    from core import jobs, queries
    from core.worker import Worker

    run_id = jobs.RunQueue(store).submit_sweep(["fake-http"], "demo-qa", concurrency="1,2", start_worker=False, limit=2,
                                               max_new_tokens=2, name="served sweep")
    row = store.get_run(run_id)
    assert row.status == "queued" and row.manifest["kind"] == "throughput_sweep" and fake_http.requests == 0
    worker = Worker(store, cores=None, metrics_port=None)
    worker.claim()
    assert store.claim_next_run(os.getpid()) == run_id
    worker.execute(run_id)
    assert store.get_run(run_id).status == "completed" and store.get_run(run_id).name == "served sweep"
    rows = queries.throughput(store, run_id)
    assert list(zip(rows["level_kind"], rows["batch_size"])) == [("concurrency", 1), ("concurrency", 2)]
    assert jobs.RunQueue(store).snapshot(run_id).state == "completed"


def test_queue_sweep_checks_the_plan_before_storing(store, fake_http):
    from core import jobs

    with pytest.raises(ValueError, match="--batch-sizes applies to local models"):
        jobs.RunQueue(store).submit_sweep(["fake-http"], "demo-qa", "1,2", start_worker=False)
    assert store.runs_df().empty


def test_report_lists_both_level_kinds(demo_run, tmp_path):
    import shutil

    from core import reports
    from core.reports.model import ReportOptions
    from core.reports.run_report import build_report
    from core.store import Store

    path, run_id = demo_run
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    store = Store(copy)
    store.append_throughput([{"run_id": run_id, "model": m, "batch_size": b, "level_kind": kind, "n_requests": 4,
                              "tokens_per_s": 10.0 * b, "requests_per_s": 2.0 * b, "latency_ms_mean": 50.0 * b,
                              "ttft_ms": 5.0, "mem_added_mb": None if kind == "concurrency" else 0.5, "identical_to_b1": 1.0}
                             for m, kind in (("demo-tiny", "batch"), ("served", "concurrency")) for b in (1, 2)])
    report = build_report(store, run_id, ReportOptions(generated_at="2026-01-01 00:00 UTC"))
    levels = [row[1] for row in report.throughput_table.rows]
    assert levels == ["batch size 1", "batch size 2", "1 in flight", "2 in flight"]
    assert "Requests in flight (HTTP models)" in report.throughput_table.note
    assert [c.level_kind for c in report.throughput.curves] == ["batch", "concurrency"]
    assert "2 in flight" in reports.html(report)


@pytest.mark.slow
def test_http_sweep_against_a_real_transformers_serve(store):
    """End to end against the HTTP tests' real `transformers serve` (tests/helpers_http.py)."""
    from helpers_http import MODEL_DIR, shared_server

    from core import catalog
    from core.throughput import sweep

    if not (MODEL_DIR / "config.json").is_file():
        pytest.skip(f"no model at {MODEL_DIR}")
    server = shared_server(MODEL_DIR)
    store.add_model(catalog.make_http_spec("small-http", server.base_url, server.served_model, endpoint="completions",
                                           tokenizer=str(MODEL_DIR), max_concurrency=4))
    result = sweep(store, ["small-http"], "demo-qa", concurrency="1,2", limit=3, max_new_tokens=4)
    rows = result.rows
    assert list(rows["batch_size"]) == [1, 2] and set(rows["level_kind"]) == {"concurrency"}
    assert (rows["tokens_per_s"] > 0).all() and (rows["ttft_ms"] > 0).all() and rows["mem_added_mb"].isna().all()
    assert rows["identical_to_b1"].between(0, 1).all()


def _sweep_only_store(tmp_path):  # noqa: ANN001, ANN202 - a run with sweep rows and no samples
    import os

    from core.schemas import PromptSet, RunSpec
    from core.store import Store

    store = Store(tmp_path / "sweep.duckdb")
    spec = RunSpec(models=("demo-tiny", "demo-small"), prompt_set="demo-qa", repeats=1, name="sweep")
    store.create_run("sw", spec, PromptSet("demo-qa", "x", ()), 0, {}, os.getpid())
    store.append_throughput([{"run_id": "sw", "model": m, "batch_size": b, "level_kind": "batch", "n_requests": 4,
                              "tokens_per_s": 10.0 * b, "requests_per_s": 2.0 * b, "latency_ms_mean": 50.0 * b,
                              "ttft_ms": 5.0, "mem_added_mb": 0.5, "identical_to_b1": 1.0}
                             for m in ("demo-tiny", "demo-small") for b in (1, 2)])
    store.set_run_status("sw", "completed")
    return store


def test_a_sweep_only_runs_report_is_its_sweep_in_every_format(tmp_path):
    """A sweep-only run's report had every sample section, empty ("no values in this run, not compared"
    six times), and its PDF had no throughput section at all."""
    import shutil
    import subprocess

    from core import reports
    from core.reports.model import ReportOptions
    from core.reports.run_report import SWEEP_WHY, build_report

    store = _sweep_only_store(tmp_path)
    opts = ReportOptions(generated_at="2026-01-01 00:00 UTC")
    report = build_report(store, "sw", opts)
    assert list(report.sections) == ["summary", "throughput", "environment"]
    assert report.summary.why == SWEEP_WHY and report.summary.notes == ()
    md = reports.write_report(store, "sw", "md", tmp_path / "r.md", opts)[0].read_text()
    assert "## Throughput sweep" in md and "batch size 2" in md
    assert [row[-1] for row in report.model_table.rows] == ["swept", "swept"]  # not "not run"
    assert "KPI tables" not in md and "Pairwise" not in md and "Key verdicts" not in md and "not compared" not in md
    html = reports.html(report)
    assert 'id="throughput"' in html and 'id="kpis"' not in html and 'id="comparisons"' not in html
    pdf = reports.write_report(store, "sw", "pdf", tmp_path / "r.pdf", opts)[0]
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Throughput sweep" in text and "batch size 2" in text and "KPI tables" not in text


def test_a_runs_pdf_report_has_its_throughput_section(demo_run, tmp_path):
    import shutil
    import subprocess

    from core import reports
    from core.reports.model import ReportOptions
    from core.store import Store

    if not shutil.which("pdftotext"):
        pytest.skip("needs pdftotext (apt-get install poppler-utils)")
    path, run_id = demo_run
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    store = Store(copy)
    opts = ReportOptions(generated_at="2026-01-01 00:00 UTC")
    pdf = reports.write_report(store, run_id, "pdf", tmp_path / "before.pdf", opts)[0]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Throughput sweep" not in text
    store.append_throughput([{"run_id": run_id, "model": "demo-tiny", "batch_size": b, "level_kind": "batch", "n_requests": 4,
                              "tokens_per_s": 10.0 * b, "requests_per_s": 2.0 * b, "latency_ms_mean": 50.0 * b,
                              "ttft_ms": 5.0, "mem_added_mb": 0.5, "identical_to_b1": 1.0} for b in (1, 2)])
    pdf = reports.write_report(store, run_id, "pdf", tmp_path / "after.pdf", opts)[0]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Throughput sweep" in text and "batch size 2" in text
