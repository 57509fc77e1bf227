"""The Rate page (pages/10_rate.py, ui/rate.py) in AppTest: blind rating, resume, results behind a toggle."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.analysis import synthetic_run
from core import ratings as R
from core.queries import ratings as rq
from core.store import Store

pytestmark = pytest.mark.timeout(600)

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGE = "pages/10_rate.py"
MODELS = ("model-00", "model-01", "model-02")


def _everything(at: AppTest) -> str:
    """Every text the page shows: elements, labels, widget keys and options."""
    parts = [str(e.value) for kind in ("markdown", "caption", "info", "success", "warning", "error", "text", "code",
                                       "title", "subheader") for e in getattr(at, kind)]
    parts += [f"{b.label} {b.key}" for b in at.button] + [f"{w.label} {w.key}" for w in at.text_input]
    parts += [f"{w.label} {w.options}" for w in at.radio] + [str(w.options) for w in at.selectbox]
    return "\n".join(parts)


@pytest.fixture
def page(tmp_path, monkeypatch):
    db = tmp_path / "rate.duckdb"
    store = Store(db)
    run_id = synthetic_run(store, run_id="rated", n_models=3, n_items=4, repeats=1, error_rate=0.0)
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at, store, run_id


def test_empty_database_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_EVAL_DB", str(tmp_path / "empty.duckdb"))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception and at.title[0].value == "Rate"
    assert "No runs to rate yet" in _everything(at)


def test_absolute_rating_is_blind_stored_and_resumes(page):
    at, store, run_id = page
    assert "Give your name" in _everything(at) and not at.button
    at.text_input(key="rate.rater").input("ann").run()
    assert "0 of 12 rated by ann" in at.get("progress")[0].proto.text
    first = R.queue(store, "ann", run_id, "absolute").units[0]
    at.text_input(key="rate.comment.absolute.0").input("a bit short").run()
    at.button(key="rate.score.7").click().run()
    assert not at.exception, [e.value for e in at.exception]
    hist = rq.history(store, run_id)
    assert len(hist) == 1 and hist.iloc[0]["score"] == 7 and hist.iloc[0]["comment"] == "a bit short"
    assert (hist.iloc[0]["item_id"], hist.iloc[0]["model"]) == (first.item_id, first.models[0])  # the queue's first
    at.button(key="rate.score.10").click().run()
    assert "2 of 12 rated by ann" in at.get("progress")[0].proto.text
    assert not any(m in _everything(at) for m in MODELS)  # blind: no model name anywhere
    # come back in a new session: the queue resumes after the two rated answers
    again = AppTest.from_file(str(APP), default_timeout=120).run()
    again.switch_page(PAGE).run()
    again.text_input(key="rate.rater").input("ann").run()
    assert "2 of 12 rated by ann" in again.get("progress")[0].proto.text


def test_pairwise_rating_then_results_behind_the_toggle(page):
    at, store, run_id = page
    at.text_input(key="rate.rater").input("bob").run()
    at.radio(key="rate.mode").set_value("pairwise").run()
    assert "Answer A" in _everything(at) and "Answer B" in _everything(at)
    for pref in ("A", "B", "tie"):
        at.button(key=f"rate.pref.{pref}").click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert list(rq.history(store, run_id)["preference"]) == ["A", "B", "tie"]
    assert not any(m in _everything(at) for m in MODELS)
    at.toggle(key="rate.reveal").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m in str(df.value) for df in at.dataframe for m in MODELS)  # the results name the models
    assert "Ranking from the pairwise ratings" in _everything(at)


# --------------------------------------------------------------------------- one browser test (keyboard, blindness)

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def server(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    db = tmp_path / "browser.duckdb"
    store = Store(db)
    run_id = synthetic_run(store, run_id="rated", n_models=3, n_items=4, repeats=1, error_rate=0.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=APP.parent, env={**os.environ, "LLM_EVAL_DB": str(db)},
                            stdout=log, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("streamlit did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield url, store, run_id
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _idle(pg, done: int | None = None) -> None:
    """Wait until the rerun is over: the next prompt is shown (when `done` is given), nothing runs and no
    element is stale (a key pressed at a stale button is lost, as a click on it would be)."""
    if done is not None:
        pg.get_by_text(f"Prompt {done + 1} of 12", exact=True).wait_for(timeout=30_000)
    pg.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')"
                         " && !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_rating_with_the_keyboard_in_a_browser_never_shows_a_model_name(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright python package")
    url, store, run_id = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(f"{url}/rate")
        pg.get_by_role("heading", name="Rate", exact=True).wait_for(timeout=30_000)
        name = pg.get_by_label("Your name", exact=True).and_(pg.get_by_role("textbox"))
        name.fill("carol")
        name.press("Enter")
        pg.get_by_text("0 of 12 rated by carol").wait_for(timeout=30_000)
        _idle(pg, 0)  # the answer buttons (and their shortcuts) render after the progress line
        seen = [pg.content()]
        for key, done in (("7", 1), ("t", 2), ("0", 3)):  # scores 7, 10, 0 by keyboard
            pg.get_by_role("heading", name="Rate", exact=True).click()  # focus off the text inputs
            pg.keyboard.press(key)
            pg.get_by_text(f"{done} of 12 rated by carol").wait_for(timeout=30_000)
            _idle(pg, done)
            seen.append(pg.content())
        pg.get_by_text("Pairwise: pick the better of two answers").click()
        pg.get_by_text("0 of 12 rated by carol").wait_for(timeout=30_000)
        _idle(pg, 0)
        for key, done in (("a", 1), ("b", 2)):
            pg.get_by_role("heading", name="Rate", exact=True).click()
            pg.keyboard.press(key)
            pg.get_by_text(f"{done} of 12 rated by carol").wait_for(timeout=30_000)
            _idle(pg, done)
            seen.append(pg.content())
        assert pg.locator("[data-testid='stException']").count() == 0
        browser.close()
    hist = rq.history(store, run_id, rater="carol")
    assert list(hist["score"].dropna()) == [7, 10, 0] and list(hist["preference"].dropna()) == ["A", "B"]
    assert not [m for html in seen for m in MODELS if m in html]  # blind: no model name in the page, ever
