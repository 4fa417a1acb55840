"""Connecting to a store: SQLAlchemy URLs, drivers, and SQLite set up for many processes at once.

SQLite runs in WAL mode with a busy timeout, and write transactions start with `BEGIN IMMEDIATE` (see
`Store.begin` in the package), so concurrent writers queue for the write lock instead of failing when a read
transaction tries to become a write one. Nothing here creates tables; `open_store` does that.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from harness.errors import HarnessError, missing_extra

BUSY_TIMEOUT_S = 60.0
_DRIVER_EXTRAS = {"psycopg2": ("postgres", "psycopg2-binary"), "psycopg": ("postgres", "psycopg")}
_URL_HINT = "use a path, sqlite:///FILE or postgresql://USER@HOST/DB"


@dataclass(frozen=True)
class Store:
    """An open store: the engine plus the URL it was opened from (password masked)."""

    engine: sa.Engine
    url: str
    readonly: bool = False

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A write transaction: `BEGIN IMMEDIATE` on SQLite, so concurrent writers wait for the lock in turn
        instead of failing when a read transaction tries to write."""
        with self.engine.connect() as conn:
            conn.execution_options(harness_write=True)
            with conn.begin():
                yield conn


def parse_url(url: str) -> sa.URL:
    """The SQLAlchemy URL, or a one-line error naming the bad value."""
    try:
        return sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise HarnessError(f"bad store URL {url!r}", hint=_URL_HINT) from exc


def sqlite_path(parsed: sa.URL) -> Path | None:
    """The database file of an SQLite URL; None for other backends and in-memory databases."""
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_events(engine: sa.Engine, readonly: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's `begin` event below issues BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not readonly:
            _wal(cursor)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("harness_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _wal(cursor: Any) -> None:
    """`PRAGMA journal_mode = WAL`, retried while the database is locked: on a file still in rollback mode
    (a new store), SQLite answers "database is locked" at once, without its busy handler, while another
    connection holds the write lock (one switching it to WAL: processes opening a new store together)."""
    import sqlite3
    import time

    deadline, pause = time.monotonic() + BUSY_TIMEOUT_S, 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(2 * pause, 0.1)


def make_engine(url: str, readonly: bool) -> sa.Engine:
    """An engine for `url`; a missing driver names its extra. SQLite files get WAL, a busy timeout and, when
    `readonly`, a `mode=ro` connection that can never write."""
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None and readonly:
        parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    try:
        engine = sa.create_engine(parsed, **({"connect_args": {"timeout": BUSY_TIMEOUT_S}} if path else {}))
    except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
        driver = getattr(exc, "name", None) or parsed.drivername.split("+")[-1]
        if driver in _DRIVER_EXTRAS:
            extra, module = _DRIVER_EXTRAS[driver]
            raise missing_extra(f"store {parsed.get_backend_name()}", extra, module) from exc
        raise HarnessError(f"bad store URL {parsed.render_as_string()!r}: {exc}", hint=_URL_HINT) from exc
    if parsed.get_backend_name() == "sqlite":
        _sqlite_events(engine, readonly)
    return engine


def check_url(url: str) -> None:
    """Fail on a malformed URL, a missing driver or an unwritable folder without connecting (nothing is written)."""
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if parsed.get_backend_name() != "sqlite":
        make_engine(url, readonly=True).dispose()
    elif path is not None:
        existing = path.parent
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise HarnessError(f"cannot open store {path}: {existing} is not writable",
                               hint="check --store / HARNESS_STORE")


def lock_names(conn: sa.Connection, names: Iterable[str]) -> None:
    """Hold a PostgreSQL transaction lock per name (sorted, so two writers never wait on each other crosswise)
    until the transaction ends; nothing on SQLite, whose `BEGIN IMMEDIATE` already serialises writers. For
    work a plain unique key cannot guard, e.g. two names registering one new fingerprint at once."""
    if conn.dialect.name == "postgresql":
        for name in sorted(set(names)):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike). Only the dialect in
    use is imported: PostgreSQL's package loads its async drivers' modules too (~30 ms of a store hit)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _on_conflict(conn: sa.Connection, table: sa.Table, columns: Iterable[str], keys: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys): DO UPDATE `columns` other than the keys, DO NOTHING when there are none."""
    statement = _dialect_insert(conn, table)
    changed = {c: statement.excluded[c] for c in columns if c not in keys}
    if changed:
        return statement.on_conflict_do_update(index_elements=list(keys), set_=changed)
    return statement.on_conflict_do_nothing(index_elements=list(keys))


def _execute_rows(conn: sa.Connection, statement: Any, rows: Sequence[Mapping[str, Any]], chunk: int) -> int:
    """Run `statement` for every row; returns the rows changed. On SQLite one statement, compiled once and
    cached, run by the driver's executemany (a multi-row VALUES is compiled anew for every row count: most of
    a judge's CPU per stored judgment); elsewhere multi-row VALUES in chunks."""
    if conn.dialect.name == "sqlite":
        return int(conn.execute(statement, list(rows)).rowcount or 0) if rows else 0
    return sum(int(conn.execute(statement.values(list(rows[start:start + chunk]))).rowcount or 0)
               for start in range(0, len(rows), chunk))


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
               chunk: int = 500) -> int:
    """INSERT ... ON CONFLICT (keys) DO NOTHING, in chunks; returns how many rows were new.

    Safe when several processes write the same rows at once: a duplicate is skipped, never an error.
    """
    return _execute_rows(conn, _on_conflict(conn, table, (), keys), rows, chunk)


def insert_new_tuples(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]],
                      keys: Sequence[str]) -> int:
    """`insert_new` for many rows given as tuples of `columns`, JSON columns as JSON text: on SQLite one
    prepared statement run by the driver's executemany (no per-row processing; its rowcount sums the rows
    inserted), elsewhere `insert_new`'s chunks."""
    if conn.dialect.name != "sqlite":
        json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        dicts = [{name: json.loads(value) if name in json_columns and value is not None else value
                  for name, value in zip(columns, row)} for row in rows]
        return insert_new(conn, table, dicts, keys)
    names = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    conflict = ", ".join(f'"{key}"' for key in keys)
    statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) ON CONFLICT ({conflict}) DO NOTHING'
    # a million random keys go into the unique index: a page cache that holds it (up to 512 MB, this
    # statement only) keeps SQLite from writing and re-reading index pages all the way through
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {-min(512 * 1024, max(2000, len(rows) // 4))}")
    try:
        return int(conn.exec_driver_sql(statement, list(rows)).rowcount or 0)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache or -2000)}")


def upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
           chunk: int = 500) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE every other given column: the last writer's row wins."""
    if rows:
        _execute_rows(conn, _on_conflict(conn, table, rows[0], keys), rows, chunk)
