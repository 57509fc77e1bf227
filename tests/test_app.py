"""AppTest for every dashboard page, on an empty database and on one with a real run."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.store import Store
from tests.dashboard_support import DEMO_MODELS, demo_models_trained, populate, prepare

pytestmark = pytest.mark.timeout(600)

APP = Path(__file__).resolve().parents[1] / "app.py"
PAGES = ("pages/1_overview.py", "pages/2_run.py", "pages/3_results.py", "pages/4_compare.py", "pages/5_costs.py",
         "pages/6_prompt_sets.py", "pages/7_models.py", "pages/8_reports.py", "pages/9_sql.py",
         "pages/10_rate.py")
ANALYSIS_PAGES = {"pages/3_results.py": 1, "pages/4_compare.py": 3, "pages/5_costs.py": 2}  # plotly charts when populated
XSS = '<img src=x onerror=alert(1)><script>window.__xss = 1</script>'


def _app(db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    return at.run()


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning", "error", "text", "code")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def _newest_run(db: Path) -> str:
    return str(Store(db).runs_df().iloc[0]["run_id"])


def _wait_run(db: Path, run_id: str, pred, timeout: float = 180.0) -> jobs.JobSnapshot:
    """Wait until pred(snapshot of run_id), read through the store as the pages read it."""
    queue = jobs.RunQueue(Store(db))
    deadline = time.monotonic() + timeout
    while not pred(snap := queue.snapshot(run_id)):
        assert time.monotonic() < deadline, f"timed out waiting for run {run_id}: {snap.state} {snap.done}/{snap.planned}"
        time.sleep(0.05)
    return snap


# ------------------------------------------------------------------ empty database


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_database(tmp_path, monkeypatch, page):
    at = _open(_app(tmp_path / "empty.duckdb", monkeypatch), page)
    assert at.title[0].value
    if page.endswith("overview.py"):
        assert "No runs yet" in _texts(at)
        assert any(b.label.startswith("Run the demo") for b in at.button)
    if page.endswith("run.py"):
        assert "No run in progress" in _texts(at)
    if page.endswith("models.py"):
        assert set(DEMO_MODELS) <= set(at.dataframe[0].value["name"])
    if page in ANALYSIS_PAGES:  # an explanation instead of an error or an empty chart
        assert at.info and not at.get("plotly_chart")
    if page.endswith("reports.py"):
        assert "No runs to report on yet" in _texts(at) and not at.get("download_button")


def test_the_dashboard_never_imports_torch_and_its_run_outlives_it(tmp_path):
    """A dashboard process renders every page, starts a run, renders every page again while the worker
    measures, and never imports torch or transformers. It then exits (a restart): the run goes on in
    the worker and completes, once."""
    import os
    import signal
    import subprocess
    import sys

    db = tmp_path / "t.duckdb"
    setup = prepare(db)
    code = (
        "import sys, os, time; os.environ['LLM_EVAL_DB'] = sys.argv[1];"
        "from streamlit.testing.v1 import AppTest;"
        f"at = AppTest.from_file({str(APP)!r}).run(timeout=60);"
        f"[at.switch_page(p).run(timeout=60) for p in {list(PAGES)!r}];"
        "at.switch_page('pages/2_run.py').run(timeout=60);"
        f"at.multiselect(key='run.models').set_value([{setup.tiny!r}]);"
        "at.number_input(key='run.repeats').set_value(3);"
        "at.button(key='run.start').click().run(timeout=120);"
        f"[at.switch_page(p).run(timeout=60) for p in {list(PAGES)!r}];"
        "assert not at.exception, at.exception;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True,
                         cwd=APP.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["False", "False"]
    info = jobs.worker_info(Store(db))
    try:
        assert info is not None and info.alive  # its dashboard is gone; the worker is not
        run_id = _newest_run(db)
        snap = _wait_run(db, run_id, lambda s: s.state == "completed", timeout=240)
        assert snap.done == snap.planned == 720
        assert len(Store(db).runs_df()) == 1 and Store(db).count_samples(run_id) == 720
    finally:
        os.kill(info.pid, signal.SIGTERM)


# ------------------------------------------------------------------ populated database


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    db = tmp_path_factory.mktemp("populated") / "pop.duckdb"
    setup = prepare(db)
    run_id = populate(setup)
    return db, setup, run_id


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_populated_database(populated, monkeypatch, page):
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), page)
    if page.endswith("overview.py"):
        assert run_id in set(at.dataframe[0].value["run_id"])
        assert len(at.get("plotly_chart")) == 1
        assert '"error_y"' in at.get("plotly_chart")[0].proto.spec and "Whiskers: the interval" in _texts(at)
        assert "No runs yet" not in _texts(at)
    if page.endswith("models.py"):
        assert set(setup.models) <= set(at.dataframe[0].value["name"])
        assert len(at.get("plotly_chart")) == 1  # memory gauge
    if page in ANALYSIS_PAGES:
        assert len(at.get("plotly_chart")) == ANALYSIS_PAGES[page]


def _explorer_grid(at: AppTest):
    """The sample explorer's grid (one row per prompt), not the paged table of every sample below it."""
    return next(d.value for d in at.dataframe if "item" in d.value.columns and "prompt" in d.value.columns)


