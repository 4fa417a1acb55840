"""Published results in the store: numbers public leaderboards printed, one row per (file, model, column).

`harness published import` writes them (`write_published`: a result key already stored is skipped, so
importing a file again adds nothing); `harness published list` and the leaderboard read them. They live
in their own table and are never mixed with the `scores` the store computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from harness.records import PublishedResult
from harness.store.engine import Store, insert_new
from harness.store.schema import published_results

if TYPE_CHECKING:
    import pandas as pd

_FIELDS = [f.name for f in fields(PublishedResult)]


def write_published(store: Store, items: Iterable[PublishedResult]) -> int:
    """Insert results in order, skipping any whose `result_key` is stored (or repeated); returns inserted."""
    rows, seen = [], set()
    for item in items:
        if item.result_key not in seen:
            seen.add(item.result_key)
            rows.append(asdict(item))
    if not rows:
        return 0
    with store.begin() as conn:
        return insert_new(conn, published_results, rows, ["result_key"])


def _has_table(store: Store) -> bool:
    return sa.inspect(store.engine).has_table(published_results.name)


def read_published(store: Store, leaderboard: str | None = None,
                   models: Sequence[str] | None = None) -> list[PublishedResult]:
    """Stored published results in insertion order, optionally of one table or of some models (any case)."""
    if not _has_table(store):
        return []
    query = sa.select(published_results).order_by(published_results.c.id)
    if leaderboard is not None:
        query = query.where(published_results.c.leaderboard == leaderboard)
    if models is not None:  # names as published differ in case between tables (Vicuna-13B, vicuna-13b)
        query = query.where(sa.func.lower(published_results.c.model).in_([m.lower() for m in models]))
    with store.engine.connect() as conn:
        return [_record(dict(r)) for r in conn.execute(query).mappings()]


def _record(row: dict[str, Any]) -> PublishedResult:
    row["extra"] = row["extra"] or {}
    return PublishedResult(**{k: row[k] for k in _FIELDS})


def list_leaderboards(store: Store) -> list[dict[str, Any]]:
    """One entry per published table: leaderboard, formats, files, newest source date, models, results,
    benchmarks, in the order they were first imported."""
    if not _has_table(store):
        return []
    t = published_results.c
    query = (
        sa.select(t.leaderboard, sa.func.min(t.id).label("first"), sa.func.count().label("results"),
                  sa.func.count(sa.distinct(t.model)).label("models"),
                  sa.func.count(sa.distinct(t.benchmark)).label("benchmarks"),
                  sa.func.max(t.source_date).label("source_date"))
        .group_by(t.leaderboard).order_by("first")
    )
    with store.engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
        for entry in found:
            entry.pop("first")
            where = t.leaderboard == entry["leaderboard"]
            entry["formats"] = sorted(conn.execute(sa.select(t.format).distinct().where(where)).scalars())
            entry["files"] = sorted(conn.execute(sa.select(t.source_file).distinct().where(where)).scalars())
    return found


def read_published_frame(store: Store) -> pd.DataFrame:
    """Every published result as a frame (the leaderboard's read), in insertion order."""
    import pandas as pd

    if not _has_table(store):
        return pd.DataFrame(columns=["id", *_FIELDS])
    with store.engine.connect() as conn:
        return pd.read_sql(sa.select(published_results).order_by(published_results.c.id), conn)
