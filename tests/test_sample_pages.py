"""core.queries.sample_pages: every sample of a run, filtered, searched, sorted and paged in
DuckDB, and the filtered set written to CSV / Parquet, on a real DuckDB file."""
from __future__ import annotations

import pandas as pd
import pytest

from bench.analysis import synthetic_run
from core.queries import sample_pages as sp
from core.store import Store

F = sp.SampleFilter


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store(tmp_path_factory.mktemp("pages") / "pages.duckdb")
    synthetic_run(s, run_id="r", n_models=3, n_items=40, repeats=2, error_rate=0.1)
    synthetic_run(s, run_id="other", n_models=1, n_items=5, repeats=1)
    return s


def _all(store: Store, f: sp.SampleFilter = F(), **kw) -> pd.DataFrame:  # noqa: ANN003
    p = sp.page(store, "r", f, page_size=sp.MAX_PAGE_SIZE, **kw)
    assert p.total == len(p.rows)
    return p.rows


def test_pages_cover_every_sample_once_in_a_stable_order(store: Store) -> None:
    first = sp.page(store, "r", F(), page_size=50)
    assert (first.total, first.pages, first.page, len(first.rows)) == (240, 5, 1, 50)
    keys = pd.concat([sp.page(store, "r", F(), page_size=50, page_no=i).rows for i in range(1, 6)])
    assert len(keys) == 240 and not keys.duplicated(["model", "item_id", "repeat"]).any()
    last = sp.page(store, "r", F(), page_size=50, page_no=99)  # past the end: the last page
    assert last.page == 5 and len(last.rows) == 40


def test_filters_combine_and_sort_by_any_listed_column(store: Store) -> None:
    rows = _all(store, F(models=("model-01",), statuses=("ok",), passed=False, quality_min=1.0, quality_max=4.5))
    assert not rows.empty and set(rows["model"]) == {"model-01"} and (rows["status"] == "ok").all()
    assert (~rows["passed"].astype(bool)).all() and rows["quality"].between(1.0, 4.5).all()
    errors = _all(store, F(statuses=("error",)))
    assert not errors.empty and errors["latency_ms"].isna().all()
    by_latency = _all(store, sort="latency_ms", descending=True)
    lat = by_latency["latency_ms"].dropna()
    assert lat.is_monotonic_decreasing and by_latency["latency_ms"].tail(len(errors)).isna().all()  # missing last
    cats = _all(store, F(categories=("math",)))
    assert set(cats["category"]) == {"math"}


def test_search_reads_outputs_and_the_prompts_the_caller_matched(store: Store) -> None:
    assert len(_all(store, F(text="ANSWER"))) == int((_all(store)["output_text"] == "answer").sum()) > 0  # any case
    assert _all(store, F(text="no such words")).empty
    items = {"item-0003": ("What is the capital of France?", "Paris"), "item-0007": ("2+2", "four")}
    assert sp.prompt_matches(items, "paris") == ("item-0003",) and sp.prompt_matches(items, "  ") == ()
    hit = _all(store, F(text="paris", text_items=sp.prompt_matches(items, "paris")))
    assert set(hit["item_id"]) == {"item-0003"} and len(hit) == 6  # 3 models x 2 repeats
    hostile = _all(store, F(text="'; DROP TABLE samples; --"))  # a bound parameter, nothing else
    assert hostile.empty and store.count_samples("r") == 240


def test_export_writes_the_whole_filtered_set(store: Store, tmp_path) -> None:  # noqa: ANN001
    f = F(models=("model-02",))
    n = sp.export(store, "r", f, tmp_path / "s.parquet", "parquet")
    back = pd.read_parquet(tmp_path / "s.parquet")
    assert n == len(back) == 80 and set(back["model"]) == {"model-02"} and list(back.columns) == list(sp.EXPORT_COLUMNS)
    assert sp.export(store, "r", f, tmp_path / "it's.csv", "csv") == 80
    assert len(pd.read_csv(tmp_path / "it's.csv")) == 80


def test_bad_requests_say_what_is_wrong(store: Store, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown status 'weird'"):
        F(statuses=("weird",))
    with pytest.raises(ValueError, match="minimum .* is above the maximum"):
        F(quality_min=6, quality_max=2)
    with pytest.raises(ValueError, match="unknown sort column"):
        sp.page(store, "r", F(), sort="output_text; DROP")
    with pytest.raises(ValueError, match="page size"):
        sp.page(store, "r", F(), page_size=10_000)
    with pytest.raises(ValueError, match="unknown format"):
        sp.export(store, "r", F(), tmp_path / "x.xlsx", "xlsx")
