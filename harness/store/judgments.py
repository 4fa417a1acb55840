"""Judgments in the store: one judge call (one answer order, or one single-answer grade), errors included.

The `judgments` table is the judge's cache: `harness judge` looks every call up by its `cache_key` first,
and writes each finished call (with the battle it completes, if any) as soon as it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields

import sqlalchemy as sa

from harness.records import Battle, Judgment
from harness.store.battle_blocks import has_blocks, read_blocks
from harness.store.engine import Store, insert_new, upsert
from harness.store.schema import battle_blocks, battles, judgments

_FIELDS = [f.name for f in fields(Judgment)]


def find_judgments(store: Store, keys: list[str]) -> dict[str, Judgment]:
    """The stored judgments among `keys` (ok and error alike), by cache key."""
    found: dict[str, Judgment] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = conn.execute(sa.select(judgments).where(judgments.c.cache_key.in_(chunk))).mappings()
            found.update({r["cache_key"]: Judgment(**{k: r[k] for k in _FIELDS}) for r in rows})
    return found


def write_judgments(store: Store, items: Iterable[Judgment], new_battles: Iterable[Battle] = ()) -> int:
    """Insert or replace (by cache key) judgments and insert battles (skipping stored keys), in one transaction.

    Returns the number of battles inserted. Several writers may write the same keys at once: the last
    judgment written wins, a battle is stored once.
    """
    rows = list({j.cache_key: asdict(j) for j in items}.values())
    battle_rows = list({b.battle_key: asdict(b) for b in new_battles}.values())
    with store.begin() as conn:
        if rows:
            upsert(conn, judgments, rows, ["cache_key"])
        return insert_new(conn, battles, battle_rows, ["battle_key"]) if battle_rows else 0


def read_judgments(store: Store, judge: str | None = None, mode: str | None = None) -> list[Judgment]:
    """Judgments in insertion order, optionally of one judge and one mode."""
    query = sa.select(judgments).order_by(judgments.c.id)
    if judge is not None:
        query = query.where(judgments.c.judge == judge)
    if mode is not None:
        query = query.where(judgments.c.mode == mode)
    with store.engine.connect() as conn:
        return [Judgment(**{k: r[k] for k in _FIELDS}) for r in conn.execute(query).mappings()]


def count_by_mode(store: Store) -> dict[str, int]:
    """Stored judgments per mode (`pairwise`, `single`), and stored `battles`."""
    query = sa.select(judgments.c.mode, sa.func.count()).group_by(judgments.c.mode)
    with store.engine.connect() as conn:
        counts = {str(mode): int(n) for mode, n in conn.execute(query)}
        counts["battles"] = int(conn.execute(sa.select(sa.func.count()).select_from(battles)).scalar() or 0)
        if has_blocks(conn):
            counts["battles"] += int(conn.execute(sa.select(sa.func.sum(battle_blocks.c.n_battles))).scalar() or 0)
    return counts


def judge_names(store: Store) -> list[str]:
    """Every judge that has judgments or battles in the store."""
    with store.engine.connect() as conn:
        names = set(conn.execute(sa.select(judgments.c.judge).distinct()).scalars())
        names |= {n for n in conn.execute(sa.select(battles.c.judge).distinct()).scalars() if n}
        names |= {n for block in (read_blocks(conn) if has_blocks(conn) else ()) for n in block.columns.fields["judge"]
                  if n}
    return sorted(names)


def judge_usage(store: Store, judge: str) -> dict[str, float]:
    """Calls, tokens and USD one judge has cost, summed over its stored judgments."""
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(judgments.c.attempts), 0),
        sa.func.coalesce(sa.func.sum(judgments.c.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(judgments.c.completion_tokens), 0),
        sa.func.coalesce(sa.func.sum(judgments.c.cost_usd), 0.0),
    ).where(judgments.c.judge == judge)
    with store.engine.connect() as conn:
        n, attempts, prompt, completion, cost = conn.execute(query).one()
    return {
        "judgments": n,
        "requests": attempts,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": float(cost),
    }
