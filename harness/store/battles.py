"""Battles in the store: one outcome between two models, from a judge, a file import or human votes.

The judge writes them (`write_battles`), the arena, the gate and the leaderboard read them (`read_battles`).
A battle file's battles are stored as one block (`write_battle_columns`, `harness.store.battle_blocks`);
`read_battles` reads both layouts in insertion order, and `read_stored_table` their core columns in the same
order without a `Battle` per row (what `harness arena --from-store` rates).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from harness.records import Battle
from harness.store.battle_blocks import (
    BattleColumns,
    StoredBlock,
    block_keys,
    has_blocks,
    lock_sources,
    read_blocks,
    write_battle_block,
)
from harness.store.engine import Store, insert_new, insert_new_tuples
from harness.store.schema import battles

if TYPE_CHECKING:
    from harness.formats.columns import BattleTable, ColumnPart


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
        sources = sorted({row["source"] for row in unique})
        lock_sources(conn, sources)
        if has_blocks(conn):  # a file's battles stored as a block are not stored again row by row
            known = block_keys(conn, sources)
            unique = [row for row in unique if row["battle_key"] not in known] if known else unique
        return insert_new(conn, battles, unique, ["battle_key"]) if unique else 0


def write_battle_columns(store: Store, block: BattleColumns) -> int:
    """Store a battle file's battles as one block (the rows not stored yet, by any command); returns inserted.

    Safe with several writers at once: the write lock (SQLite) or a per-source lock (PostgreSQL) orders them,
    and each stores only what the others have not.
    """
    if not len(block):
        return 0
    with store.begin() as conn:
        return write_battle_block(conn, block)


def write_battle_tuples(store: Store, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """`write_battles` for battles given as tuples of `columns` (`extra` as JSON text): what `harness arena
    --battles` stores a million-row file with, without a record or a dict per row; returns inserted."""
    if not rows:
        return 0
    with store.begin() as conn:
        return insert_new_tuples(conn, battles, columns, rows, ["battle_key"])


def read_battles(
    store: Store, source: str | None = None, judge: str | None = None, category: str | None = None,
    pair: tuple[str, str] | None = None,
) -> list[Battle]:
    """Battles in insertion order (the order online Elo uses), optionally filtered (`pair`: only the battles
    between those two models); blocks' battles sit after the battles rows written before them. With `pair`,
    a block without such a battle is read without its extras (which may mean parsing its stored file)."""
    query = sa.select(battles).order_by(battles.c.id)
    if source is not None:
        query = query.where(battles.c.source == source)
    if judge is not None:
        query = query.where(battles.c.judge == judge)
    if category is not None:
        query = query.where(battles.c.category == category)
    if pair is not None:
        query = query.where(battles.c.model_a.in_(pair), battles.c.model_b.in_(pair))
    names = Battle.__dataclass_fields__
    with store.engine.connect() as conn:
        rows = [(r["id"], Battle(**{k: r[k] for k in names})) for r in conn.execute(query).mappings()]
        blocks = list(_blocks_of(conn, None if source is None else [source], pair)) if has_blocks(conn) else []
    out: list[Battle] = []
    position = 0
    for block in blocks:
        while position < len(rows) and rows[position][0] <= block.after_battle:
            out.append(rows[position][1])
            position += 1
        out += [b for b in block.columns.battles()
                if (judge is None or b.judge == judge) and (category is None or b.category == category)]
    return out + [battle for _, battle in rows[position:]]


def _blocks_of(conn: sa.Connection, sources: list[str] | None,
               pair: tuple[str, str] | None) -> Iterator[StoredBlock]:
    """The blocks with their extras, or with `pair` only their battles between those models (a block without
    any is read without its extras)."""
    if pair is None:
        yield from read_blocks(conn, sources, extras=True)
        return
    for block in read_blocks(conn, sources):
        c = block.columns
        codes = [c.models.index(name) if name in c.models else -1 for name in pair]
        keep = (np.isin(c.a, codes) & np.isin(c.b, codes)) if -1 not in codes else np.zeros(len(c), bool)
        if keep.any():
            whole = next(b for b in read_blocks(conn, extras=True, digest=c.digest) if b.id == block.id)
            yield replace(whole, columns=whole.columns.where(keep))


def read_stored_table(store: Store, category: str | None = None) -> BattleTable:
    """Every stored battle (of `category`) as core columns plus category and judge, in `read_battles`' order:
    a block's codes as stored, without its extras or a `Battle` per row (1M battles of an Arena dump:
    `read_battles` rebuilds every row's extra from the stored file).

    Raises:
        HarnessError: a stored winner that is not one of `WINNERS` (`encode_records`).
    """
    from harness.formats.columns import BattleTable, ColumnPart, join_parts

    query = sa.select(battles.c.id, battles.c.model_a, battles.c.model_b, battles.c.winner, battles.c.category,
                      battles.c.judge).order_by(battles.c.id)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        blocks = list(read_blocks(conn)) if has_blocks(conn) else []
    ids, parts, position = [row.id for row in rows], [], 0
    for block in blocks:
        end = bisect_right(ids, block.after_battle, lo=position)
        parts += [_row_part(rows[position:end])] if end > position else []
        c = block.columns
        parts.append(ColumnPart(c.models, c.a, c.b, c.winner, c.fields["category"], c.fields["judge"]))
        position = end
    parts += [_row_part(rows[position:])] if position < len(rows) or not parts else []
    joined = join_parts(parts)
    table = BattleTable(tuple(joined.models), joined.a, joined.b, joined.winner, f"store:{store.url}",
                        fields={"category": joined.category, "judge": joined.judge})
    return table if category is None else table.where(table.category_mask(category))


def _row_part(rows: Sequence[Any]) -> ColumnPart:  # rows of (id, model_a, model_b, winner, category, judge)
    from harness.formats.columns import ColumnPart, encode_records

    return ColumnPart(*encode_records(rows), [row.category for row in rows], [row.judge for row in rows])
