"""MLflow mirror against a real local MLflow store (SQLite) and a real closed port.

The runs are real: small Llama models generate on CPU (the demo models when built, else
tiny random ones made here). Every test keeps its DuckDB and MLflow files in one module
folder, so the MLflow database is created (and migrated, the slow part) once.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from core import catalog, tracking
from core.cli import main
from core.schemas import GenerationParams, PromptItem, PromptSet, RunSpec
from core.store import Store
from tests.conftest import demo_available

PROMPT_SET = PromptSet(
    name="tracking-qa",
    description="three questions for the MLflow mirror tests",
    items=(
        PromptItem(id="q1", prompt="What is the capital of France?", reference="Paris"),
        PromptItem(id="q2", prompt="What is the opposite of hot?", reference="cold"),
        PromptItem(id="q3", prompt="What is two plus two?", reference="4"),
    ),
    source="imported",
)


def _tiny_model(path: Path, hidden: int) -> None:
    """A random Llama with a byte-level BPE tokenizer (used when the demo models are not built)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([i.prompt + " " + (i.reference or "") for i in PROMPT_SET.items] * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    torch.manual_seed(hidden)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(path, safe_serialization=True)
    fast.save_pretrained(path)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracking")
    if demo_available("demo-tiny") and demo_available("demo-small"):
        names, paths = ("demo-tiny", "demo-small"), {}
    else:
        names = ("tiny-a", "tiny-b")
        paths = {n: folder / "models" / n for n in names}
        for n, h in zip(names, (16, 32)):
            _tiny_model(paths[n], h)

    def prepare(store: Store) -> None:
        store.save_prompt_set(PROMPT_SET)
        for n, p in paths.items():
            catalog.add_model(store, catalog.make_spec(n, str(p)))

    return folder, names, prepare


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (tracking.ENV_URI, tracking.ENV_SWITCH, tracking.ENV_EXPERIMENT):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def loader():
    from core.loader import ModelLoader

    return ModelLoader(device="cpu")


def _client(folder: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")


def _mirrored(client, run_id: str) -> list:
    """Every MLflow run (parent and children) tagged with this evaluation run."""
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, filter_string=f"tags.`llm_eval.run_id` = '{run_id}'")


def test_real_run_is_mirrored_with_params_metrics_and_artifacts(setup, loader):
    from core.runner import Runner

    folder, names, prepare = setup
    store = Store(folder / "eval.duckdb")
    prepare(store)
    spec = RunSpec(models=names, prompt_set=PROMPT_SET.name, generation=GenerationParams(max_new_tokens=4),
                   device="cpu", seed=7)
    runner = Runner(store, loader=loader, after_run=tracking.after_run_hooks())
    run_id = runner.create(spec)
    assert runner.execute(run_id).status == "completed"

    row = store.get_run(run_id)
    assert row.mlflow_status == "synced" and row.mlflow_run_id
    client = _client(folder)
    parent = client.get_run(row.mlflow_run_id)
    assert client.get_experiment(parent.info.experiment_id).name == PROMPT_SET.name
    assert parent.info.status == "FINISHED"
    p = parent.data.params
    assert p["models"] == ",".join(names) and p["prompt_set_hash"] == PROMPT_SET.content_hash
    assert p["seed"] == "7" and p["device"] == "cpu" and p["dtype"] == "float32"
    assert p["generation.max_new_tokens"] == "4" and p["generation.temperature"] == "0.0"
    assert all(p[f"model_version.{n}"] == row.manifest["model_versions"][n] for n in names)
    tags = parent.data.tags
    assert tags["llm_eval.run_id"] == run_id and tags["llm_eval.best_quality_model"] in names and "llm_eval.champion" not in tags
    assert tags["llm_eval.product_version"]
    assert parent.data.metrics["samples_stored"] == 6

    children = [r for r in _mirrored(client, run_id) if r.info.run_id != parent.info.run_id]
    assert sorted(c.data.tags["llm_eval.model"] for c in children) == sorted(names)
    for c in children:
        assert c.data.tags["mlflow.parentRunId"] == parent.info.run_id
        m = c.data.metrics
        assert m["n"] == 3 and m["ok"] == 3 and m["latency_ms_median"] > 0 and m["load_time_s"] > 0
        assert {"latency_ms_p95", "tokens_per_s", "peak_rss_mb", "quality_mean", "pass_rate"} <= set(m)
        # memory as the KPIs define it: the model's footprint and the generation peak; the process RSS is context
        assert m["model_footprint_mb"] < 50 < m["peak_rss_mb"] and m["mem_added_mb_max"] >= 0
        assert m["memory_needed_mb"] == pytest.approx(m["model_footprint_mb"] + m["mem_added_mb_max"])
        assert c.data.params["model_version"] == row.manifest["model_versions"][c.data.tags["llm_eval.model"]]

    files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"samples.parquet", "manifest.json"} <= files
    import pandas as pd

    local = client.download_artifacts(parent.info.run_id, "samples.parquet", str(folder / "dl"))
    assert len(pd.read_parquet(local)) == 6
    assert (folder / "mlartifacts").is_dir()  # artifacts beside the MLflow database
    assert tracking.mlflow_ui_command(store) == f"mlflow ui --backend-store-uri sqlite:///{folder / 'mlflow.db'}"
    assert tracking.display_uri(store) == f"sqlite:///{folder / 'mlflow.db'}"
    shown = tracking.display_uri(store, "https://alice:hunter2@mlflow.example:5000/")
    assert "hunter2" not in shown and "mlflow.example:5000" in shown  # credentials never shown


