"""The DuckDB store: migrations, keys, batched writes, bound parameters, bulk speed path."""
from __future__ import annotations

import pandas as pd

from core.schemas import SAMPLE_COLUMNS, ModelSpec
from core.store import MIGRATIONS, Store, result_key


def _row(key: str, run_id: str = "r1", model: str = "m", status: str = "ok", latency: float = 10.0) -> dict:
    row = {c: None for c in SAMPLE_COLUMNS}
    row.update(result_key=key, run_id=run_id, model=model, item_id=key, status=status, latency_ms=latency, seq=0, repeat=0)
    return row


def test_migrations_are_recorded_once(db_path):
    Store(db_path)
    again = Store(db_path)  # reopening applies nothing twice
    assert again.applied_migrations() == sorted(name for name, _ in MIGRATIONS)


def test_result_key_is_deterministic_and_sensitive():
    k = result_key("r", "m", "v1", "h", "item", 0)
    assert k == result_key("r", "m", "v1", "h", "item", 0)
    assert len(k) == 64
    assert len({k, result_key("r", "m", "v2", "h", "item", 0), result_key("r", "m", "v1", "h", "item", 1),
                result_key("r2", "m", "v1", "h", "item", 0), result_key("r", "m", "v1", "h2", "item", 0)}) == 5


def test_append_replaces_same_key_and_done_keys(store):
    store.append_samples([_row("a", status="skipped"), _row("b")])
    assert store.done_keys("r1") == {"b"}
    store.append_samples([_row("a", status="ok", latency=5.0)])  # resume re-runs a skipped sample
    df = store.samples_df("r1")
    assert len(df) == 2 and df.set_index("result_key").loc["a", "latency_ms"] == 5.0
    assert store.done_keys("r1") == {"a", "b"}


def test_replacing_keys_touches_only_their_run(store):
    """A batch deletes its own keys before inserting: within its run (one-run batches, the
    runner's) or across runs (a mixed batch); rows of other runs stay."""
    store.append_samples([_row("a", run_id="r1"), _row("b", run_id="r2")])
    store.append_samples([_row("a", run_id="r1", latency=1.0)])
    store.append_samples([_row("b", run_id="r2", latency=2.0), _row("c", run_id="r1", latency=3.0)])
    one, two = store.samples_df("r1").set_index("result_key"), store.samples_df("r2").set_index("result_key")
    assert sorted(one.index) == ["a", "c"] and one.loc["a", "latency_ms"] == 1.0
    assert list(two.index) == ["b"] and two.loc["b", "latency_ms"] == 2.0


def test_user_values_are_bound_not_formatted(store):
    evil = "x'); DROP TABLE samples; --"
    store.add_model(ModelSpec(name=evil, source="/nowhere"))
    assert [m.name for m in store.user_models()] == [evil]
    store.append_samples([_row("k", run_id=evil, model=evil)])
    assert store.samples_df(evil, models=[evil])["model"].tolist() == [evil]
    assert store.count_samples("r1") == 0  # table still there


def test_dataframe_batch_and_sql_summary(store):
    n = 5000
    df = pd.DataFrame({c: [None] * n for c in SAMPLE_COLUMNS})
    df["result_key"] = [f"k{i}" for i in range(n)]
    df["run_id"] = "r1"
    df["model"] = ["a" if i % 2 else "b" for i in range(n)]
    df["status"] = "ok"
    df["latency_ms"] = [float(i) for i in range(n)]
    df["output_tokens"] = 10
    assert store.append_samples(df) == n
    summary = store.latency_summary("r1").set_index("model")
    assert summary.loc["a", "n"] == n // 2
    assert abs(summary.loc["b", "median_latency_ms"] - 2499.0) < 1.0


def test_settings_roundtrip(store):
    assert store.get_setting("champion") is None
    store.set_setting("champion", "demo-base")
    assert store.get_setting("champion") == "demo-base"
    store.set_setting("champion", None)
    assert store.get_setting("champion") is None


