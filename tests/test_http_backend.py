"""The OpenAI-compatible HTTP backend against a real `transformers serve` process.

Faults come from real processes too: the server is SIGKILLed mid-run, a loopback proxy
answers 429/503 with Retry-After, 400, or never answers, and a closed port refuses.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from helpers_http import MODEL_DIR, FaultProxy, closed_port, shared_server

from core import catalog, config, prompts
from core.backends.http import OpenAIBackend
from core.backends.http_errors import EndpointUnavailableError, HTTPRequestError, backoff_s, retry_after_s
from core.backends.serving import RequestRecord, serving_stats
from core.measure import GenerationStopped, classify_error
from core.runner import Runner
from core.schemas import GenerationParams, PromptItem, RunSpec
from core.store import Store

pytestmark = pytest.mark.timeout(240)
no_model = pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(), reason=f"no model at {MODEL_DIR}")


def served(test):
    """A test against the real `transformers serve` process (end to end: marked slow)."""
    return pytest.mark.slow(no_model(test))

# the demo prompts (written with the demo models by scripts/train_demo_models.py)
PROMPT_SET = "demo-qa" if "demo-qa" in prompts.all_sets() else "business-core"
ITEM = PromptItem(id="t1", prompt="Summarise: revenue rose 12% on new contracts.", system="Be concise.")
GEN = GenerationParams(max_new_tokens=8)


@pytest.fixture(scope="module")
def server():
    return shared_server(MODEL_DIR)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "results.duckdb")


def http_entry(store: Store, name: str, base_url: str, served: str, **kw):
    kw.setdefault("endpoint", "completions")  # the prompt text as sent; chat renders the same (see below)
    kw.setdefault("tokenizer", str(MODEL_DIR))
    kw.setdefault("max_concurrency", 8)
    spec = catalog.make_http_spec(name, base_url, served, **kw)
    store.add_model(spec)
    return spec


def run(store: Store, models: tuple[str, ...], limit: int = 5, **kw) -> str:
    kw.setdefault("generation", GenerationParams(max_new_tokens=16))
    spec = RunSpec(models=models, prompt_set=PROMPT_SET, limit=limit, **kw)
    runner = Runner(store)
    run_id = runner.create(spec)
    runner.execute(run_id)
    return run_id


def rows(store: Store, run_id: str):
    return store.samples_df(run_id)


# --------------------------------------------------------------------------- happy path


@served
def test_demo_prompts_through_http_backend_store_complete_rows(server, store):
    http_entry(store, "small-http", server.base_url, server.served_model)
    run_id = run(store, ("small-http",))
    df = rows(store, run_id)
    assert list(df["status"]) == ["ok"] * 5
    assert (df["ttft_ms"] > 0).all() and (df["latency_ms"] >= df["ttft_ms"]).all()
    assert (df["output_tokens"] > 0).all() and (df["input_tokens"] > 0).all()
    assert set(df["token_source"]) == {"server_usage"}
    assert df["quality"].notna().all()
    assert (df["attempts"] == 1).all() and set(df["device"]) == {"remote"}
    assert df["peak_rss_mb"].isna().all() and df["peak_accel_mb"].isna().all()  # not observable: never zero
    rm = store.run_models_df(run_id).iloc[0]
    assert rm["memory_note"].startswith("not applicable") and rm["endpoint"] == server.base_url
    assert rm["concurrency"] == 1 and rm["requests_per_s"] > 0 and rm["output_tps"] > 0
    # usage counts agree with the model's own tokenizer
    assert df["output_tokens"].max() <= 16


@served
def test_usage_missing_falls_back_to_tokenizer_and_is_recorded(server, store):
    proxy = FaultProxy(server.port, default=("strip_usage",))
    try:
        http_entry(store, "with-usage", server.base_url, server.served_model)
        http_entry(store, "no-usage", proxy.base_url, server.served_model)
        http_entry(store, "no-usage-no-tok", proxy.base_url, server.served_model, tokenizer=None)
        run_id = run(store, ("with-usage", "no-usage", "no-usage-no-tok"), limit=3)
    finally:
        proxy.close()
    df = rows(store, run_id).set_index(["model", "item_id"])
    assert set(df.loc["no-usage", "token_source"]) == {"tokenizer_fallback"}
    assert set(df.loc["no-usage-no-tok", "token_source"]) == {"stream_chunks"}
    assert df.loc["no-usage-no-tok", "input_tokens"].isna().all()
    # the tokenizer's counts equal the server's for the same greedy outputs
    assert list(df.loc["no-usage", "output_text"]) == list(df.loc["with-usage", "output_text"])
    # the server counts an end-of-sequence token it generated; the text (re-tokenised) does not hold it
    diff = df.loc["with-usage", "output_tokens"].to_numpy() - df.loc["no-usage", "output_tokens"].to_numpy()
    assert set(diff) <= {0, 1}
    assert list(df.loc["no-usage", "input_tokens"]) == list(df.loc["with-usage", "input_tokens"])


@served
def test_concurrency_records_throughput_and_goodput(server, store):
    http_entry(store, "small-http", server.base_url, server.served_model)
    run_id = run(store, ("small-http",), limit=6, concurrency=3, goodput_ttft_ms=600_000, goodput_latency_ms=600_000)
    df = rows(store, run_id)
    assert list(df["status"]) == ["ok"] * 6 and list(df["seq"]) == list(range(6))
    rm = store.run_models_df(run_id).iloc[0]
    assert rm["concurrency"] == 3 and rm["requests_per_s"] > 0 and rm["output_tps"] > 0
    assert rm["goodput"] == 1.0 and rm["goodput_ttft_ms"] == 600_000
    # the requests overlapped: their latencies add up to more than the wall time they took together
    assert df["latency_ms"].sum() / 1000.0 > rm["serving_wall_s"]
    assert rm["requests_per_s"] == pytest.approx(6 / rm["serving_wall_s"])
    assert rm["output_tps"] == pytest.approx(df["output_tokens"].sum() / rm["serving_wall_s"])
    # reported beside the other KPIs (the dashboard's and the reports' KPI table)
    from core import analysis

    kpi = analysis.kpi_table(store, run_id, intervals=False)
    assert kpi.value("small-http", "requests_per_s") == pytest.approx(rm["requests_per_s"])
    assert kpi.value("small-http", "output_tps_serving") == pytest.approx(rm["output_tps"])
    assert kpi.value("small-http", "goodput") == 1.0
    assert kpi.value("small-http", "peak_rss_mb_max") is None  # memory: not applicable, never zero


@served
def test_goodput_counts_requests_outside_the_user_limits(server, store):
    http_entry(store, "small-http", server.base_url, server.served_model)
    # no real request answers its first token within a microsecond: goodput 0, though every request succeeded
    run_id = run(store, ("small-http",), limit=4, concurrency=2, goodput_ttft_ms=0.001)
    assert set(rows(store, run_id)["status"]) == {"ok"}
    rm = store.run_models_df(run_id).iloc[0]
    assert rm["goodput"] == 0.0 and rm["goodput_ttft_ms"] == 0.001 and pd.isna(rm["goodput_latency_ms"])


@served
def test_entry_max_concurrency_caps_the_run(server, store):
    http_entry(store, "capped", server.base_url, server.served_model, max_concurrency=2)
    run_id = run(store, ("capped",), limit=2, concurrency=8)
    assert store.run_models_df(run_id).iloc[0]["concurrency"] == 2


def test_serving_stats_goodput_counts_failures_and_limits():
    recs = [RequestRecord(0.0, 1.0, True, 100.0, 1000.0, 10), RequestRecord(0.5, 2.0, True, 900.0, 1500.0, 20),
            RequestRecord(1.0, 2.0, False, None, 1000.0, None)]
    st = serving_stats(recs, concurrency=2, ttft_limit_ms=500.0, latency_limit_ms=2000.0)
    assert st.wall_s == 2.0 and st.requests_per_s == 1.0 and st.output_tps == 15.0
    assert st.goodput == pytest.approx(1 / 3)
    assert serving_stats(recs, 2).goodput is None  # no limits set: no goodput


# --------------------------------------------------------------------------- faults


@served
def test_retries_honour_retry_after_on_429_and_503(server):
    proxy = FaultProxy(server.port, script=[("status", 429, {"Retry-After": "1"}), ("status", 503, {"Retry-After": "0.5"})])
    try:
        spec = catalog.make_http_spec("p", proxy.base_url, server.served_model, endpoint="completions")
        backend = OpenAIBackend(spec, RunSpec(models=("p",), prompt_set=PROMPT_SET))
        m = backend.generate(ITEM, GEN, deadline=time.perf_counter() + 60, cancel=None, seed=None)
    finally:
        proxy.close()
    assert m.attempts == 3 and m.text is not None and m.output_tokens > 0
    t = [r[2] for r in proxy.requests]
    assert len(t) == 3
    assert t[1] - t[0] >= 1.0  # Retry-After: 1 honoured
    assert t[2] - t[1] >= 0.5
    assert m.latency_ms < (t[2] - t[0]) * 1000.0  # latency is the successful attempt's, not the backoff


@served
def test_every_failure_is_a_row_with_its_kind_and_attempts(server, store):
    script = [
        ("forward",),  # warm-up
        ("status", 400, {}, '{"error": {"message": "bad prompt"}}'),  # bad_request: never retried
        ("status", 429, {"Retry-After": "0.1"}), ("status", 429, {"Retry-After": "0.1"}),  # rate_limited x2
        ("status", 503, {"Retry-After": "0.1"}), ("status", 500, {}),  # server_error x2
        ("hang",), ("hang",),  # timeout
        ("status", 429, {"Retry-After": "0.1"}), ("forward",),  # recovered on the second attempt
    ]
    proxy = FaultProxy(server.port, script=script)
    try:
        http_entry(store, "faulty", proxy.base_url, server.served_model, max_retries=1, request_timeout_s=3.0)
        run_id = run(store, ("faulty",), limit=5, timeout_s=10.0, max_consecutive_failures=10)
    finally:
        proxy.close()
    df = rows(store, run_id)
    got = list(zip(df["status"], df["error_kind"].fillna("-"), df["attempts"], strict=True))
    assert got == [
        ("error", "bad_request", 1),
        ("error", "rate_limited", 2),
        ("error", "server_error", 2),
        ("timeout", "timeout", 2),
        ("ok", "-", 2),
    ]
    assert f"rate_limited from {proxy.base_url} after 2 attempt(s)" in df["error_message"].iloc[1]
    assert 6_000 <= df["latency_ms"].iloc[3] <= 10_500  # two 3 s read timeouts and a backoff, within the 10 s limit


def test_never_answering_server_times_out_within_the_limit():
    proxy = FaultProxy(None, default=("hang",))
    try:
        spec = catalog.make_http_spec("h", proxy.base_url, "m", endpoint="completions", request_timeout_s=0.8)
        backend = OpenAIBackend(spec, RunSpec(models=("h",), prompt_set=PROMPT_SET, timeout_s=2.0))
        t0 = time.perf_counter()
        with pytest.raises(GenerationStopped) as info:
            backend.generate(ITEM, GEN, deadline=t0 + 2.0, cancel=None, seed=None)
        elapsed = time.perf_counter() - t0
    finally:
        proxy.close()
    assert info.value.kind == "timeout" and info.value.attempts >= 2
    assert 0.8 <= elapsed <= 2.0 + 0.5
    assert "within the per-sample limit" in info.value.message or "timeout from" in info.value.message


def test_dead_endpoint_skips_the_model_with_the_endpoint_named(store):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    http_entry(store, "dead", url, "m", max_retries=1)
    t0 = time.perf_counter()
    run_id = run(store, ("dead",), limit=3, timeout_s=5.0)
    assert time.perf_counter() - t0 < 30
    df = rows(store, run_id)
    assert set(df["status"]) == {"skipped"} and set(df["error_kind"]) == {"model_unavailable"}
    assert url in df["error_message"].iloc[0] and "connection" in df["error_message"].iloc[0]
    assert store.get_run(run_id).status == "completed"


def test_missing_api_key_variable_skips_the_model(store, monkeypatch):
    monkeypatch.delenv("LLM_EVAL_NO_SUCH_KEY", raising=False)
    http_entry(store, "nokey", "http://127.0.0.1:9/v1", "m", api_key_env="LLM_EVAL_NO_SUCH_KEY")
    df = rows(store, run(store, ("nokey",), limit=2))
    assert set(df["status"]) == {"skipped"}
    assert "LLM_EVAL_NO_SUCH_KEY is not set" in df["error_message"].iloc[0]


@served
def test_server_killed_mid_run_breaker_opens_and_resume_completes(server, store):
    http_entry(store, "killable", server.base_url, server.served_model, max_retries=1)
    done = []

    def on_event(e) -> None:  # noqa: ANN001
        if e.phase == "sample":
            done.append(e)
            if len(done) == 3:
                server.kill()

    spec = RunSpec(models=("killable",), prompt_set=PROMPT_SET, limit=8, timeout_s=10.0, max_consecutive_failures=2,
                   generation=GenerationParams(max_new_tokens=16))
    runner = Runner(store, on_event=on_event)
    run_id = runner.create(spec)
    result = runner.execute(run_id)
    assert result.status == "completed"
    df = rows(store, run_id)
    assert list(df["status"][:3]) == ["ok"] * 3  # nothing measured is lost
    assert list(df["error_kind"][3:5]) == ["connection", "connection"]
    assert (df["attempts"][3:5] == 2).all()
    skipped = df[df["status"] == "skipped"]
    assert len(skipped) == 3 and set(skipped["error_kind"]) == {"circuit_open"}
    assert server.base_url in skipped["error_message"].iloc[0]
    kept = df.iloc[:3][["result_key", "output_text", "finished_at"]].to_dict("records")

    shared_server(MODEL_DIR)  # back on the same port
    result = Runner(store).execute(run_id)
    df = rows(store, run_id)
    assert result.status == "completed" and list(df["status"]) == ["ok"] * 8
    assert df.iloc[:3][["result_key", "output_text", "finished_at"]].to_dict("records") == kept  # not re-run


# --------------------------------------------------------------------------- secrets


def _all_text(db: Path) -> str:
    """Every value of every table, as text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            out.append(con.execute(f'SELECT * FROM "{table}"').df().to_csv())
        return "\n".join(out)
    finally:
        con.close()