def test_results_page_charts_filters_and_export(populated, monkeypatch):
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), "pages/3_results.py")
    assert "Intervals: 95% intervals" in _texts(at)  # the interval method is shown
    kpis = at.dataframe[0].value
    assert list(kpis["model"]) == list(setup.models[:2]) and "latency_ms_p50_low" in kpis
    at.toggle(key="results.log").set_value(True).run()  # latency on a log axis (issue 11)
    assert not at.exception and '"type":"log"' in at.get("plotly_chart")[0].proto.spec.replace(" ", "")
    for kind in ("Violin", "ECDF", "Histogram"):
        at.segmented_control(key="results.kind").set_value(kind).run()
        assert not at.exception and len(at.get("plotly_chart")) == 1
    assert at.toggle(key="results.log").disabled  # no log histogram
    for metric in ("Local cost per 1,000 requests (USD)", "Quality (0-10)", "Time to first token (ms)"):
        at.selectbox(key="results.metric").set_value(metric).run()
        assert not at.exception, [e.value for e in at.exception]
    grid = _explorer_grid(at)
    assert {f"{m}: output" for m in setup.models[:2]} <= set(grid.columns) and len(grid) == 4
    assert grid["prompt"].str.startswith("Question:").all()
    assert {f"{m}: result" for m in setup.models[:2]} <= set(grid.columns)
    assert set(grid[f"{setup.models[0]}: result"]) <= {"pass", "fail", "no score", "error", "timeout"}
    at.selectbox(key="results.x_show").set_value("errors").run()
    assert "No prompt matches these filters." in _texts(at)
    at.selectbox(key="results.x_show").set_value("wrong").run()
    wrong = _explorer_grid(at) if "No prompt matches these filters." not in _texts(at) else None
    if wrong is not None:  # every listed prompt has an answer that did not pass
        assert (wrong[[f"{m}: result" for m in setup.models[:2]]] == "fail").any(axis=1).all()
    assert at.get("download_button")


def test_side_by_side_shows_two_models_word_by_word_and_hostile_text_literally(tmp_path, monkeypatch):
    """Issue 13, part 4: the Results page's 'Side by side' expander (and the end of the Compare page) pair two
    models' outputs per prompt, filter them in the store and show a model's `<script>` as text."""
    from tests.test_side_by_side import HOSTILE, _items, _Reader, _run

    from core.schemas import PromptSet

    db = tmp_path / "sbs.duckdb"
    _run(Store(db), "r1", PromptSet("qa", "test", _items()))
    at = _open(_app(db, monkeypatch), "pages/3_results.py")
    assert any(e.label.startswith("Side by side") for e in at.expander)
    assert not [s for s in at.selectbox if s.key == "results.sbs.a"]  # closed: nothing computed (issue 15)
    at.session_state["results.sbs_open"] = True  # the user opens it
    at.run()
    assert (at.selectbox(key="results.sbs.a").value, at.selectbox(key="results.sbs.b").value) == ("a", "b")
    diffs = [m.value for m in at.markdown if m.value.startswith("<div") and "pre-wrap" in m.value]
    assert len(diffs) == 20  # a page of 10 prompts, A and B each
    assert any(_Reader(d).text == HOSTILE and set(_Reader(d).tags) <= {"div", "span"} for d in diffs)  # literally
    assert not any("<script" in m.value or "<img" in m.value for m in at.markdown)
    at.selectbox(key="results.sbs.show").set_value("a_pass_b_fail").run()
    assert not at.exception and "3 prompts match" in _texts(at)
    assert any(b.label == "Download the 3 matching prompts (CSV)" for b in at.get("download_button"))
    at.text_input(key="results.sbs.text").set_value("what is 8 plus").run()
    assert "1 prompt matches" in _texts(at) and "Question 8: what is 8 plus 8?" in _texts(at)
    at.selectbox(key="results.sbs.b").set_value("a").run()
    assert "Choose two different models" in _texts(at)
    at = _open(at, "pages/4_compare.py")
    at.session_state["compare.sbs_open"] = True  # the user opens it (closed, nothing is computed)
    at.run()
    assert at.selectbox(key="compare.sbs.a").value == "a" and "12 prompts match" in _texts(at)


