"""Machine load (samples.other_cpu): the per-model SQL aggregate, the run-level report and its
flag, and the places a run's results are read (summary CLI, reports) on a real DuckDB file."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from core import analysis, reports
from core.cli import main
from core.analysis import machine_load
from core.measure import BUSY_OTHER_CPU, BUSY_SHARE_FLAG
from core.schemas import SAMPLE_COLUMNS
from core.store import Store
from tests.dashboard_support import populate, prepare


def _rows(model: str, values: list[float | None], run_id: str = "r1") -> list[dict]:
    rows = []
    for i, v in enumerate(values):
        row = {c: None for c in SAMPLE_COLUMNS}
        row.update(result_key=f"{run_id}-{model}-{i}", run_id=run_id, model=model, item_id=str(i), status="ok",
                   latency_ms=10.0, seq=i, repeat=0, other_cpu=v)
        rows.append(row)
    return rows


def test_store_counts_busy_samples_per_model_with_the_threshold_inclusive(store):
    store.append_samples(_rows("a", [0.0] * 7 + [BUSY_OTHER_CPU, 1.0, 2.0]) + _rows("b", [0.1] * 9 + [None]))
    store.append_samples(_rows("a", [5.0], run_id="other"))  # another run's rows stay out
    df = store.machine_load("r1").set_index("model")
    assert list(df.index) == ["a", "b"]
    assert df.loc["a", "n"] == 10 and df.loc["a", "busy"] == 3 and df.loc["a", "busy_share"] == pytest.approx(0.3)
    assert df.loc["a", "mean_other_cpu"] == pytest.approx(3.25 / 10)
    assert df.loc["b", "n"] == 9 and df.loc["b", "busy"] == 0 and df.loc["b", "busy_share"] == 0.0
    assert store.machine_load("r1", busy_at=0.05).set_index("model").loc["b", "busy"] == 9  # the threshold is a parameter


def test_report_flags_the_run_and_says_so_in_plain_language(store):
    store.append_samples(_rows("a", [0.0] * 7 + [1.0] * 3) + _rows("b", [0.0] * 10))
    r = machine_load(store, "r1")
    assert (r.n, r.busy, r.share, r.flagged) == (20, 3, pytest.approx(0.15), True)
    assert r.mean_other_cpu == pytest.approx(0.15)
    assert r.flagged_models == [("a", pytest.approx(0.3))]
    assert r.text == ("Busy machine: 15% of samples (3 of 20) ran while other processes used at least 0.25 of a core on "
                      "the measurement cores (mean 0.15 cores); most affected: a 30%; latency and throughput may be inflated.")
    assert r.note.startswith("Machine load: 15% of samples (3 of 20) on a busy machine") and "flagged" in r.note
    d = r.to_dict()
    assert {k: d[k] for k in ("n", "busy", "flagged")} == {"n": 20, "busy": 3, "flagged": True}
    assert d["busy_at"] == BUSY_OTHER_CPU and d["flag_share"] == BUSY_SHARE_FLAG
    assert [(m["model"], m["flagged"]) for m in d["per_model"]] == [("a", True), ("b", False)]
    json.dumps(d, allow_nan=False)


def test_one_busy_model_flags_the_run_even_when_the_run_share_is_low(store):
    store.append_samples(_rows("a", [0.0] * 12 + [1.0] * 3) + _rows("b", [0.0] * 85))
    r = machine_load(store, "r1")
    assert r.share == pytest.approx(0.03) and r.flagged and r.flagged_models == [("a", pytest.approx(0.2))]


def test_one_noisy_sample_never_flags_a_small_run(store):
    """1 of 3 samples busy is 33%, but a single short sample's tick noise is no evidence (BUSY_MIN_SAMPLES)."""
    store.append_samples(_rows("a", [0.0, 1.0, 0.0]))
    r = machine_load(store, "r1")
    assert r.share == pytest.approx(1 / 3) and not r.flagged and r.flagged_models == []
    store.append_samples(_rows("a", [0.0, 1.0, 1.0, 1.0], run_id="r2"))
    assert machine_load(store, "r2").flagged  # three of four: evidence


def test_a_quiet_run_is_not_flagged(store):
    store.append_samples(_rows("a", [0.0] * 19 + [0.5]))
    r = machine_load(store, "r1")
    assert not r.flagged and r.share == pytest.approx(0.05)  # 5% is at most the flag share
    assert r.text == "Machine load: 5% of samples (1 of 20) on a busy machine (other processes >= 0.25 cores), mean 0.03 cores."


def test_runs_stored_before_other_cpu_existed_are_not_recorded_not_quiet(store):
    store.append_samples(_rows("a", [None] * 5))
    r = machine_load(store, "r1")
    assert (r.n, r.busy, r.share, r.mean_other_cpu, r.flagged) == (0, 0, None, None, False)
    assert r.note.startswith("Machine load: not recorded")
    assert machine_load(store, "no-such-run").n == 0


# ------------------------------------------------------------------ a real run: CLI and reports


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("machine_load") / "ml.duckdb"
    setup = prepare(db)
    return db, setup.store, populate(setup, limit=3)


def _set_other_cpu(store: Store, run_id: str, value: float | None) -> None:
    with store.connect() as con:
        con.execute("UPDATE samples SET other_cpu = ? WHERE run_id = ?", [value, run_id])


def _summary_json(db, run_id: str, capsys) -> dict:
    assert main(["summary", run_id, "--format", "json", "--no-intervals", "--db", str(db)]) == 0
    return json.loads(capsys.readouterr().out)


def test_summary_cli_reports_machine_load(real_run, capsys):
    db, store, run_id = real_run
    _set_other_cpu(store, run_id, None)
    ml = _summary_json(db, run_id, capsys)["machine_load"]
    assert (ml["n"], ml["share"], ml["mean_other_cpu"], ml["flagged"]) == (0, None, None, False)
    assert main(["summary", run_id, "--no-intervals", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Machine load: not recorded" in out and "Busy machine" not in out

    _set_other_cpu(store, run_id, 1.0)
    ml = _summary_json(db, run_id, capsys)["machine_load"]
    n = store.count_samples(run_id)
    assert (ml["n"], ml["busy"], ml["share"], ml["mean_other_cpu"], ml["flagged"]) == (n, n, 1.0, 1.0, True)
    assert main(["summary", run_id, "--no-intervals", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"WARNING: Busy machine: 100% of samples ({n} of {n})" in out and "\nMachine load: 100% of samples" in out


def test_reports_carry_the_busy_machine_line(real_run, tmp_path):
    db, store, run_id = real_run
    _set_other_cpu(store, run_id, 1.0)
    built = reports.build_report(store, run_id, reports.ReportOptions(appendix_items=1))
    line = analysis.machine_load(store, run_id).text
    assert built.summary.notes[0] == line and line.startswith("Busy machine:")
    assert dict(built.summary.facts)["Machine load"].startswith("100% of samples")
    assert "Busy machine: 100% of samples" in reports.html(built)
    md = reports.markdown(built, "charts").text
    assert "Busy machine: 100% of samples" in md.replace("\\", "")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(reports.pdf(built))  # renders (the PDF's fonts take the line)
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        text = " ".join(subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split())
        assert "Busy machine: 100% of samples" in text

    _set_other_cpu(store, run_id, 0.0)
    quiet = reports.build_report(store, run_id, reports.ReportOptions(appendix_items=1))
    assert not any(n.startswith("Busy machine") for n in quiet.summary.notes)
    assert dict(quiet.summary.facts)["Machine load"].startswith("0% of samples")
