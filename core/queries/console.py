"""The SQL console: one user-written read statement over the documented views, and nothing else.

Three walls, each enough on its own for writes, the first two for everything else:
  1. the database file is opened READ-ONLY;
  2. the connection has external access disabled (no file, network, ATTACH of a file, COPY,
     INSTALL or LOAD), extension autoloading off, limits on memory and threads, and then its
     configuration locked, so no statement can turn any of that back;
  3. the text must be exactly one SELECT (WITH, FROM-first, DESCRIBE, SHOW, SUMMARIZE, VALUES,
     TABLE count as SELECT) or EXPLAIN statement; several statements are refused, not run in part.
The documented views (core.queries.console_views) live in the connection's temporary catalog and
go with it. At most max_rows rows are fetched; a timer interrupts a query past timeout_s.

DuckDB opens a file once per process per configuration, so while the console's connection is open
(timeout_s at most) the store's other connections in this process wait on Store's connection lock;
another process writing the file makes the console retry for a few seconds, then say so.
"""
from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from core.queries.console_views import EXAMPLE_SQL, VIEWS, ConsoleView
from core.store import Store

__all__ = ["EXAMPLE_SQL", "VIEWS", "ConsoleResult", "ConsoleView", "connect", "run_console"]

MEMORY_LIMIT = "1GB"
THREADS = 2
LOCK_WAIT_S = 5.0  # how long to wait for another process that holds the file
ALLOWED = ("SELECT", "EXPLAIN")
CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    "threads": THREADS,
    "temp_directory": "",  # nothing spills to disk: a query past the memory limit stops
}

Status = Literal["ok", "refused", "error", "timeout", "busy"]


@dataclass(frozen=True)
class ConsoleResult:
    status: Status
    message: str  # one sentence for the page: the row count, or why nothing ran
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    truncated: bool = False  # more rows existed than max_rows
    elapsed_s: float = 0.0  # wall time of the statement (opening, fetching included)
    max_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Refused(Exception):
    pass


def _busy(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text


@contextlib.contextmanager
def connect(db_path: str | Path, lock_wait_s: float = LOCK_WAIT_S) -> Iterator[duckdb.DuckDBPyConnection]:
    """The console's connection: read-only, no external access, limits set, configuration locked,
    the documented views created. Holds Store's connection lock while open (see the module note)."""
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no database at {path}")
    deadline, delay = time.monotonic() + lock_wait_s, 0.005
    while True:
        Store._connect_lock.acquire()  # noqa: SLF001 - one connection configuration per file per process
        try:
            con = duckdb.connect(str(path), read_only=True, config=CONFIG)
            break
        except BaseException as exc:
            Store._connect_lock.release()  # noqa: SLF001
            retry = isinstance(exc, (duckdb.IOException, duckdb.ConnectionException)) and _busy(exc)
            if not retry or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.1)
    try:
        _create_views(con)
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()
        Store._connect_lock.release()  # noqa: SLF001


def _create_views(con: duckdb.DuckDBPyConnection) -> None:
    database = con.execute("SELECT current_database()").fetchone()[0]
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [database]).fetchall()}
    for view in VIEWS.values():
        if view.table in tables:
            con.execute(view.select(database))


_KEYWORD = re.compile(r"(?:\s|--[^\n]*|/\*.*?\*/|\()*(\w+)", re.S)  # after comments and parentheses


