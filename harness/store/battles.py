"""Battles in the store: one outcome between two models, from a judge, a file import or human votes.

The judge writes them (`write_battles`), the arena, the gate and the leaderboard read them (`read_battles`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import sqlalchemy as sa

from harness.records import Battle
from harness.store.engine import Store, insert_new
from harness.store.schema import battles


def write_battles(store: Store, items: Iterable[Battle]) -> int:
    """Insert battles in order, skipping any whose `battle_key` is already stored (or repeated); returns inserted.

    Safe with several writers at once: a key another process inserted meanwhile is skipped, not an error.
    """
    rows, seen = [], set()
    for battle in items:
        row = asdict(battle)
        if row["battle_key"]:
            if row["battle_key"] in seen:
                continue
            seen.add(row["battle_key"])
        rows.append(row)
    if not rows:
        return 0
    with store.begin() as conn:
        return insert_new(conn, battles, rows, ["battle_key"])


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
