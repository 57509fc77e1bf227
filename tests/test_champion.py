"""The champion with history (core.champion), its MLflow Model Registry mirror (core.registry, a real
local SQLite MLflow store), `python -m core champion` and the Models page (AppTest), on real DuckDB
files with synthetic runs (bench.analysis.synthetic_run)."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from bench.analysis import synthetic_run
from core import champion as ch
from core import registry, tracking
from core.arms import Arm
from core.cli.main import main
from core.queries.champion import champion_history, champion_mirror
from core.store import Store

APP = Path(__file__).resolve().parents[1] / "app.py"
A, B, C = Arm("r1", "model-00"), Arm("r2", "model-01"), Arm("r2", "model-00")


def _runs(path: Path) -> Store:
    store = Store(path)
    for run_id in ("r1", "r2"):
        synthetic_run(store, run_id=run_id, n_models=2, n_items=4, repeats=1, error_rate=0.0)
    return store


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(tracking.ENV_SWITCH, "off")
    return _runs(tmp_path / "eval.duckdb")


@pytest.fixture(scope="module")
def mlflow_dir(tmp_path_factory):
    """One folder (one MLflow database: created and migrated once, the slow part) for the mirror tests."""
    return tmp_path_factory.mktemp("registry")


# ---------------------------------------------------------------------------- history


def test_promote_and_rollback_append_rows_and_never_change_them(store):
    first = ch.promote(store, A, note="baseline of the quarter")
    assert first.replaced is None and first.mirror.status == registry.DISABLED
    ch.promote(store, B, note="fine-tune", gate={"verdict": "pass", "candidate": "r2:model-01"})
    ch.promote(store, C)
    before = champion_history(store)
    assert store.get_setting("champion") == "model-00" and ch.current(store).entry.arm == C

    back = ch.rollback(store, note="C regressed")
    assert back.entry.action == "rollback" and back.entry.arm == B and back.replaced.arm == C
    assert back.entry.restores == 2 and ch.current(store).since.seq == 4
    assert store.get_setting("champion") == "model-01"  # the setting follows the history (Compare's baseline)
    ch.rollback(store)
    assert ch.current(store).entry.arm == A and store.get_setting("champion") == "model-00"

    after = champion_history(store)
    assert len(after) == 5 and after.head(3).equals(before)  # earlier rows unchanged: append-only
    assert list(after["action"]) == ["promote", "promote", "promote", "rollback", "rollback"]
    assert ch.history(store)[1].gate == {"verdict": "pass", "candidate": "r2:model-01"}
    assert ch.history(store)[0].evidence["prompt_set"] == "bench-set" and ch.history(store)[0].note == "baseline of the quarter"
    with pytest.raises(ch.ChampionError, match="no previous champion to roll back to: r1:model-00 is the first"):
        ch.rollback(store)
    assert len(champion_history(store)) == 5  # a refused rollback appends nothing


def test_rollback_without_a_champion_and_bad_promotions_are_refused(store):
    with pytest.raises(ch.ChampionError, match="no champion to roll back"):
        ch.rollback(store)
    with pytest.raises(ch.ChampionError, match="unknown run 'nope'"):
        ch.promote(store, Arm("nope", "model-00"))
    with pytest.raises(ch.ChampionError, match="run r1 has no model 'model-07'"):
        ch.promote(store, Arm("r1", "model-07"))
    with pytest.raises(ch.ChampionError, match="gate result says 'fail'"):
        ch.promote(store, A, gate={"verdict": "fail"})
    with pytest.raises(ch.ChampionError, match="judged candidate 'r2:model-01', not r1:model-00"):
        ch.promote(store, A, gate={"passed": True, "candidate": {"run_id": "r2", "model": "model-01"}})
    assert champion_history(store).empty and store.get_setting("champion") is None
    ch.promote(store, A, gate={"passed": False}, force=True)
    with pytest.raises(ch.ChampionError, match="already the champion"):
        ch.promote(store, A)
    with pytest.raises(ch.ChampionError, match="not JSON"):
        ch.read_gate("{oops", "gate.json")


def test_a_setting_from_before_the_history_becomes_its_first_row(tmp_path, monkeypatch):
    monkeypatch.setenv(tracking.ENV_SWITCH, "off")
    path = tmp_path / "old.duckdb"
    _runs(path)
    with duckdb.connect(str(path)) as con:  # the database as it was before migration 0008
        con.execute("DROP TABLE champion_history; DROP TABLE champion_mirror")
        con.execute("DELETE FROM migrations WHERE name = '0008_champion_history'")
        con.execute("INSERT OR REPLACE INTO settings VALUES ('champion', 'model-01')")
    store = Store(path)
    [adopted] = ch.history(store)
    assert adopted.action == "adopted" and adopted.model == "model-01" and adopted.arm is None and adopted.at is None
    assert ch.current(store).label == "model-01 (no run)"
    ch.promote(store, A)
    assert store.get_setting("champion") == "model-00"
    assert ch.rollback(store).entry.model == "model-01" and store.get_setting("champion") == "model-01"


# ---------------------------------------------------------------------------- MLflow Model Registry


def test_the_champion_alias_moves_on_promote_and_rollback(mlflow_dir, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv(tracking.ENV_SWITCH, "on")
    uri = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    store = _runs(mlflow_dir / "eval.duckdb")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = registry.DEFAULT_REGISTERED_MODEL

    def alias():
        return client.get_model_version_by_alias(name, registry.ALIAS)

    first = ch.promote(store, A, gate={"verdict": "pass"}, tracking_uri=uri)
    assert first.mirror.status == registry.SYNCED, first.mirror.message
    v1 = alias()
    assert v1.tags["llm_eval.run_id"] == "r1" and v1.tags["llm_eval.model"] == "model-00"
    assert v1.tags["llm_eval.prompt_set"] == "bench-set" and v1.tags["llm_eval.gate"] == "pass"
    assert v1.tags["llm_eval.history_row"] == "1"

    ch.promote(store, B, tracking_uri=uri)
    v2 = alias()
    assert v2.version != v1.version and v2.tags["llm_eval.run_id"] == "r2" and v2.tags["llm_eval.model"] == "model-01"

    back = ch.rollback(store, tracking_uri=uri)
    assert back.mirror.status == registry.SYNCED and alias().version == v1.version  # the alias, not a new version
    assert len(client.search_model_versions(f"name = '{name}'")) == 2
    mirrored = champion_mirror(store)
    assert list(mirrored["status"]) == ["synced"] * 3 and list(mirrored["version"]) == [str(v) for v in (v1.version, v2.version, v1.version)]


def test_a_failed_mirror_keeps_the_history_and_sync_replays_it(mlflow_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(tracking.ENV_SWITCH, "on")
    store = _runs(tmp_path / "eval.duckdb")
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    change = ch.promote(store, A, tracking_uri=dead)
    assert change.mirror.status == registry.PENDING and "127.0.0.1" in change.mirror.message
    assert ch.current(store).entry.arm == A and store.get_setting("champion") == "model-00"
    assert champion_mirror(store)["status"].tolist() == ["pending"]

    db = str(tmp_path / "eval.duckdb")
    assert main(["champion", "sync", "--db", db, "--mlflow-uri", dead]) == 1
    uri = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    assert main(["champion", "sync", "--db", db, "--mlflow-uri", uri]) == 0
    assert "alias 'champion'" in capsys.readouterr().out
    assert champion_mirror(store)["status"].tolist() == ["synced"]  # the latest outcome of row 1


def test_the_best_quality_model_is_no_longer_tagged_champion(mlflow_dir, tmp_path, monkeypatch):
    """A run mirrored before the rename loses its old `llm_eval.champion` tag on the next sync."""
    from mlflow import MlflowClient

    monkeypatch.setenv(tracking.ENV_SWITCH, "on")
    uri = f"sqlite:///{mlflow_dir / 'mlflow.db'}"
    store = _runs(tmp_path / "eval.duckdb")
    first = tracking.mirror_run(store, "r1", uri, experiment="rename")
    client = MlflowClient(tracking_uri=uri)
    client.set_tag(first.mlflow_run_id, "llm_eval.champion", "model-01")  # as the mirror used to write it
    again = tracking.mirror_run(store, "r1", uri, experiment="rename")
    tags = client.get_run(again.mlflow_run_id).data.tags
    assert again.mlflow_run_id == first.mlflow_run_id and tags["llm_eval.best_quality_model"] == "model-01"
    assert not any("champion" in k for k in tags)


# ---------------------------------------------------------------------------- CLI


def test_cli_promote_rollback_history_and_exit_codes(store, tmp_path, capsys):
    db = str(store.path)
    assert main(["champion", "rollback", "--db", db]) == 2
    assert "no champion to roll back" in capsys.readouterr().err
    assert main(["champion", "promote", "r1:nope", "--db", db]) == 2
    assert main(["champion", "promote", "r1", "--db", db]) == 2
    assert main(["champion", "promote", "r1:model-00", "--db", db, "--gate", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "fail.json"
    bad.write_text(json.dumps({"verdict": "fail", "candidate": "r1:model-00"}))
    assert main(["champion", "promote", "r1:model-00", "--db", db, "--gate", str(bad)]) == 2
    assert "gate result says 'fail'" in capsys.readouterr().err
    good = tmp_path / "pass.json"
    good.write_text(json.dumps({"verdict": "pass", "candidate": "r1:model-00"}))
    assert main(["champion", "promote", "r1:model-00", "--db", db, "--gate", str(good), "--note", "Q3"]) == 0
    assert main(["champion", "promote", "r2:model-01", "--db", db, "--by", "ana"]) == 0
    assert "replaces r1:model-00" in capsys.readouterr().out
    assert main(["champion", "rollback", "--db", db, "--note", "latency regression"]) == 0
    assert main(["champion", "--db", db]) == 0
    assert "champion: r1:model-00 (since row 3, rollback)" in capsys.readouterr().out
    assert main(["champion", "history", "--json", "--db", db]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["action"] for r in rows] == ["promote", "promote", "rollback"]
    assert rows[0]["gate"]["verdict"] == "pass" and rows[1]["by"] == "ana (CLI)" and rows[2]["restores"] == 1
    assert main(["champion", "history", "--db", db]) == 0
    assert "restores row 1; replaces r2:model-01" in capsys.readouterr().out


# ---------------------------------------------------------------------------- Models page


def test_models_page_promotes_and_rolls_back(store, monkeypatch):
    monkeypatch.setenv("LLM_EVAL_DB", str(store.path))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("pages/7_models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No champion yet" in i.value for i in at.info)

    def promote(run_id: str, model: str, note: str) -> None:
        at.selectbox(key="models.promote.run").set_value(run_id).run()
        at.selectbox(key="models.promote.model").set_value(model)
        at.text_input(key="models.promote.note").input(note)
        at.button(key="models.promote").click().run()
        assert not at.exception, [e.value for e in at.exception]

    promote("r1", "model-00", "<b>first</b>")
    promote("r2", "model-01", "second")
    assert [e.arm for e in ch.history(store)] == [A, B] and ch.history(store)[0].note == "<b>first</b>"
    assert any("is now the champion" in s.value and "history row 2" in s.value for s in at.success), [s.value for s in at.success]
    [table] = [d.value for d in at.dataframe if "arm" in d.value.columns]
    assert list(table["arm"]) == ["r2:model-01", "r1:model-00"] and list(table["action"]) == ["promote", "promote"]

    assert at.button(key="models.rollback").disabled  # not before the confirmation is ticked
    at.checkbox(key="models.rollback.confirm").check().run()
    at.button(key="models.rollback").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert ch.current(store).entry.arm == A and store.get_setting("champion") == "model-00"
    assert ch.history(store)[-1].action == "rollback" and ch.history(store)[-1].actor.endswith("(dashboard)")
    assert any("**Champion:** r1" in m.value and "restored by a rollback" in m.value for m in at.markdown)
