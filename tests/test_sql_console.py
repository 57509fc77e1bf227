"""The SQL console (core.queries.console): one read statement over documented views, nothing else.

Every statement that would write, attach, copy out, install, load or reconfigure is refused with
a message (not a traceback), by the statement check and, independently, by the connection itself;
the database file is byte for byte the same afterwards."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from bench.analysis import synthetic_run
from core.queries import console
from core.schemas import SAMPLE_COLUMNS
from core.store import Store

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("console") / "console.duckdb"
    store = Store(path)
    synthetic_run(store, run_id="run-a", n_models=2, n_items=40, repeats=2)
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hostile(tmp) -> dict[str, str]:
    """Statement -> what the refusal names (a word of the message)."""
    return {
        "INSERT INTO samples SELECT * FROM samples": "INSERT",
        "UPDATE runs SET status = 'x'": "UPDATE",
        "DELETE FROM samples": "DELETE",
        "CREATE TABLE t AS SELECT 1 AS a": "CREATE",
        "CREATE TEMP TABLE t AS SELECT 1 AS a": "CREATE",
        "DROP TABLE samples": "DROP",
        "DROP VIEW samples": "DROP",
        f"ATTACH '{tmp / 'other.duckdb'}' AS other": "ATTACH",
        f"COPY samples TO '{tmp / 'out.csv'}'": "COPY",
        f"COPY (SELECT * FROM runs) TO '{tmp / 'out.parquet'}' (FORMAT parquet)": "COPY",
        f"EXPORT DATABASE '{tmp / 'dump'}'": "EXPORT",
        "INSTALL httpfs": "INSTALL",
        "LOAD httpfs": "LOAD",
        "SET enable_external_access = true": "SET",
        "RESET lock_configuration": "SET",
        "PRAGMA enable_profiling": "PRAGMA",
        "CHECKPOINT": "CHECKPOINT",
        "UPDATE EXTENSIONS": "UPDATE",
        "WITH x AS (SELECT 1 AS a) INSERT INTO runs (run_id) SELECT 'x' FROM x": "INSERT",
        "/* hi */ -- there\n DELETE FROM samples": "DELETE",
        "SELECT * FROM read_csv('/etc/passwd')": "files",
        "SELECT * FROM read_text('/etc/hostname')": "files",
        "SELECT * FROM glob('/etc/*')": "files",
    }


def test_every_write_attach_copy_install_load_and_setting_is_refused(db, tmp_path):
    before = _digest(db)
    for sql, word in _hostile(tmp_path).items():
        r = console.run_console(db, sql)
        assert r.status == "refused", (sql, r)
        assert r.message.startswith("Refused:") and word in r.message, (sql, r.message)
        assert r.frame.empty and "Traceback" not in r.message
    quoted = console.run_console(db, "SELECT * FROM '/etc/passwd'")  # no replacement scan of a file either
    assert quoted.status == "error" and quoted.frame.empty and "root:" not in quoted.message
    assert _digest(db) == before and list(tmp_path.iterdir()) == []
    assert Store(db).count_samples("run-a") == 160


def test_the_connection_itself_refuses_them_without_the_statement_check(db, tmp_path):
    """Second wall: the read-only, locked, no-external-access connection refuses each hostile statement
    (a temporary table or view, which vanishes with the connection, is the only thing it may create)."""
    before = _digest(db)
    with console.connect(db) as con:
        for sql in _hostile(tmp_path):
            if "TEMP TABLE" in sql or "DROP VIEW" in sql or sql == "CHECKPOINT":  # temporary, or a no-op when read-only
                continue
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
        name = con.execute("SELECT current_database()").fetchone()[0]
        for sql in (f"INSERT INTO {name}.main.runs (run_id) VALUES ('x')", f"UPDATE {name}.main.runs SET status = 'x'",
                    f"DELETE FROM {name}.main.samples", f"DROP TABLE {name}.main.samples",
                    f"CREATE TABLE {name}.main.t (a INTEGER)", "CREATE MACRO m(a) AS a + 1"):
            with pytest.raises(duckdb.Error, match="read-only"):  # the tables themselves, past the views
                con.execute(sql)
        assert con.execute("SELECT current_setting('enable_external_access')").fetchone() == (False,)
        assert con.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET memory_limit = '100GB'")
    assert _digest(db) == before and list(tmp_path.iterdir()) == []


def test_several_statements_are_refused_and_none_runs(db):
    r = console.run_console(db, "SELECT 1; SELECT 2")
    assert r.status == "refused" and "one statement at a time" in r.message and "holds 2" in r.message
    r = console.run_console(db, "SELECT count(*) AS n FROM samples; DELETE FROM samples")
    assert r.status == "refused" and r.frame.empty
    assert Store(db).count_samples("run-a") == 160
    assert console.run_console(db, "SELECT 1 AS a;").frame["a"].tolist() == [1]  # a trailing ';' is one statement


@pytest.mark.parametrize("sql", ["", "  -- only a comment\n"])
def test_an_empty_query_says_so(db, sql):
    r = console.run_console(db, sql)
    assert r.status == "refused" and "empty" in r.message


def test_bad_sql_is_an_error_message_not_an_exception(db):
    r = console.run_console(db, "SELEC 1")
    assert r.status == "error" and "syntax error" in r.message
    r = console.run_console(db, "SELECT no_such_column FROM samples")
    assert r.status == "error" and "no_such_column" in r.message


def test_reads_work_and_the_example_answers_per_model(db):
    r = console.run_console(db, console.EXAMPLE_SQL)
    assert r.ok and r.frame["model"].tolist() == ["model-00", "model-01"]
    assert list(r.frame.columns) == ["model", "samples", "median_latency_ms", "pass_rate"]
    assert r.elapsed_s > 0 and not r.truncated and r.message == "2 rows"
    for sql in ("DESCRIBE samples", "SUMMARIZE runs", "EXPLAIN SELECT * FROM runs",
                "WITH m AS (SELECT DISTINCT model FROM samples) SELECT count(*) AS n FROM m", "FROM run_models"):
        assert console.run_console(db, sql).ok, sql
    odd = console.run_console(db, "SELECT union_value(k := 1) AS u, {'a': 1} AS s, [1, 2] AS l, INTERVAL 1 DAY AS i, "
                                  "1.5::DECIMAL(4, 1) AS d, 1::HUGEINT AS h")
    assert odd.ok and odd.frame.shape == (1, 6) and odd.frame["u"].tolist() == [1]  # UNION has no pandas block
    twice = console.run_console(db, "SELECT 1 AS a, 2 AS a")
    assert list(twice.frame.columns) == ["a", "a (2)"]  # a repeated name stays apart in the table


def test_rows_are_capped_and_the_cap_is_reported(db):
    r = console.run_console(db, "SELECT * FROM samples ORDER BY seq", max_rows=25)
    assert r.ok and r.truncated and len(r.frame) == 25 and "truncated at 25 rows" in r.message
    exact = console.run_console(db, "SELECT * FROM samples", max_rows=160)
    assert exact.ok and not exact.truncated and len(exact.frame) == 160
    # a cross join of 10^10 rows is streamed: the cap stops it, nothing is materialised
    huge = console.run_console(db, "SELECT * FROM range(100000) a, range(100000) b", max_rows=1000, timeout_s=5)
    assert huge.ok and huge.truncated and len(huge.frame) == 1000 and huge.elapsed_s < 5


def test_a_long_query_is_stopped_at_the_time_limit(db):
    t = time.perf_counter()
    r = console.run_console(db, "SELECT count(*) FROM range(1000000000000)", timeout_s=1)
    took = time.perf_counter() - t
    assert r.status == "timeout" and "Stopped after 1 s" in r.message and r.frame.empty
    assert 1 <= took < 5
    r = console.run_console(db, "SELECT * FROM range(100000) a, range(100000) b ORDER BY 1 DESC", timeout_s=1)
    assert r.status == "timeout"
    assert console.run_console(db, "SELECT 1 AS a").ok  # the next query runs normally


def test_views_are_documented_with_the_columns_they_have(db):
    with console.connect(db) as con:
        for name, view in console.VIEWS.items():
            described = [row[0] for row in con.execute(f'DESCRIBE "{name}"').fetchall()]
            assert described == list(view.columns), name
            assert view.description and all(view.columns.values()), name
    assert set(console.VIEWS["samples"].columns) == set(SAMPLE_COLUMNS)  # a new sample column needs its doc
    store_cols = Store(db).query_df("DESCRIBE run_models")["column_name"]
    assert set(console.VIEWS["run_models"].columns) == set(store_cols)
    runs_cols = set(Store(db).query_df("DESCRIBE runs")["column_name"])
    assert runs_cols - set(console.VIEWS["runs"].columns) == {"pid", "mlflow_message"}  # left out on purpose


def test_a_view_reads_the_store_table(db):
    direct = Store(db).query_df("SELECT count(*) AS n, sum(latency_ms) AS s FROM samples")
    via = console.run_console(db, "SELECT count(*) AS n, sum(latency_ms) AS s FROM samples").frame
    assert via["n"].iloc[0] == direct["n"].iloc[0] == 160
    assert via["s"].iloc[0] == pytest.approx(direct["s"].iloc[0])


def test_a_missing_database_is_a_message(tmp_path):
    r = console.run_console(tmp_path / "nope.duckdb", "SELECT 1")
    assert r.status == "error" and "no database" in r.message
    assert not (tmp_path / "nope.duckdb").exists()


def test_another_process_writing_makes_it_wait_then_say_busy(db):
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            "time.sleep(float(sys.argv[2])); c.close()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), "2.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        busy = console.run_console(db, "SELECT 1 AS a", lock_wait_s=0.3)
        assert busy.status == "busy" and "busy" in busy.message
        waited = console.run_console(db, "SELECT 1 AS a", lock_wait_s=20)  # the holder lets go after 2 s
        assert waited.ok and waited.frame["a"].tolist() == [1]
    finally:
        proc.wait(30)


def test_the_store_in_the_same_process_waits_for_the_console_and_the_console_for_a_pinned_store(db):
    store = Store(db)
    done: dict[str, object] = {}
    slow = threading.Thread(target=lambda: done.update(r=console.run_console(
        db, "SELECT count(*) FROM range(1000000000000)", timeout_s=1.0)))
    slow.start()
    time.sleep(0.3)
    assert store.count_samples("run-a") == 160  # waited on Store's connection lock instead of failing
    slow.join()
    assert done["r"].status == "timeout"
    with store.pinned():  # another configuration holds the file in this process: retry, then say busy
        assert console.run_console(db, "SELECT 1 AS a", lock_wait_s=0.3).status == "busy"
    assert console.run_console(db, "SELECT 1 AS a").ok


def test_ratings_and_judgements_views_document_every_store_column(db):
    for table in ("ratings", "judgements"):
        cols = list(Store(db).query_df(f"DESCRIBE {table}")["column_name"])
        assert list(console.VIEWS[table].columns) == cols, table
