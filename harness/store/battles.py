"""Battles in the store: one outcome between two models, from a judge, a file import or human votes.

The judge writes them (`write_battles`), the arena, the gate and the leaderboard read them (`read_battles`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import sqlalchemy as sa

from harness.records import Battle
from harness.store import Store
from harness.store.schema import battles


def write_battles(store: Store, items: Iterable[Battle]) -> int:
    """Insert battles in one transaction, skipping any whose `battle_key` is already stored; returns inserted."""
    rows = [asdict(b) for b in items]
    keys = [r["battle_key"] for r in rows if r["battle_key"]]
    with store.engine.begin() as conn:
        existing: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            existing |= set(conn.execute(sa.select(battles.c.battle_key).where(battles.c.battle_key.in_(chunk))).scalars())
        seen: set[str] = set()
        fresh = []
        for r in rows:
            key = r["battle_key"]
            if key and (key in existing or key in seen):
                continue
            if key:
                seen.add(key)
            fresh.append(r)
        if fresh:
            conn.execute(sa.insert(battles), fresh)
    return len(fresh)


def read_battles(
    store: Store, source: str | None = None, judge: str | None = None, category: str | None = None
) -> list[Battle]:
    """Battles in insertion order (the order online Elo uses), optionally filtered."""
    query = sa.select(battles).order_by(battles.c.id)
    if source is not None:
        query = query.where(battles.c.source == source)
    if judge is not None:
        query = query.where(battles.c.judge == judge)
    if category is not None:
        query = query.where(battles.c.category == category)
    names = Battle.__dataclass_fields__
    with store.engine.connect() as conn:
        return [Battle(**{k: r[k] for k in names}) for r in conn.execute(query).mappings()]