def test_closed_port_keeps_the_run_then_sync_is_idempotent(setup, capsys):
    folder, names, prepare = setup
    db = folder / "cli.duckdb"
    prepare(Store(db))
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    rc = main(["run", "--models", names[0], "--prompt-set", PROMPT_SET.name, "--device", "cpu", "--max-new-tokens", "4",
               "--no-progress", "--db", str(db), "--mlflow-uri", f"http://127.0.0.1:{port}"])
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert rc == 0 and elapsed < 30, elapsed
    run_id = out.split("run id: ")[1].split()[0]
    warnings = [line for line in err.splitlines() if "MLflow" in line]
    assert len(warnings) == 1 and "pending" in warnings[0] and f"sync-mlflow {run_id}" in warnings[0], err
    store = Store(db)
    row = store.get_run(run_id)
    assert row.status == "completed" and row.done == 3 and row.mlflow_status == "pending"

    assert main(["sync-mlflow", "--db", str(db)]) == 0  # the default: SQLite beside the DuckDB file
    assert "created MLflow run" in capsys.readouterr().out
    row = store.get_run(run_id)
    assert row.mlflow_status == "synced"
    client = _client(folder)
    first = _mirrored(client, run_id)
    assert len(first) == 2  # one parent, one child

    assert main(["sync-mlflow", run_id, "--db", str(db)]) == 0
    assert "updated MLflow run" in capsys.readouterr().out
    again = _mirrored(client, run_id)
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in first)
    assert store.get_run(run_id).mlflow_run_id == row.mlflow_run_id
    assert main(["runs", "--format", "json", "--db", str(db)]) == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[run_id]["mlflow_status"] == "synced" and listed[run_id]["mlflow_run_id"] == row.mlflow_run_id


