"""AppTest of the dashboard's HTTP-model wiring: add an HTTP model (Models), run it with N requests
in flight and goodput limits (Run), and the parity of local vs HTTP paths (Compare).

The runs go to a real `transformers serve` process serving demo-small (tests/helpers_http.py).
"""
from __future__ import annotations

import time

from pathlib import Path

import pytest
from helpers_http import MODEL_DIR, shared_server
from streamlit.testing.v1 import AppTest

from core import catalog, jobs, prompts
from core.compare import factor_text
from core.parity import run_parity
from core.store import Store

pytestmark = [pytest.mark.timeout(600), pytest.mark.skipif(not (MODEL_DIR / "config.json").is_file(),
                                                             reason=f"no model at {MODEL_DIR}")]

APP = Path(__file__).resolve().parents[1] / "app.py"
PROMPT_SET = "demo-qa" if "demo-qa" in prompts.all_sets() else "business-core"


def _open(db: Path, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _fill_http_form(at: AppTest, **values: object) -> AppTest:
    for key, value in values.items():
        widget = at.selectbox(key=f"models.http.{key}") if key == "endpoint" else (
            at.number_input(key=f"models.http.{key}") if key in ("timeout", "max_concurrency", "max_retries", "usd_per_hour")
            else at.text_area(key=f"models.http.{key}") if key == "headers" else at.text_input(key=f"models.http.{key}"))
        widget.set_value(value)
    next(b for b in at.button if b.label == "Add HTTP model").click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_models_page_adds_an_http_model_and_refuses_a_key_in_place_of_a_name(tmp_path, monkeypatch):
    db = tmp_path / "models.duckdb"
    at = _open(db, monkeypatch, "pages/7_models.py")
    _fill_http_form(at, name="remote-small", base_url="http://127.0.0.1:8000/v1", served_model="demo-small",
                    endpoint="completions", api_key_env="sk-live-abcdef123456")
    assert "NAME of an environment variable" in "\n".join(str(e.value) for e in [*at.error, *at.code])
    assert Store(db).user_models() == []

    _fill_http_form(at, api_key_env="MY_ENDPOINT_KEY", max_concurrency=4, usd_per_hour=2.5, headers="X-Team: eval")
    (spec,) = Store(db).user_models()
    assert (spec.kind, spec.base_url, spec.served_model, spec.endpoint, spec.api_key_env, spec.max_concurrency) == (
        "http", "http://127.0.0.1:8000/v1", "demo-small", "completions", "MY_ENDPOINT_KEY", 4)
    assert spec.extra_headers == {"X-Team": "eval"} and spec.price_basis == {"kind": "hourly", "usd_per_hour": 2.5}
    at.run()
    assert "remote-small" in set(at.dataframe[0].value["name"])


@pytest.mark.slow
def test_run_page_runs_an_http_model_with_requests_in_flight_and_goodput(tmp_path, monkeypatch):
    server = shared_server(MODEL_DIR)
    db = tmp_path / "run.duckdb"
    Store(db).add_model(catalog.make_http_spec("small-http", server.base_url, server.served_model, endpoint="completions",
                                               max_concurrency=8))
    at = _open(db, monkeypatch, "pages/2_run.py")
    assert not _has(at, "run.concurrency")  # shown only when an HTTP model is selected
    at.multiselect(key="run.models").set_value(["small-http"]).run()
    at.multiselect(key="run.sets").set_value([PROMPT_SET])
    at.number_input(key="run.limit").set_value(4)
    at.number_input(key="run.max_new").set_value(8)
    at.number_input(key="run.concurrency").set_value(2)
    at.number_input(key="run.goodput_latency").set_value(600_000.0)
    at.button(key="run.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_id = str(Store(db).runs_df().iloc[0]["run_id"])
    queue = jobs.RunQueue(Store(db))
    deadline = time.monotonic() + 240
    while (snap := queue.snapshot(run_id)).state not in ("completed", "failed", "interrupted"):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)
    assert snap.state == "completed", (snap.error, snap.messages)
    store = Store(db)
    row = store.get_run(snap.run_id)
    assert (row.spec.concurrency, row.spec.goodput_latency_ms, row.spec.goodput_ttft_ms) == (2, 600_000.0, None)
    assert list(store.samples_df(snap.run_id)["status"]) == ["ok"] * 4
    rm = store.run_models_df(snap.run_id).iloc[0]
    assert rm["concurrency"] == 2 and rm["goodput"] == 1.0 and rm["requests_per_s"] > 0


def _has(at: AppTest, key: str) -> bool:
    try:
        at.number_input(key=key)
    except KeyError:
        return False
    return True


@pytest.mark.slow
def test_compare_page_shows_parity_of_local_and_http_paths(tmp_path, monkeypatch):
    server = shared_server(MODEL_DIR)
    db = tmp_path / "parity.duckdb"
    store = Store(db)
    store.add_model(catalog.make_spec("local-path", str(MODEL_DIR)))
    store.add_model(catalog.make_http_spec("http-path", server.base_url, server.served_model, endpoint="completions"))
    report = run_parity(store, "local-path", "http-path", PROMPT_SET, limit=4, max_new_tokens=12, device="cpu")
    assert report.n_compared == 4
    at = _open(db, monkeypatch, "pages/4_compare.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Identical outputs"] == f"{report.identical_share:.0%}"
    assert report.same_weights is None  # an HTTP entry: the page says it compares paths
    assert metrics["Latency, ratio of medians (B / A)"] == factor_text(report.latency_ratio.estimate)
    assert (at.selectbox(key="compare.parity_a").value, at.selectbox(key="compare.parity_b").value) == ("local-path", "http-path")
    # swapping the paths inverts the ratio
    at.selectbox(key="compare.parity_a").set_value("http-path").run()  # B's options follow A's weights
    at.selectbox(key="compare.parity_b").set_value("local-path").run()
    assert not at.exception
    swapped = {m.label: m.value for m in at.metric}["Latency, ratio of medians (B / A)"]
    assert swapped == factor_text(1 / report.latency_ratio.estimate)  # a ratio of medians inverts exactly
