"""The results store: one SQLAlchemy database (SQLite file by default, PostgreSQL by URL) for every record.

`open_store(url)` connects and runs pending migrations; `open_store(url, readonly=True)` (the leaderboard)
never writes. Record families live in their own modules: `runs` (models, runs, scores, samples), ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from harness.errors import HarnessError, StoreSchemaTooNew, missing_extra
from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION
from harness.store.schema import metadata, migrations_table

DEFAULT_STORE = "results/harness.db"
_DRIVER_EXTRAS = {"psycopg2": ("postgres", "psycopg2-binary"), "psycopg": ("postgres", "psycopg")}


@dataclass(frozen=True)
class Store:
    """An open store: the engine plus the URL it was opened from (password masked)."""

    engine: sa.Engine
    url: str
    readonly: bool = False


def resolve_store_url(value: str | None) -> str:
    """Turn `--store`/`HARNESS_STORE`/default into an SQLAlchemy URL; a plain path means an SQLite file."""
    value = value or os.environ.get("HARNESS_STORE") or DEFAULT_STORE
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _engine(url: str, readonly: bool) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise HarnessError(
            f"bad store URL {url!r}", hint="use a path, sqlite:///FILE or postgresql://USER@HOST/DB"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            path = Path(database)
            if readonly and not path.exists():
                raise HarnessError(f"no store at {path}", hint="run `harness eval` first or pass --store")
            if not path.parent.exists():
                if readonly:
                    raise HarnessError(f"no store at {path}", hint="pass --store")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise HarnessError(f"cannot open store {path}: {exc.strerror}", hint="check --store / HARNESS_STORE") from exc
            if readonly:
                parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    try:
        return sa.create_engine(parsed)
    except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
        driver = getattr(exc, "name", None) or parsed.drivername.split("+")[-1]
        if driver in _DRIVER_EXTRAS:
            extra, module = _DRIVER_EXTRAS[driver]
            raise missing_extra(f"store {parsed.get_backend_name()}", extra, module) from exc
        raise HarnessError(
            f"bad store URL {parsed.render_as_string()!r}: {exc}",
            hint="use a path, sqlite:///FILE or postgresql://USER@HOST/DB",
        ) from exc


def check_store_url(url: str | None) -> None:
    """Fail on a malformed URL or a missing database driver without connecting (nothing is written)."""
    full_url = resolve_store_url(url)
    try:
        parsed = sa.engine.make_url(full_url)
    except sa.exc.ArgumentError as exc:
        raise HarnessError(f"bad store URL {full_url!r}", hint="use a path, sqlite:///FILE or postgresql://USER@HOST/DB") from exc
    if parsed.get_backend_name() != "sqlite":
        _engine(full_url, readonly=True).dispose()
    elif parsed.database and parsed.database != ":memory:":
        existing = Path(parsed.database).parent
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise HarnessError(f"cannot open store {parsed.database}: {existing} is not writable",
                               hint="check --store / HARNESS_STORE")


def applied_migrations(conn: sa.Connection) -> list[str]:
    """Names of the migrations a database has had, in order ([] for a new database)."""
    if not sa.inspect(conn).has_table(migrations_table.name):
        return []
    return list(conn.execute(sa.select(migrations_table.c.name).order_by(migrations_table.c.name)).scalars())


def open_store(url: str | None = None, readonly: bool = False) -> Store:
    """Connect to the store at `url` (see `resolve_store_url`) and bring its schema up to date.

    Raises:
        StoreSchemaTooNew: the database has migrations this code does not know.
        HarnessError: the URL is malformed or the database cannot be reached.
    """
    full_url = resolve_store_url(url)
    engine = _engine(full_url, readonly)
    shown = sa.engine.make_url(full_url).render_as_string(hide_password=True)
    known = [name for name, _ in MIGRATIONS]
    try:
        with engine.connect() as conn:
            done = applied_migrations(conn)
    except sa.exc.OperationalError as exc:
        raise HarnessError(
            f"cannot open store {shown}: {str(exc.orig).strip()}", hint="check --store / HARNESS_STORE"
        ) from exc
    unknown = [name for name in done if name not in known]
    if unknown:
        raise StoreSchemaTooNew(
            f"store {shown} has schema {len(done)} ({unknown[-1]}), newer than this harness's {SCHEMA_VERSION}",
            hint="upgrade harness (pip install -U -e .) or point --store at another file",
        )
    if readonly:
        return Store(engine, shown, readonly=True)
    with engine.begin() as conn:
        migrations_table.create(conn, checkfirst=True)
        for name, migrate in MIGRATIONS:
            if name not in done:
                migrate(conn)
                conn.execute(sa.insert(migrations_table).values(name=name))
    return Store(engine, shown)


__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "Store", "metadata", "open_store", "resolve_store_url"]
