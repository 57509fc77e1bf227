"""ui.sample_table on the Results page (AppTest): every sample of a run a page at a time,
filters and search answered by DuckDB, and the filtered set downloadable as a file."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from bench.analysis import synthetic_run
from core.store import Store

APP = Path(__file__).resolve().parents[1] / "app.py"
KEY = "results.samples"


def _caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "per page" in c.value)


def _table(at: AppTest):  # noqa: ANN202 - the page's dataframe of samples
    return next(d.value for d in at.dataframe if "output_text" in d.value.columns)


def test_results_pages_filters_searches_and_exports_every_sample(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    db = tmp_path / "samples.duckdb"
    synthetic_run(Store(db), run_id="run-a", n_models=2, n_items=60, repeats=2, error_rate=0.05)
    monkeypatch.setenv("LLM_EVAL_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/3_results.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "240 samples match; page 1 of 5" in _caption(at) and len(_table(at)) == 50

    at.number_input(key=f"{KEY}.page").set_value(5).run()
    assert "page 5 of 5" in _caption(at) and len(_table(at)) == 40

    at.multiselect(key=f"{KEY}.models").set_value(["model-01"]).run()
    at.selectbox(key=f"{KEY}.passed").set_value("failed").run()
    rows = _table(at)
    assert set(rows["model"]) == {"model-01"} and not rows["passed"].astype(bool).any()
    assert "page 2 of 2" in _caption(at)  # page 5 asked: the page number clamps to the last page

    at.text_input(key=f"{KEY}.text").set_value("<b>nothing like this</b>").run()
    assert not at.exception and any("No sample matches" in i.value for i in at.info)

    at.text_input(key=f"{KEY}.text").set_value("").run()
    at.radio(key=f"{KEY}.fmt").set_value("csv").run()
    at.button(key=f"{KEY}.prepare").click().run()
    assert not at.exception and at.get("download_button")
