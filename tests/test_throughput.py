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