def test_compare_page_uses_the_champion_as_baseline(populated, monkeypatch):
    db, setup, run_id = populated
    Store(db).set_setting("champion", setup.models[1])
    try:
        at = _open(_app(db, monkeypatch), "pages/4_compare.py")
        assert at.selectbox(key="compare.baseline").value == setup.models[1]
        verdicts = [m.value for m in at.markdown if m.value.startswith("- ")]
        assert verdicts and all(setup.models[1].replace("-", "\\-") in v for v in verdicts)
        at.selectbox(key="compare.baseline").set_value("(every pair)").run()
        assert not at.exception and len(at.get("plotly_chart")) == 3
    finally:
        Store(db).set_setting("champion", None)


def test_compare_on_a_large_run_shows_every_test_without_a_switch(populated, monkeypatch):
    """Issue 15: above HEAVY_SAMPLES the pairwise tests were opt-in ('compare.go'). Now verdicts, the
    significance matrix, Pareto whiskers, drift and parity show at every size, with no switch."""
    from ui import state

    db, setup, run_id = populated
    monkeypatch.setattr(state, "HEAVY_SAMPLES", 1)  # the populated run counts as large
    at = _open(_app(db, monkeypatch), "pages/4_compare.py")
    assert not at.exception, [e.value for e in at.exception]
    assert not [t for t in at.toggle if t.key == "compare.go"]
    texts = _texts(at)
    assert "Run the pairwise tests" not in texts and "comes with the pairwise tests" not in texts
    assert [m for m in at.markdown if m.value.startswith("- ")] and len(at.get("plotly_chart")) == 3
    assert "Whiskers: intervals of the median latency" in texts
    assert "Parity: one model through two paths" in [h.value for h in at.subheader]


def test_compare_page_speaks_plainly_about_ratios_the_table_and_parity(tmp_path, monkeypatch):
    """Issue 11, items 6, 7 and 19: the heatmap's mirrored cells are reciprocal and name their statistic,
    the table has labels (no column names, 'None' or long p-values), and parity offers only entries of
    the same weights (and says so when a run has none)."""
    import base64
    import json

    import numpy as np

    from bench.analysis import synthetic_run
    from core.compare import factor_text

    db = tmp_path / "compare.duckdb"
    store = Store(db)
    entry = lambda src: {"kind": "local", "source": src, "revision": None}  # noqa: E731
    for run_id, sources in (("different", ("/m/a", "/m/b", "/m/c")), ("same", ("/m/a", "/m/a", "/m/c"))):
        synthetic_run(store, run_id=run_id, n_models=3, n_items=20, repeats=1, error_rate=0.0)
        store.update_manifest(run_id, {"models": {f"model-0{i}": entry(src) for i, src in enumerate(sources)},
                                       "model_versions": {f"model-0{i}": src for i, src in enumerate(sources)}})
    at = _open(_app(db, monkeypatch), "pages/4_compare.py")
    at.selectbox(key="compare.run").set_value("same").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert not {"latency_ms", "p_adjusted", "direction", "model_a"} & set(table.columns)
    cells = " ".join(table.astype(str).to_numpy().ravel())
    assert "None" not in cells and "_higher" not in cells and "latency_ms" not in cells and "e-" not in cells
    assert table["p"].str.len().max() <= 6
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    data = heat["customdata"]  # plotly 6 sends arrays as base64 'typed arrays'
    eff = np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).reshape(3, 3)
    off = ~np.eye(3, dtype=bool)
    assert np.allclose((eff * eff.T)[off], 1.0, rtol=0, atol=1e-15) and np.isnan(np.diag(eff)).all()
    assert f"ratio of medians {factor_text(eff[1][0])}" in heat["text"][1][0]
    assert at.selectbox(key="compare.parity_a").options == ["model-00", "model-01"]
    assert at.selectbox(key="compare.parity_b").options == ["model-01"]
    assert any(m.label == "Latency, ratio of medians (B / A)" for m in at.metric)
    at.selectbox(key="compare.run").set_value("different").run()
    assert not at.exception and "No two entries of this run load the same weights" in _texts(at)
    with pytest.raises(KeyError):
        at.selectbox(key="compare.parity_a")


def test_results_and_compare_warn_about_a_busy_machine(populated, monkeypatch):
    """A run whose samples ran while other processes kept the cores busy is flagged where its results are read."""
    from core.store import now

    db, setup, run_id = populated

    def set_load(value: float | None) -> None:  # as a runner's write would: the run's updated_at moves too
        with Store(db).connect() as con:
            con.execute("UPDATE samples SET other_cpu = ? WHERE run_id = ?", [value, run_id])
            con.execute("UPDATE runs SET updated_at = ? WHERE run_id = ?", [now(), run_id])

    def busy_warnings(at: AppTest) -> list[str]:
        return [w.value for w in at.warning if "Busy machine" in w.value]

    try:
        set_load(0.0)
        at = _open(_app(db, monkeypatch), "pages/3_results.py")
        at.multiselect(key="results.runs").set_value([run_id]).run()
        assert not busy_warnings(at) and any(c.value.startswith("Machine load") for c in at.caption)
        set_load(1.0)
        at.run()
        assert not at.exception and busy_warnings(at) and "100% of samples" in busy_warnings(at)[0]
        at = _open(at, "pages/4_compare.py")
        at.selectbox(key="compare.run").set_value(run_id).run()
        assert not at.exception and busy_warnings(at)
    finally:
        set_load(None)


