"""Battles in the store: one outcome between two models, from a judge, a file import or human votes.

The judge writes them (`write_battles`), the arena, the gate and the leaderboard read them (`read_battles`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from harness.records import Battle
from harness.store.engine import Store, insert_new, insert_new_tuples
from harness.store.schema import battles


def write_battles(store: Store, items: Iterable[Battle]) -> int:
    """Insert battles in order, skipping any whose `battle_key` is already stored (or repeated); returns inserted.

    Safe with several writers at once: a key another process inserted meanwhile is skipped, not an error.
    """
    return write_battle_rows(store, [asdict(battle) for battle in items])


def write_battle_rows(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """`write_battles` for rows already in the table's shape (a Battle's fields, `extra` a dict)."""
    unique, seen = [], set()
    for row in rows:
        key = row["battle_key"]
        if key:
            if key in seen:
                continue
            seen.add(key)
        unique.append(row)
    if not unique:
        return 0
    with store.begin() as conn:
        return insert_new(conn, battles, unique, ["battle_key"])


def write_battle_tuples(store: Store, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """`write_battles` for battles given as tuples of `columns` (`extra` as JSON text): what `harness arena
    --battles` stores a million-row file with, without a record or a dict per row; returns inserted."""
    if not rows:
        return 0
    with store.begin() as conn:
        return insert_new_tuples(conn, battles, columns, rows, ["battle_key"])


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