def test_prompt_set_versions_migration_keeps_sets_imported_before_it(db_path, monkeypatch):
    """A database from before 0007 (items in prompt_sets, keyed by name) keeps its sets as their first version."""
    import json

    import core.store as store_mod
    from core import prompts

    before = tuple(m for m in MIGRATIONS if m[0] < "0007")
    monkeypatch.setattr(store_mod, "MIGRATIONS", before)
    old = Store(db_path)
    ps = prompts.parse_bytes(b'{"id": "a", "prompt": "hello"}', source="f.jsonl", name="old-set", description="d")
    with old.connect() as con:
        con.execute("INSERT INTO prompt_sets VALUES (?, ?, ?, ?, ?, now())",
                    [ps.name, ps.description, ps.content_hash, json.dumps([i.canonical() for i in ps.items]), 1])
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    new = Store(db_path)
    assert "0007_prompt_set_versions" in new.applied_migrations()
    (got,) = new.imported_prompt_sets()
    assert (got.name, got.description, got.items, got.content_hash) == ("old-set", "d", ps.items, ps.content_hash)
    versions = new.prompt_set_versions("old-set")
    assert list(versions["version"]) == [ps.content_hash] and bool(versions["current"].iloc[0])


def test_a_cancelled_sample_is_neither_done_nor_failed_on_any_page(tmp_path):
    """Issue 11.20: a cancelled run read '4 samples' on Results (runs_df) and '5' on Overview
    (latency_summary counted every row); a cancelled sample is not a failure either."""
    from bench.analysis import synthetic_run

    s = Store(tmp_path / "cancel.duckdb")
    synthetic_run(s, run_id="c", n_models=1, n_items=5, repeats=1, error_rate=0.0)
    with s.connect() as con:
        con.execute("UPDATE samples SET status = 'cancelled', error_kind = 'cancelled' WHERE seq = (SELECT max(seq) FROM samples)")
        con.execute("UPDATE samples SET status = 'timeout', error_kind = 'timeout' WHERE seq = (SELECT min(seq) FROM samples)")
    run = s.runs_df("c").iloc[0]
    summary = s.latency_summary("c")
    assert int(run["done"]) == int(summary["n"].sum()) == 4
    assert int(run["errors"]) == int(summary["errors"].sum()) == 1  # the timeout, not the cancelled sample


def test_every_run_picker_names_the_run_its_set_date_and_size():
    from ui import format as fmt

    row = {"run_id": "r-1", "name": "nightly", "prompt_set": "demo-qa", "created_at": pd.Timestamp("2026-11-30 09:05"),
           "done": 1, "status": "completed"}
    assert fmt.run_label(row) == "nightly (r-1) · set demo-qa · 2026-11-30 09:05 · 1 sample · completed"
    unnamed = {**row, "name": "r-1", "done": 1200, "created_at": pd.NaT}
    assert fmt.run_label(unnamed) == "r-1 · set demo-qa · 1,200 samples · completed"


def test_memory_footprint_migration_keeps_runs_stored_before_it(db_path, monkeypatch):
    """A 0005 database gains samples.mem_added_mb and run_models.model_footprint_mb (0006); its
    runs still read, with the new figures missing (NULL), never 0."""
    import core.store as store_mod

    upto = [name for name, _ in MIGRATIONS].index("0005_worker") + 1
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS[:upto])
    old = Store(db_path)
    assert "0006_memory_footprint" not in old.applied_migrations()
    with old.connect() as con:
        con.execute("INSERT INTO samples (result_key, run_id, model, status, latency_ms, peak_rss_mb, seq)"
                    " VALUES ('k', 'r1', 'm', 'ok', 10.0, 900.0, 0)")
        con.execute("INSERT INTO run_models (run_id, model, load_rss_mb) VALUES ('r1', 'm', 150.0)")
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    new = Store(db_path)
    assert "0006_memory_footprint" in new.applied_migrations()
    assert new.samples_df("r1")["mem_added_mb"].isna().all()
    assert new.run_models_df("r1")["model_footprint_mb"].isna().all()
    s = new.latency_summary("r1").iloc[0]
    assert pd.isna(s["model_footprint_mb"]) and pd.isna(s["mem_added_mb_max"]) and s["process_peak_rss_mb"] == 900.0
    new.append_samples([{**_row("k2"), "mem_added_mb": 0.25}])  # new rows carry the figure
    assert new.latency_summary("r1").iloc[0]["mem_added_mb_max"] == 0.25