def test_costs_page_follows_the_assumptions(populated, monkeypatch):
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), "pages/5_costs.py")

    def monthly() -> str:
        return next(m.value for m in at.metric if m.label == "Local, per month")

    before = monthly()
    at.select_slider(key="costs.volume").set_value(1_000_000).run()
    after_volume = monthly()
    assert not at.exception and after_volume != before
    at.number_input(key="costs.hw").set_value(50_000.0).run()
    after_hw = monthly()
    assert not at.exception and after_hw != after_volume  # the hardware price alone moves the cost
    assert after_hw != before
    at.multiselect(key="costs.cloud").set_value(["gpt-4o-mini"]).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2


def _dollars(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_costs_page_reads_one_cost_model_everywhere(populated, monkeypatch):
    """One cost model, stated once: per 1,000 requests x volume = per month under both models;
    a negative saving in words; the table's break-even is the caption's (or empty, not None);
    free hardware breaks even 'from the first request', not 'at 0 requests'."""
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), "pages/5_costs.py")
    at.multiselect(key="costs.cloud").set_value(["gpt-4o-mini"]).run()

    def card(label: str) -> str:
        return next(m.value for m in at.metric if m.label == label)

    for kind in ("dedicated", "shared"):
        at.radio(key="costs.model_kind").set_value(kind).run()
        assert not at.exception
        volume = at.select_slider(key="costs.volume").value
        assert _dollars(card("Local, per 1,000 requests")) * volume / 1000 == pytest.approx(_dollars(card("Local, per month")), rel=0.01)
        sentences = [i.value for i in at.info if i.value.startswith("Cost model:")]
        assert len(sentences) == 1 and f"{kind} machine" in sentences[0]
        assert at.slider(key="costs.util").disabled == (kind == "dedicated")
    at.radio(key="costs.model_kind").set_value("dedicated").run()
    saving = card("Local cost vs the cloud")
    assert not saving.startswith("-") and saving.endswith(("more", "less")) and len(saving) <= 12  # fits its card
    caption = next(c.value for c in at.caption if c.value.startswith("Break-even with gpt-4o-mini"))
    model = at.selectbox(key="costs.model").value
    table = at.dataframe[0].value
    cell = table[(table["model"] == model) & (table["cloud model"] == "gpt-4o-mini")]["break-even (requests / month)"].iloc[0]
    assert cell not in ("None", None) and "None" not in table["break-even (requests / month)"].astype(str).tolist()
    assert (cell and f": {cell} requests/month" in caption) or (not cell and "never" in caption)
    at.number_input(key="costs.hw").set_value(0.0).run()
    caption = next(c.value for c in at.caption if c.value.startswith("Break-even with gpt-4o-mini"))
    assert not at.exception and " 0 requests" not in caption
    assert "from the first request" in caption or "never" in caption


def test_reports_page_offers_every_format_with_the_cli_command(populated, monkeypatch):
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), "pages/8_reports.py")
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["HTML", "PDF", "Markdown (.zip)", "Samples (CSV)", "KPI table (CSV)", "Samples (Parquet)",
                      "KPI table (Parquet)"]
    buttons = at.get("download_button")
    assert all(b.proto.deferred_file_id for b in buttons)  # each file is made on click, not on every rerun
    assert buttons[0].proto.id.endswith(f"reports.report-{run_id}.html")
    assert at.selectbox(key="reports.run").value == run_id
    at.selectbox(key="reports.baseline").set_value(setup.models[1]).run()
    at.number_input(key="reports.volume").set_value(5_000).run()
    assert not at.exception
    cli = at.code[0].value
    assert f"python -m core report {run_id} --format pdf" in cli and f"--baseline {setup.models[1]} --volume 5000" in cli


def test_reports_page_defaults_to_the_completed_run_with_the_most_samples(tmp_path, monkeypatch):
    """Issue 11: the newest run (a 2-sample smoke test, or one still running) is not the default report."""
    from bench.analysis import synthetic_run

    db = tmp_path / "runs.duckdb"
    store = Store(db)
    synthetic_run(store, run_id="big", n_models=2, n_items=30, repeats=1, error_rate=0.0)
    synthetic_run(store, run_id="bigger-but-failed", n_models=2, n_items=40, repeats=1, error_rate=0.0)
    store.set_run_status("bigger-but-failed", "failed")
    synthetic_run(store, run_id="tiny", n_models=2, n_items=1, repeats=1, error_rate=0.0)
    assert list(store.runs_df()["run_id"])[0] == "tiny"  # the newest
    at = _open(_app(db, monkeypatch), "pages/8_reports.py")
    assert at.selectbox(key="reports.run").value == "big"


