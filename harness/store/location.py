"""Where the store is: `--store`, then `HARNESS_STORE`, then the default file. Pure (no SQLAlchemy), so the
CLI can name the store without loading the database layer."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE = "results/harness.db"


def resolve_store_url(value: str | None) -> str:
    """Turn `--store`/`HARNESS_STORE`/default into an SQLAlchemy URL; a plain path means an SQLite file."""
    value = value or os.environ.get("HARNESS_STORE") or DEFAULT_STORE
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"
