"""Arena ratings in the store: one row per (battle set, method, model), keyed by the battle set's fingerprint.

`harness arena` writes them (`write_ratings` replaces the rows of the same battle set and method, so the
latest computation wins); the leaderboard and the gate read them (`read_ratings`, `list_battle_sets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from harness.records import Rating
from harness.store.engine import Store
from harness.store.schema import ratings


def write_ratings(store: Store, items: Sequence[Rating]) -> int:
    """Replace the stored rows of each (battle set, method) in `items` with `items`, in one transaction."""
    rows = [asdict(r) for r in items]
    groups = {(r["battle_set"], r["method"]) for r in rows}
    with store.begin() as conn:
        for battle_set, method in groups:
            stale = sa.and_(ratings.c.battle_set == battle_set, ratings.c.method == method)
            conn.execute(sa.delete(ratings).where(stale))
        if rows:
            conn.execute(sa.insert(ratings), rows)
    return len(rows)


def read_ratings(store: Store, battle_set: str | None = None, method: str | None = None) -> list[Rating]:
    """Ratings of `battle_set` (default: the most recently written one), best first within each method."""
    if battle_set is None:
        sets = list_battle_sets(store)
        if not sets:
            return []
        battle_set = str(sets[0]["battle_set"])
    query = sa.select(ratings).where(ratings.c.battle_set == battle_set)
    if method is not None:
        query = query.where(ratings.c.method == method)
    query = query.order_by(ratings.c.method, ratings.c.rating.desc(), ratings.c.model)
    with store.engine.connect() as conn:
        return [Rating(battle_set=r["battle_set"], method=r["method"], model=r["model"], rating=r["rating"], ci_low=r["ci_low"], ci_high=r["ci_high"],
                       rank_low=r["rank_low"], rank_high=r["rank_high"], n_battles=r["n_battles"], params=r["params"] or {})
                for r in conn.execute(query).mappings()]


def list_battle_sets(store: Store) -> list[dict[str, Any]]:
    """Rated battle sets, newest first: battle_set, models, written (last write time), methods."""
    query = (
        sa.select(
            ratings.c.battle_set,
            sa.func.max(ratings.c.id).label("last_id"),
            sa.func.count(sa.distinct(ratings.c.model)).label("models"),
            sa.func.max(ratings.c.created_at).label("written"),
        )
        .group_by(ratings.c.battle_set)
        .order_by(sa.desc("last_id"))
    )
    with store.engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
        for entry in found:
            entry["methods"] = sorted(conn.execute(
                sa.select(ratings.c.method).distinct().where(ratings.c.battle_set == entry["battle_set"])
            ).scalars())
            entry.pop("last_id")
    return found