def test_champion_is_promoted_from_a_run(populated, monkeypatch):
    db, setup, run_id = populated
    at = _open(_app(db, monkeypatch), "pages/7_models.py")
    at.selectbox(key="models.promote.run").set_value(run_id).run()
    at.selectbox(key="models.promote.model").set_value(setup.models[1])
    at.button(key="models.promote").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert Store(db).get_setting("champion") == setup.models[1]  # the Compare page's default baseline
    table = at.dataframe[0].value
    assert list(table.loc[table["champion"], "name"]) == [setup.models[1]]


def test_run_page_starts_a_real_run_and_it_completes(populated, monkeypatch):
    db, setup, _ = populated
    at = _open(_app(db, monkeypatch), "pages/2_run.py")
    at.multiselect(key="run.models").set_value([setup.tiny])
    at.multiselect(key="run.sets").set_value([setup.prompt_set])
    at.number_input(key="run.limit").set_value(3)
    at.number_input(key="run.max_new").set_value(8)
    at.button(key="run.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    snap = _wait_run(db, _newest_run(db), lambda s: s.state == "completed")
    at.run()
    text = _texts(at)
    assert "**Completed**" in text and snap.run_id in text
    row = Store(db).get_run(snap.run_id)
    assert (row.status, row.done, row.planned, row.spec.models) == ("completed", 3, 3, (setup.tiny,))
    assert len(at.get("plotly_chart")) == 1  # the latency trace


def test_cancel_from_the_page_keeps_samples_and_offers_resume(populated, monkeypatch):
    db, setup, _ = populated
    at = _open(_app(db, monkeypatch), "pages/2_run.py")
    at.multiselect(key="run.models").set_value([setup.tiny])
    at.number_input(key="run.repeats").set_value(20)  # 20 x all items: far longer than the test needs
    at.button(key="run.start").click().run()
    run_id = _newest_run(db)
    _wait_run(db, run_id, lambda s: s.state == "running" and s.done >= 2)
    at.run()
    assert "Running" in _texts(at)
    at.button(key="run.cancel").click().run()
    snap = _wait_run(db, run_id, lambda s: s.state == "cancelled", timeout=60)
    row = Store(db).get_run(run_id)
    assert row.status == "cancelled" and 2 <= row.done < row.planned

    at.run()
    assert any(o.startswith(run_id) for o in at.selectbox(key="run.resume_id").options)
    at.selectbox(key="run.resume_id").set_value(run_id)
    at.button(key="run.resume").click().run()
    _wait_run(db, run_id, lambda s: s.state == "running" and s.done > row.done)
    assert jobs.RunQueue(Store(db)).cancel(run_id) == "requested"
    _wait_run(db, run_id, lambda s: s.state == "cancelled", timeout=60)
    assert Store(db).get_run(snap.run_id).done > row.done


def test_two_tabs_see_one_run_and_a_killed_worker_is_offered_resume(populated, monkeypatch):
    """Two sessions (tabs) show the same run; a SIGKILLed worker leaves it interrupted, the page says so,
    and its resume button runs exactly the missing samples."""
    import os
    import signal

    db, setup, _ = populated
    tab1 = _open(_app(db, monkeypatch), "pages/2_run.py")
    tab1.multiselect(key="run.models").set_value([setup.tiny])
    tab1.number_input(key="run.repeats").set_value(20)
    tab1.button(key="run.start").click().run()
    run_id = _newest_run(db)
    _wait_run(db, run_id, lambda s: s.state == "running" and s.done >= 2)
    tab2 = _open(_app(db, monkeypatch), "pages/2_run.py")
    tab1.run()
    for tab in (tab1, tab2):
        assert f"run `{run_id}`" in _texts(tab) and "**Running**" in _texts(tab)
    assert int((Store(db).runs_df()["status"] == "running").sum()) == 1

    info = jobs.worker_info(Store(db))
    stored = 0
    while stored == 0:  # the runner writes every 5 s: kill once something is stored
        time.sleep(0.2)
        stored = Store(db).count_samples(run_id)
    os.kill(info.pid, signal.SIGKILL)
    _wait_run(db, run_id, lambda s: s.state == "interrupted", timeout=30)
    tab2.run()
    assert "Interrupted" in _texts(tab2) and "Resume runs exactly the samples that are missing" in _texts(tab2)
    before = set(Store(db).query_df("SELECT result_key FROM samples WHERE run_id = ?", [run_id])["result_key"])
    tab2.button(key="run.resume_live").click().run()
    assert not tab2.exception, [e.value for e in tab2.exception]
    new = jobs.worker_info(Store(db))
    assert new.alive and new.pid != info.pid
    _wait_run(db, run_id, lambda s: s.state == "completed", timeout=240)
    keys = Store(db).query_df("SELECT result_key FROM samples WHERE run_id = ?", [run_id])["result_key"]
    row = Store(db).get_run(run_id)
    assert len(keys) == keys.nunique() == row.planned == row.done and before <= set(keys)


def test_malformed_upload_lists_errors_by_line_and_stores_nothing(tmp_path, monkeypatch):
    db = tmp_path / "upload.duckdb"
    at = _open(_app(db, monkeypatch), "pages/6_prompt_sets.py")
    bad = b'{"id": "a", "prompt": "fine"}\nnot json\n{"id": "a", "prompt": "dup"}\n{"id": "b"}\n'
    at.file_uploader(key="sets.upload").set_value(("bad.jsonl", bad, "application/jsonl")).run()
    at.text_input(key="sets.name").set_value("bad-set")
    at.button(key="sets.import").click().run()
    assert not at.exception
    assert "rejected with 3 problems" in at.error[0].value
    errors = at.table[-1].value.reset_index()
    assert list(errors["Line"]) == ["2", "3", "4"]
    assert "invalid JSON" in errors["Problem"][0] and "duplicate id" in errors["Problem"][1]
    assert "prompt: field required" in errors["Problem"][2]
    assert Store(db).imported_prompt_sets() == []


def test_upload_errors_are_whole_and_a_replacing_import_asks_first(tmp_path, monkeypatch):
    """Issue 11: a long problem is shown whole, without pydantic's prefix; an import shows itself in the
    preview; importing over an existing name asks first, and keeps the replaced version for its runs."""
    db = tmp_path / "upload.duckdb"
    at = _open(_app(db, monkeypatch), "pages/6_prompt_sets.py")
    at.file_uploader(key="sets.upload").set_value(("s.jsonl", b'{"id": "a", "prompt": "p", "scorers": ["bleu"]}\n',
                                                   "application/jsonl")).run()
    at.button(key="sets.import").click().run()
    (problem,) = at.table[-1].value["Problem"]
    assert problem.endswith("known scorers: exact_match, contains, regex, token_f1, rouge_l, json_valid, semantic, judge")
    assert "Value error" not in problem
    at.file_uploader(key="sets.upload").set_value(("s.jsonl", b'{"id": "a", "prompt": "first"}\n', "application/jsonl"))
    at.text_input(key="sets.name").set_value("zz-mine")  # sorts last: the preview would not show it by chance
    at.button(key="sets.import").click().run()
    assert not at.exception and at.selectbox(key="sets.preview").value == "zz-mine"
    assert "first" in [c.value for c in at.code]
    first = Store(db).imported_prompt_sets()[0].content_hash
    at.file_uploader(key="sets.upload").set_value(("s.jsonl", b'{"id": "a", "prompt": "second"}\n', "application/jsonl"))
    at.button(key="sets.import").click().run()
    assert f"already exists (version {first})" in at.warning[0].value
    assert Store(db).imported_prompt_sets()[0].content_hash == first  # nothing replaced yet
    at.button(key="sets.replace").click().run()
    assert not at.exception and not at.warning
    assert "second" in [c.value for c in at.code]
    versions = at.dataframe[-1].value
    assert len(versions) == 2 and first in set(versions["version"]) and versions["current"].sum() == 1


def test_valid_upload_is_stored_and_user_text_shown_as_text(tmp_path, monkeypatch):
    db = tmp_path / "upload.duckdb"
    at = _open(_app(db, monkeypatch), "pages/6_prompt_sets.py")
    good = ("id,prompt,reference\nx1," + XSS.replace('"', '""') + ",ok\n").encode()
    at.file_uploader(key="sets.upload").set_value(("my set.csv", good, "text/csv")).run()
    at.button(key="sets.import").click().run()
    assert not at.exception
    (ps,) = Store(db).imported_prompt_sets()
    assert ps.name == "my-set" and ps.items[0].prompt == XSS
    at.selectbox(key="sets.preview").set_value("my-set").run()
    assert XSS in [c.value for c in at.code]  # plain text, not markdown
    # delete it again
    at.selectbox(key="sets.delete_name").set_value("my-set")
    at.checkbox(key="sets.delete_confirm").check().run()
    at.button(key="sets.delete").click().run()
    assert Store(db).imported_prompt_sets() == []


def test_adding_an_unavailable_hf_model_explains_why(tmp_path, monkeypatch):
    db = tmp_path / "models.duckdb"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = _open(_app(db, monkeypatch), "pages/7_models.py")
    at.text_input(key="models.add.name").set_value("nowhere")
    at.text_input(key="models.add.source").set_value("no-such-org/no-such-model")
    at.text_input(key="models.add.revision").set_value("abc123")
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert "cannot be found on this machine" in at.error[0].value
    assert "not in the local cache" in at.code[-1].value
    assert "Error]" not in at.code[-1].value  # issue 11.27: no exception class name at the end
    assert at.code[-1].value.rstrip().endswith("add a local directory instead.")
    assert Store(db).user_models() == []


@pytest.mark.skipif(not demo_models_trained(), reason="the demo models are not trained (scripts/train_demo_models.py)")
def test_getting_started_runs_the_demo_in_one_click(tmp_path, monkeypatch):
    db = tmp_path / "demo.duckdb"
    at = _open(_app(db, monkeypatch), "pages/1_overview.py")
    next(b for b in at.button if b.label.startswith("Run the demo")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Run"  # switched to the live panel
    snap = _wait_run(db, _newest_run(db), lambda s: s.state == "completed", timeout=300)
    row = Store(db).get_run(snap.run_id)
    assert row.spec.models == DEMO_MODELS and row.done == row.planned == 60


def test_pages_see_what_other_processes_write(tmp_path, monkeypatch):
    """Cached queries refresh when the database changes; a CLI run in progress is shown live."""
    import subprocess
    import sys

    from core import prompts
    from core.runner import Runner
    from tests.dashboard_support import small_spec

    db = tmp_path / "shared.duckdb"
    setup = prepare(db)
    at = _open(_app(db, monkeypatch), "pages/1_overview.py")
    assert "No runs yet" in _texts(at)
    assert "Which local model should you ship?" in at.markdown[0].value  # issue 11.27: what the tool is for

    run_id = Runner(setup.store).create(small_spec(setup, limit=2, name="from-cli"))
    Runner(setup.store).execute(run_id)
    at.run()
    assert run_id in set(at.dataframe[0].value["run_id"])  # no stale cache

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ps = prompts.get_set(setup.prompt_set, setup.store)
        setup.store.create_run("external-run", small_spec(setup, limit=2), ps.limited(2), 2, {}, other.pid)
        _open(at, "pages/2_run.py")
        labels = [p.proto.text for p in at.get("progress")]
        assert any("external-run from another process" in t for t in labels), labels
    finally:
        other.kill()
        other.wait()


def test_server_config_is_safe_by_default():
    import tomllib

    from core import config

    cfg = tomllib.loads((APP.parent / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["maxUploadSize"] == config.MAX_PROMPT_FILE_MB
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["browser"]["gatherUsageStats"] is False


def test_overview_shows_mlflow_state_and_syncs_a_pending_run(tmp_path, monkeypatch):
    """A run whose mirror failed is shown as pending with the `mlflow ui` command; the Sync
    button replays it into a real local MLflow store and the page then shows its MLflow run id."""
    db = tmp_path / "track.duckdb"
    setup = prepare(db)
    run_id = populate(setup, limit=2)
    setup.store.set_mlflow(run_id, "pending", message="connection refused (test)")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("LLM_EVAL_MLFLOW_URI", uri)
    at = _open(_app(db, monkeypatch), "pages/1_overview.py")
    assert "pending" in set(at.dataframe[0].value["mlflow_status"])
    text = _texts(at)
    assert "pending" in text and "connection refused (test)" in text
    assert any("mlflow ui" in c.value and "--backend-store-uri" in c.value for c in at.code)
    at.button(key="tracking.sync_one").click().run()
    assert not at.exception, [e.value for e in at.exception]
    row = Store(db).get_run(run_id)
    assert row.mlflow_status == "synced" and row.mlflow_run_id
    from mlflow.tracking import MlflowClient

    assert MlflowClient(uri).get_run(row.mlflow_run_id).data.tags  # the parent run exists in MLflow
    at.run()
    assert row.mlflow_run_id in _texts(at)


def test_sql_page_runs_a_query_caps_rows_refuses_writes_and_offers_csv(tmp_path, monkeypatch):
    from bench.analysis import synthetic_run
    from core.queries import console

    db = tmp_path / "sql.duckdb"
    synthetic_run(Store(db), run_id="run-a", n_models=2, n_items=20, repeats=1)
    at = _open(_app(db, monkeypatch), "pages/9_sql.py")
    assert at.text_area(key="sql.text").value == console.EXAMPLE_SQL
    documented = {c for d in at.dataframe if "column" in d.value for c in d.value["column"]}
    assert set(console.VIEWS["samples"].columns) | set(console.VIEWS["runs"].columns) <= documented
    at.button(key="sql.run").click().run()
    assert not at.exception and at.dataframe[0].value["model"].tolist() == ["model-00", "model-01"]
    assert "2 rows" in _texts(at) and "s elapsed" in _texts(at) and not at.warning
    assert at.get("download_button")

    at.text_area(key="sql.text").set_value("SELECT * FROM range(25000)")
    at.button(key="sql.run").click().run()
    assert len(at.dataframe[0].value) == 10_000 and "Truncated at 10,000 rows" in at.warning[0].value

    at.text_area(key="sql.text").set_value(f"DELETE FROM samples -- {XSS}")
    at.button(key="sql.run").click().run()
    assert not at.exception and at.error[0].value.startswith("Refused")
    assert not at.get("download_button") and XSS not in "".join(m.value for m in at.markdown)
    assert Store(db).count_samples("run-a") == 40

    at.text_area(key="sql.text").set_value(f'SELECT * FROM "{XSS}"')
    at.button(key="sql.run").click().run()
    assert at.error[0].value == "The query failed." and any(XSS in c.value for c in at.code)  # echoed as code, not HTML


def test_compare_across_runs_pairs_arms_and_runs_the_gate(tmp_path, monkeypatch):
    """Across runs: arms of two runs on two versions of one prompt set (3 prompts reworded), the
    pairing sentence, verdicts, the Pareto chart, and the gate with the CLI's verdicts."""
    import numpy as np

    from core import gate
    from core.arms import Arm
    from tests.arm_support import make_run, prompt_set

    db = tmp_path / "arms.duckdb"
    store = Store(db)
    ids = [f"p{i:02d}" for i in range(20)]
    q = 5 + (np.arange(20) % 5) * 0.5
    lat = 100.0 + 10 * np.arange(20)
    make_run(store, "old", prompt_set(store, "arms", ids), {"champ": {"quality": q, "latency_ms": lat}})
    make_run(store, "new", prompt_set(store, "arms", ids, changed=["p03", "p05", "p08"]),
             {"tuned": {"quality": q + 0.05, "latency_ms": lat * 2}, "other": {"quality": q}})
    at = _open(_app(db, monkeypatch), "pages/4_compare.py")
    at.segmented_control(key="compare.mode").set_value("Across runs").run()
    assert not at.exception
    assert at.multiselect(key="compare.arms").options[0].startswith("tuned @ ")
    at.multiselect(key="compare.arms").set_value(["old:champ", "new:tuned"]).run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "paired by prompt on 17 prompts shared by every arm; 3 prompts changed" in text
    assert "tuned@new is 2\\.0x slower than champ@old" in text  # Markdown-escaped
    assert len(at.get("plotly_chart")) == 2  # heatmap and Pareto
    # outputs side by side for the two arms, the changed prompts left out
    a, b = at.selectbox(key="compare.arms.sbs_a").value, at.selectbox(key="compare.arms.sbs_b").value
    assert {a, b} == {"old:champ", "new:tuned"}
    label = {"old:champ": "champ@old", "new:tuned": "tuned@new"}
    assert f"A = {label[a]}, B = {label[b]}" in text.replace("\\", "")
    # the gate: the defaults are the example file; latency fails (2x), the verdicts are core.gate's
    at.selectbox(key="compare.gate.baseline").set_value("old:champ").run()
    expected = gate.run_gate(store, Arm("old", "champ"), Arm("new", "tuned"), gate.load_rules(gate.DEMO_GATE))
    assert not expected.passed and "gate FAILED" in _texts(at)
    from ui.format import md_escape

    assert all(md_escape(r.sentence) in _texts(at) for r in expected.results)
    at.text_area(key="compare.gate.rules").set_value("rules:\n  - quality >= 0.5\n").run()
    assert "margin of the wrong sign" in "\n".join(e.value for e in at.error)
    at.text_area(key="compare.gate.rules").set_value("rules:\n  - quality >= -0.5\n").run()
    assert "gate PASSED" in _texts(at)


@pytest.mark.skipif(not demo_models_trained(), reason="the demo models are not trained (scripts/train_demo_models.py)")
def test_throughput_sweep_from_the_run_page_opens_on_compare(tmp_path, monkeypatch):
    """The Run page queues a sweep for the worker (the dashboard measures nothing); the sweep-only run
    is listed and opens on Compare with its chart and a sentence saying it has no per-sample results."""
    db = tmp_path / "sweep.duckdb"
    at = _open(_app(db, monkeypatch), "pages/2_run.py")
    at.multiselect(key="run.sweep.models").set_value(["demo-tiny"]).run()  # enables the batch sizes
    assert at.text_input(key="run.sweep.flight").disabled  # no HTTP model chosen
    at.selectbox(key="run.sweep.set").set_value("demo-qa")
    at.number_input(key="run.sweep.limit").set_value(2)
    at.number_input(key="run.sweep.max_new").set_value(2)
    at.text_input(key="run.sweep.batch").set_value("1,2")
    at.button(key="run.sweep.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_id = _newest_run(db)
    deadline = time.monotonic() + 180
    while (status := Store(db).get_run(run_id).status) in ("queued", "running"):
        assert time.monotonic() < deadline, f"sweep {run_id} still {status}"
        time.sleep(0.1)
    assert status == "completed", Store(db).get_run(run_id).message
    assert Store(db).get_run(run_id).manifest["kind"] == "throughput_sweep"
    at = _open(at, "pages/4_compare.py")
    assert at.selectbox(key="compare.run").value == run_id
    assert "throughput sweep without per-sample results" in _texts(at)
    assert len(at.get("plotly_chart")) == 1 and "batch size 2" in _texts(at)
