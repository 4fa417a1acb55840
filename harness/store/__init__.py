"""The results store: one SQLAlchemy database (SQLite file by default, PostgreSQL by URL) for every record.

`open_store(url)` connects, brings the schema up to date under one write lock (so any number of processes may
open a new store together) and marks runs whose process died as interrupted; `open_store(url, readonly=True)`
(the leaderboard) never writes, and `create=False` (read commands) refuses a store that does not exist yet.
Record families live in their own modules: `runs`, `battles`, `judgments`, `generations`, `ratings`,
`baselines`, `leases`; `views` holds the leaderboard's read queries; `database` opens the store.

Importing this package loads no SQLAlchemy: `DEFAULT_STORE` and `resolve_store_url` are pure
(`harness.store.location`), and the names below that need the database layer load it on first use, so
`harness --help` and commands that only name the store start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.store.location import DEFAULT_STORE, resolve_store_url

if TYPE_CHECKING:
    from harness.store.database import check_store_url, open_store, store_exists
    from harness.store.engine import Store
    from harness.store.migrations import SCHEMA_VERSION
    from harness.store.schema import metadata

_LAZY = {"Store": "engine", "SCHEMA_VERSION": "migrations", "metadata": "schema", "check_store_url": "database",
         "open_store": "database", "store_exists": "database"}


def __getattr__(name: str) -> Any:
    """The database-layer names, imported when first asked for (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "Store", "check_store_url", "metadata", "open_store",
           "resolve_store_url", "store_exists"]
