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