def _mlflow_text(uri: str, run_id: str) -> str:
    """Every param, metric name and tag of the MLflow runs mirrored for run_id, as text."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    out = []
    for exp in client.search_experiments():
        for r in client.search_runs([exp.experiment_id], filter_string=f"tags.`llm_eval.run_id` = '{run_id}'"):
            out.append(json.dumps({"params": r.data.params, "metrics": sorted(r.data.metrics), "tags": r.data.tags}))
    assert out, f"no MLflow run mirrored for {run_id}"
    return "\n".join(out)


@served
def test_api_key_is_sent_and_never_stored_logged_or_exported(server, tmp_path):
    key = f"sk-test-{uuid.uuid4().hex}"
    db = tmp_path / "secret.duckdb"
    # the 400 body echoes the Authorization header: the error row must not carry it
    proxy = FaultProxy(server.port, script=[("forward",), ("status", 400, {}, '{"error": {"message": "bad auth {authorization}"}}')])
    # the MLflow mirror on (an SQLite store beside the database), the openai client's debug logging on
    env = {**os.environ, "LLM_EVAL_TEST_KEY": key, "OPENAI_LOG": "debug", "PYTHONPATH": str(config.ROOT),
           "LLM_EVAL_MLFLOW": "on", "LLM_EVAL_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    env.pop("LLM_EVAL_MLFLOW_EXPERIMENT", None)
    outputs = []

    def cli(*args: str) -> str:
        p = subprocess.run([sys.executable, "-m", "core", *args, "--db", str(db)], cwd=config.ROOT, env=env,
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr[-2000:]
        outputs.append(p.stdout + p.stderr)
        return p.stdout

    try:
        cli("models", "add", "keyed", "--openai-base-url", proxy.base_url, "--served-model", server.served_model,
            "--api-key-env", "LLM_EVAL_TEST_KEY", "--endpoint", "completions")
        out = cli("run", "--models", "keyed", "--prompt-set", PROMPT_SET, "--limit", "3", "--max-new-tokens", "8")
        run_id = out.split("run id: ")[1].split()[0]
        cli("models", "list")
        for fmt in ("csv", "json"):
            cli("results", run_id, "--format", fmt, "--out", str(tmp_path / f"results.{fmt}"))
        cli("results", run_id, "--format", "parquet", "--out", str(tmp_path / "results.parquet"))
    finally:
        proxy.close()
    auth = {h.get("authorization") for _, h, _ in proxy.requests}
    assert auth == {f"Bearer {key}"}  # sent on every request
    store = Store(db)
    df = store.samples_df(run_id)
    assert list(df["status"]) == ["error", "ok", "ok"] and "***" in df["error_message"].iloc[0]
    logs = "\n".join(outputs)
    assert "Authorization" in logs or "HTTP Request" in logs or "Request options" in logs  # the debug log was on
    assert store.get_run(run_id).mlflow_status == "synced"  # the mirror ran: its params are searched below
    mlflow_text = _mlflow_text(f"sqlite:///{tmp_path / 'mlflow.db'}", run_id)
    assert "LLM_EVAL_TEST_KEY" in mlflow_text and "serving.requests_per_s" in mlflow_text
    from core.reports import render_html, write_report

    for fmt, name in (("md", "report.md"), ("csv", "report.csv")):
        write_report(store, run_id, fmt, tmp_path / "reports" / name)
    places = {
        "cli output and logs": logs,
        "mlflow params, metrics and tags": mlflow_text,
        "html report": render_html(store, run_id),
        "database values": _all_text(db),
        "exported csv": (tmp_path / "results.csv").read_text(),
        "exported json": (tmp_path / "results.json").read_text(),
        "exported parquet": pd.read_parquet(tmp_path / "results.parquet").to_csv(),
    }
    for f in tmp_path.rglob("*"):  # every file written beside the database (DuckDB, WAL, tracking stores, exports)
        if f.is_file():
            places[f"file {f.relative_to(tmp_path)}"] = f.read_bytes().decode("latin-1")
    assert "LLM_EVAL_TEST_KEY" in places["database values"]  # the variable's name is stored, not its value
    for where, text in places.items():
        assert key not in text, f"API key leaked into {where}"
        assert key[8:24] not in text, f"part of the API key leaked into {where}"


def test_catalog_refuses_secrets_in_the_entry():
    with pytest.raises(catalog.CatalogError, match="NAME of an environment variable"):
        catalog.make_http_spec("x", "http://127.0.0.1:1/v1", "m", api_key_env="sk-abc-123")
    with pytest.raises(catalog.CatalogError, match="secret"):
        catalog.make_http_spec("x", "http://127.0.0.1:1/v1", "m", extra_headers={"Authorization": "Bearer k"})
    with pytest.raises(catalog.CatalogError, match="credentials"):
        catalog.make_http_spec("x", "http://user:pw@127.0.0.1:1/v1", "m")
    spec = catalog.make_http_spec("x", "http://127.0.0.1:1/v1", "m", extra_headers={"X-Team": "eval"},
                                  price_basis={"kind": "hourly", "usd_per_hour": 2.5})
    assert json.loads(spec.to_json())["extra_headers"] == {"X-Team": "eval"}


# --------------------------------------------------------------------------- small pieces


def test_retry_after_parsing_and_backoff_bounds():
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_s({"retry-after": date}) <= 31
    assert retry_after_s({}) is None
    for attempt in (1, 2, 3, 10):
        full = min(8.0, 0.5 * 2 ** (attempt - 1))
        assert full / 2 <= backoff_s(attempt) <= full


def test_errors_classify_into_http_kinds():
    assert classify_error(HTTPRequestError("rate_limited", "m", 3, "http://x")) == "rate_limited"
    err = EndpointUnavailableError("gone")
    assert isinstance(err, catalog.ModelUnavailableError)


# --------------------------------------------------------------------------- chat template (issue 11)

NO_TEMPLATE_BODY = ('{"error": {"message": "Cannot use chat template functions because tokenizer.chat_template is '
                    'not set and no template argument was passed!", "type": "server_error"}}')


@pytest.mark.parametrize("name", ["demo-tiny", "demo-small", "demo-base"])
def test_demo_tokenizers_have_a_chat_template_that_renders_the_completions_prompt(name):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(config.MODELS_DIR / name, local_files_only=True)
    assert tok.chat_template, "the demo models must be servable on the chat endpoint"
    backend = OpenAIBackend(catalog.make_http_spec("h", "http://127.0.0.1:9/v1", "m"), RunSpec(models=("h",), prompt_set=PROMPT_SET))
    for item in (ITEM, PromptItem(id="u", prompt="Question: plural of cat?\nAnswer:")):
        messages = ([{"role": "system", "content": item.system}] if item.system else []) + [
            {"role": "user", "content": item.prompt}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert text == backend.prompt_text(item)  # chat and completions give the model the same text
        assert tok(text, add_special_tokens=False)["input_ids"] == tok(backend.prompt_text(item))["input_ids"]


def test_chat_endpoint_counts_prompt_tokens_through_the_template_without_usage():
    from core.backends.http import _Streamed

    spec = catalog.make_http_spec("h", "http://127.0.0.1:9/v1", "m", tokenizer=str(MODEL_DIR))  # chat endpoint
    backend = OpenAIBackend(spec, RunSpec(models=("h",), prompt_set=PROMPT_SET))
    n_in, n_out, source = backend._counts(ITEM, _Streamed("revenue rose", 0.0, 0.1, 0.2, None, 2))
    tok = backend.tokenizer()
    assert source == "tokenizer_fallback" and n_in == len(tok(backend.prompt_text(ITEM))["input_ids"]) > 2
    assert n_out == len(tok("revenue rose", add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("status", [500, 400])
def test_missing_chat_template_says_so_and_suggests_completions(store, status):
    proxy = FaultProxy(None, default=("status", status, {}, NO_TEMPLATE_BODY))
    try:
        spec = catalog.make_http_spec("h", proxy.base_url, "m", max_retries=3)  # the default: chat endpoint
        backend = OpenAIBackend(spec, RunSpec(models=("h",), prompt_set=PROMPT_SET, timeout_s=10.0))
        with pytest.raises(HTTPRequestError) as info:
            backend.generate(ITEM, GEN, deadline=time.perf_counter() + 10.0, cancel=None, seed=None)
        assert info.value.attempts == 1 and len(proxy.requests) == 1  # the same answer every time: not retried
        assert info.value.error_kind == "bad_request"
        message = str(info.value)
        assert "has no chat template" in message and "--endpoint completions" in message
        assert f"{status}" in message  # the server's own words stay in the message
        http_entry(store, "nochat", proxy.base_url, "m", endpoint="chat")
        df = rows(store, run(store, ("nochat",), limit=2, timeout_s=10.0))
    finally:
        proxy.close()
    assert set(df["status"]) == {"skipped"} and "--endpoint completions" in df["error_message"].iloc[0]


def test_other_server_errors_keep_their_kind_and_retries():
    proxy = FaultProxy(None, default=("status", 500, {}, '{"error": {"message": "out of memory"}}'))
    try:
        spec = catalog.make_http_spec("h", proxy.base_url, "m", max_retries=1)
        backend = OpenAIBackend(spec, RunSpec(models=("h",), prompt_set=PROMPT_SET, timeout_s=10.0))
        with pytest.raises(HTTPRequestError) as info:
            backend.generate(ITEM, GEN, deadline=time.perf_counter() + 10.0, cancel=None, seed=None)
    finally:
        proxy.close()
    assert info.value.error_kind == "server_error" and info.value.attempts == 2
    assert "chat template" not in str(info.value)


@served
def test_a_served_demo_model_answers_the_same_on_chat_and_completions(server, store):
    http_entry(store, "via-completions", server.base_url, server.served_model)
    http_entry(store, "via-chat", server.base_url, server.served_model, endpoint="chat")
    df = rows(store, run(store, ("via-completions", "via-chat"), limit=4)).set_index(["model", "item_id"])
    assert set(df["status"]) == {"ok"}
    assert list(df.loc["via-chat", "output_text"]) == list(df.loc["via-completions", "output_text"])
