"""The CLI contract: names, --db, exit codes, exports."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from core.cli import main
from tests.conftest import demo_available


def test_bad_arguments_exit_nonzero_with_message(db_path, capsys):
    assert main(["run", "--models", "nope", "--prompt-set", "business-core", "--db", str(db_path)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["run", "--models", "demo-tiny", "--prompt-set", "missing-set", "--db", str(db_path)]) == 2
    assert "unknown prompt set 'missing-set'" in capsys.readouterr().err
    assert main(["run", "--models", "demo-tiny", "--prompt-set", "business-core", "--repeats", "0"]) == 2
    assert main(["resume", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--prompt-set", "x"])  # argparse: --models missing
    assert exc.value.code == 2


def test_db_flag_and_env_keep_stores_apart(tmp_path, monkeypatch, capsys):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    src = tmp_path / "set.jsonl"
    src.write_text('{"id": "1", "prompt": "hello", "reference": "hi"}\n')
    assert main(["prompt-sets", "import", str(src), "--name", "mine", "--db", str(a)]) == 0
    monkeypatch.setenv("LLM_EVAL_DB", str(b))
    capsys.readouterr()
    assert main(["prompt-sets", "--format", "json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert "mine" not in names and "business-core" in names
    assert main(["prompt-sets", "--format", "json", "--db", str(a)]) == 0
    assert "mine" in [r["name"] for r in json.loads(capsys.readouterr().out)]


def test_import_over_an_existing_set_needs_replace_and_versions_lists_both(db_path, capsys, tmp_path):
    src = tmp_path / "set.jsonl"
    src.write_text('{"id": "1", "prompt": "hello"}\n')
    assert main(["prompt-sets", "import", str(src), "--name", "mine"]) == 0
    src.write_text('{"id": "1", "prompt": "hello again"}\n')
    capsys.readouterr()
    assert main(["prompt-sets", "import", str(src), "--name", "mine"]) == 2
    assert "Pass --replace" in capsys.readouterr().err
    assert main(["prompt-sets", "import", str(src), "--name", "mine", "--replace"]) == 0
    capsys.readouterr()
    assert main(["prompt-sets", "versions", "mine", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and [r["current"] for r in rows] == [True, False]


def test_models_list_and_add_errors(db_path, capsys, tmp_path):
    assert main(["models", "add", "x", str(tmp_path)]) == 2
    assert "neither a model directory" in capsys.readouterr().err
    assert main(["models", "add", "hub", "org/model", "--revision", "r1"]) == 0
    capsys.readouterr()
    assert main(["models", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["hub"]["available"] is False and rows["hub"]["kind"] == "hf"


@pytest.mark.skipif(not demo_available(), reason="demo models not built")
def test_run_runs_results_roundtrip(db_path, capsys, tmp_path):
    assert main(["run", "--models", "demo-tiny", "--prompt-set", "demo-qa", "--limit", "3", "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    run_id = out.split("run id: ")[1].split()[0]
    assert "median_latency_ms" in out and "demo-tiny" in out
    assert main(["runs", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["run_id"] == run_id and runs[0]["done"] == 3 and runs[0]["status"] == "completed"
    for fmt in ("csv", "json", "parquet"):
        out_file = tmp_path / f"r.{fmt}"
        assert main(["results", run_id, "--format", fmt, "--out", str(out_file)]) == 0
    df = pd.read_parquet(tmp_path / "r.parquet")
    assert len(df) == 3 and {"result_key", "latency_ms", "ttft_ms", "quality", "output_text"} <= set(df.columns)
    assert len(pd.read_csv(tmp_path / "r.csv")) == 3
    assert len(json.loads((tmp_path / "r.json").read_text())) == 3


@pytest.mark.skipif(not demo_available(), reason="needs the demo models")
def test_progress_in_a_log_is_a_few_lines_not_a_bar(tmp_path):
    """stderr not a terminal (CI): one line per model event, not hundreds of bar updates."""
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-m", "core", "run", "--db", str(tmp_path / "log.duckdb"), "--models",
                          "demo-tiny,demo-small", "--prompt-set", "demo-qa", "--limit", "30", "--max-new-tokens", "4"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300,
                         env={**__import__("os").environ, "LLM_EVAL_MLFLOW": "off"})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert "\r" not in out.stderr and len(lines) <= 8, lines
    assert "demo-tiny: done at 30/30 samples; run 30/60, 0 not ok" in lines
    assert "demo-small: done at 30/30 samples; run 60/60, 0 not ok" in lines
