"""Opening the store: connect, migrate under one write lock, reconcile dead runs (`harness.store` re-exports it)."""

from __future__ import annotations

import sqlalchemy as sa

from harness.errors import HarnessError, StoreSchemaTooNew
from harness.store.engine import Store, check_url, make_engine, parse_url, sqlite_path
from harness.store.leases import reconcile_runs, sweep_dead_leases
from harness.store.location import resolve_store_url
from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION
from harness.store.schema import migrations_table

_ADVISORY_LOCK = 0x6861726E  # "harn": serialises migrations across PostgreSQL clients
_OPEN_HINT = "check --store / HARNESS_STORE"


def check_store_url(url: str | None) -> None:
    """Fail on a malformed URL, a missing driver or an unwritable folder before anything is written."""
    check_url(resolve_store_url(url))


def store_exists(url: str | None) -> bool:
    """False when `url` names an SQLite file that is not there yet (a server database counts as existing)."""
    path = sqlite_path(parse_url(resolve_store_url(url)))
    return path is None or path.exists()


def applied_migrations(conn: sa.Connection) -> list[str]:
    """Names of the migrations a database has had, in order ([] for a new database)."""
    if not sa.inspect(conn).has_table(migrations_table.name):
        return []
    return list(conn.execute(sa.select(migrations_table.c.name).order_by(migrations_table.c.name)).scalars())


def _refuse_newer(done: list[str], shown: str) -> None:
    known = {name for name, _ in MIGRATIONS}
    unknown = [name for name in done if name not in known]
    if unknown:
        raise StoreSchemaTooNew(
            f"store {shown} has schema {len(done)} ({unknown[-1]}), newer than this harness's {SCHEMA_VERSION}",
            hint="upgrade harness (pip install -U -e .) or point --store at another file",
        )


def _migrate(store: Store) -> None:
    """Apply the missing steps inside one write transaction; the set of applied steps is read under the lock."""
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        migrations_table.create(conn, checkfirst=True)
        done = applied_migrations(conn)
        _refuse_newer(done, store.url)
        for name, step in MIGRATIONS:
            if name not in done:
                step(conn)
                conn.execute(sa.insert(migrations_table).values(name=name))


def _cannot_open(shown: str, exc: sa.exc.DBAPIError) -> HarnessError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    if "not a database" in reason:
        return HarnessError(f"cannot open store {shown}: the file is not an SQLite database",
                            hint="point --store / HARNESS_STORE at a harness store or at a new file")
    return HarnessError(f"cannot open store {shown}: {reason}", hint=_OPEN_HINT)


def _check_exists(parsed: sa.URL, shown: str, create: bool, readonly: bool) -> None:
    path = sqlite_path(parsed)
    if path is None:
        return
    if (readonly or not create) and not path.exists():
        raise HarnessError(f"no store at {path}", hint="check --store / HARNESS_STORE (commands that write "
                                                        "results, such as `harness eval`, create it)")
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HarnessError(f"cannot open store {path}: {exc.strerror}", hint=_OPEN_HINT) from exc


def open_store(url: str | None = None, readonly: bool = False, create: bool = True) -> Store:
    """Connect to the store at `url` (see `resolve_store_url`) and bring its schema up to date.

    Args:
        url: a path, SQLite URL or PostgreSQL URL; None reads HARNESS_STORE, then the default.
        readonly: never write (the leaderboard): no migrations, no reconciling, a read-only connection.
        create: when False (read-only commands), a store that does not exist yet is an error, not created.

    Raises:
        StoreSchemaTooNew: the database has migrations this code does not know.
        HarnessError: the URL is malformed, the file is not a store, or the database cannot be reached.
    """
    full_url = resolve_store_url(url)
    parsed = parse_url(full_url)
    shown = parsed.render_as_string(hide_password=True)
    _check_exists(parsed, shown, create, readonly)
    store = Store(make_engine(full_url, readonly), shown, readonly=readonly)
    try:
        with store.engine.connect() as conn:
            done = applied_migrations(conn)
        _refuse_newer(done, shown)
        if not done and not create:
            raise HarnessError(f"store {shown} is empty", hint="check --store / HARNESS_STORE")
        if readonly:
            return store
        if {name for name, _ in MIGRATIONS} - set(done):
            _migrate(store)
        reconcile_runs(store)
        sweep_dead_leases(store)
    except sa.exc.DBAPIError as exc:
        store.engine.dispose()
        raise _cannot_open(shown, exc) from exc
    return store