def test_secrets_never_reach_mlflow_and_off_switch(setup, monkeypatch):
    folder, _, prepare = setup
    store = Store(folder / "secrets.duckdb")
    prepare(store)
    remote = {"name": "remote", "kind": "http", "base_url": "https://user:hunter2@llm.example/v1", "served_model": "m",
              "api_key_env": "MY_API_KEY", "extra_headers": {"Authorization": "Bearer sk-SECRET"}}
    manifest = {"models": {"remote": remote}, "model_versions": {"remote": "http:m"}, "n_items": 3, "device": "cpu"}
    spec = RunSpec(models=("remote",), prompt_set=PROMPT_SET.name)
    store.create_run("secret-run", spec, PROMPT_SET, 3, manifest, pid=0)
    store.set_run_status("secret-run", "completed")

    res = tracking.mirror_run(store, "secret-run")
    assert res.status == "synced", res.message
    client = _client(folder)
    child = client.get_run(res.child_run_ids["remote"])
    assert child.data.params["api_key_env"] == "MY_API_KEY"  # the variable's name is fine
    text = Path(client.download_artifacts(res.mlflow_run_id, "manifest.json", str(folder / "dl2"))).read_text()
    logged = text + json.dumps(child.data.params) + json.dumps(client.get_run(res.mlflow_run_id).data.params)
    assert "sk-SECRET" not in logged and "hunter2" not in logged and "MY_API_KEY" in text

    monkeypatch.setenv(tracking.ENV_SWITCH, "off")
    store.create_run("off-run", spec, PROMPT_SET, 3, manifest, pid=0)
    tracking.after_run_hooks()[0]("off-run", store)
    assert store.get_run("off-run").mlflow_status == "disabled" and not _mirrored(client, "off-run")


def test_mlflow_kpi_table_cli_and_report_agree_on_error_rate_and_counts(tmp_path, capsys):
    """One definition: on a run with errors, timeouts and a skipped row, the MLflow metrics, the
    KPI table, `summary --format json` and the report give the same counts and error rate (the
    share of attempted requests that failed: a skipped row was never attempted)."""
    from bench.analysis import synthetic_run
    from core import analysis, reports

    store = Store(tmp_path / "agree.duckdb")
    run_id = synthetic_run(store, run_id="agree", n_models=2, n_items=30, repeats=2, error_rate=0.1)
    with store.connect() as con:
        con.execute("UPDATE samples SET status = 'timeout', error_kind = 'timeout' WHERE status = 'error' AND seq % 2 = 0")
        con.execute("UPDATE samples SET status = 'skipped', error_kind = 'circuit_open' WHERE model = 'model-01' AND seq = 59")
    counts = store.query_df("SELECT model, status, count(*) AS n FROM samples GROUP BY ALL")
    assert {"error", "timeout", "skipped"} <= set(counts["status"])

    mlflow = tracking.kpis_for_mlflow(store, run_id)
    table = analysis.kpi_table(store, run_id, intervals=False)
    assert main(["summary", run_id, "--format", "json", "--no-intervals", "--db", str(store.path)]) == 0
    cli = {(r["model"], r["kpi"]): r["value"] for r in json.loads(capsys.readouterr().out)["kpis"] if r["category"] is None}
    report = reports.build_report(store, run_id, reports.ReportOptions(n_resamples=200, appendix_items=0))
    requests = next(t for t in report.kpi_tables if t.title == "Requests")
    col = {name: i for i, name in enumerate(requests.columns)}
    cells = {r[0]: r for r in requests.rows}

    for model in ("model-00", "model-01"):
        mine = counts[counts["model"] == model].set_index("status")["n"]
        n, ok = int(mine.sum()), int(mine.get("ok", 0))
        attempted = ok + int(mine.get("error", 0)) + int(mine.get("timeout", 0))
        rate = (attempted - ok) / attempted
        m = mlflow[model]
        assert (m["n"], m["ok"], m["errors"], m["timeouts"]) == (n, ok, mine.get("error", 0), mine.get("timeout", 0))
        assert m["error_rate"] == pytest.approx(rate, abs=1e-12)
        for kpi, want in (("samples", n), ("ok", ok), ("errors", m["errors"]), ("timeouts", m["timeouts"]),
                          ("error_rate", rate)):
            assert table.value(model, kpi) == pytest.approx(want, abs=1e-12), (model, kpi)
            assert cli[(model, kpi)] == pytest.approx(want, abs=1e-12), (model, kpi)
        row = cells[model]
        assert (row[col["Samples"]], row[col["Succeeded"]]) == (f"{n:,}", f"{ok:,}")
        assert float(row[col["Error rate"]].split("%")[0]) == pytest.approx(100 * rate, abs=0.05)
    assert mlflow["model-01"]["error_rate"] != pytest.approx(8 / 60)  # every row (the old MLflow definition) differs