def _statement(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    try:
        statements = con.extract_statements(sql)
        kinds = [s.type.name for s in statements]
    except ValueError:  # a statement type the Python client does not know (UPDATE EXTENSIONS, ...)
        kinds = ["unknown"]
    if not kinds:
        raise _Refused("the query is empty: write one SELECT statement")
    if len(kinds) > 1:
        raise _Refused(f"the console runs one statement at a time; this text holds {len(kinds)} "
                       "(separated by ';'): run them one by one")
    if kinds[0] not in ALLOWED:
        word = (m.group(1).upper() if (m := _KEYWORD.match(sql)) else "")
        raise _Refused(f"the console only reads: {word if word not in ('', 'WITH') else kinds[0]} statements are not "
                       "allowed here; write one SELECT (WITH, FROM-first, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN work too)")
    return statements[0].query


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int) -> tuple[pd.DataFrame, bool]:
    import pyarrow as pa

    reader = con.sql(sql).to_arrow_reader(min(max_rows + 1, 10_000))
    batches, rows = [], 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        if rows > max_rows:
            break
    table = pa.Table.from_batches(batches, schema=reader.schema)
    table = table.slice(0, max_rows).rename_columns(_unique(table.column_names))
    try:
        return table.to_pandas(), rows > max_rows
    except pa.ArrowException:  # a type pandas has no block for (UNION, ...): Python values instead
        return pd.DataFrame(table.to_pydict()), rows > max_rows


def _unique(names: list[str]) -> list[str]:
    """Column names as the table shows them: a repeated name gets ' (2)', ' (3)', ..."""
    out: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in out:
            n += 1
            unique = f"{name} ({n})"
        out.append(unique)
    return out


def _failure(exc: Exception, timed_out: bool, timeout_s: float) -> tuple[Status, str]:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, _Refused):
        return "refused", f"Refused: {text}"
    if timed_out or isinstance(exc, duckdb.InterruptException):
        return "timeout", (f"Stopped after {timeout_s:g} s, the console's time limit: "
                           "filter or aggregate more, or add a LIMIT")
    if isinstance(exc, duckdb.PermissionException):
        return "refused", f"Refused: the console cannot reach files, the network or extensions ({text})"
    if "read-only" in text or "configuration has been locked" in text:
        return "refused", f"Refused: the console is read-only ({text})"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "error", f"The query needs more than the console's {MEMORY_LIMIT} of memory: filter or aggregate more"
    return "error", f"The query failed: {text}"


def run_console(db_path: str | Path, sql: str, *, max_rows: int = 10_000, timeout_s: float = 10,
                lock_wait_s: float = LOCK_WAIT_S) -> ConsoleResult:
    """Run one read statement of the user's over the documented views; never raises for bad SQL.
    Waits up to lock_wait_s for another process that holds the file, then answers "busy"."""
    if max_rows < 1 or timeout_s <= 0:
        raise ValueError("max_rows must be at least 1 and timeout_s positive")
    start = time.perf_counter()
    fired = threading.Event()
    try:
        with connect(db_path, lock_wait_s) as con:
            statement = _statement(con, sql)

            def stop() -> None:
                fired.set()
                with contextlib.suppress(duckdb.Error):
                    con.interrupt()

            timer = threading.Timer(timeout_s, stop)
            timer.daemon = True
            timer.start()
            try:
                frame, truncated = _fetch(con, statement, max_rows)
            finally:
                timer.cancel()
    except FileNotFoundError as exc:
        return ConsoleResult("error", f"{exc}: start a run first", elapsed_s=time.perf_counter() - start, max_rows=max_rows)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        if _busy(exc):
            return ConsoleResult("busy", "The database is busy (a run or another dashboard task is writing it): "
                                 "try again in a moment", elapsed_s=time.perf_counter() - start, max_rows=max_rows)
        status, message = _failure(exc, fired.is_set(), timeout_s)
        return ConsoleResult(status, message, elapsed_s=time.perf_counter() - start, max_rows=max_rows)
    except (duckdb.Error, _Refused) as exc:
        status, message = _failure(exc, fired.is_set(), timeout_s)
        return ConsoleResult(status, message, elapsed_s=time.perf_counter() - start, max_rows=max_rows)
    elapsed = time.perf_counter() - start
    shown = f"{len(frame):,} rows" + (f" (truncated at {max_rows:,} rows)" if truncated else "")
    return ConsoleResult("ok", shown, frame, truncated, elapsed, max_rows)
