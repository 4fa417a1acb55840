"""Judgments in the store: one judge call (one answer order, or one single-answer grade), errors included.

The `judgments` table is the judge's cache: `harness judge` looks every call up by its `cache_key` first,
and writes each finished call (with the battle it completes, if any) as soon as it returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields

import sqlalchemy as sa

from harness.records import Battle, Judgment
from harness.store import Store
from harness.store.schema import battles, judgments

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
    """Insert or replace (by cache key) judgments and insert battles (deduplicated by key), in one transaction.

    Returns the number of battles inserted.
    """
    rows = [asdict(j) for j in items]
    battle_rows = [asdict(b) for b in new_battles]
    with store.engine.begin() as conn:
        keys = [r["cache_key"] for r in rows]
        if keys:
            conn.execute(sa.delete(judgments).where(judgments.c.cache_key.in_(keys)))
            conn.execute(sa.insert(judgments), rows)
        bkeys = [r["battle_key"] for r in battle_rows]
        if bkeys:
            known = set(
                conn.execute(sa.select(battles.c.battle_key).where(battles.c.battle_key.in_(bkeys))).scalars()
            )
            fresh = [r for r in battle_rows if r["battle_key"] not in known]
            if fresh:
                conn.execute(sa.insert(battles), fresh)
            return len(fresh)
    return 0


def read_judgments(store: Store, judge: str | None = None, mode: str | None = None) -> list[Judgment]:
    """Judgments in insertion order, optionally of one judge and one mode."""
    query = sa.select(judgments).order_by(judgments.c.id)
    if judge is not None:
        query = query.where(judgments.c.judge == judge)
    if mode is not None:
        query = query.where(judgments.c.mode == mode)
    with store.engine.connect() as conn:
        return [Judgment(**{k: r[k] for k in _FIELDS}) for r in conn.execute(query).mappings()]


def judge_names(store: Store) -> list[str]:
    """Every judge that has judgments or battles in the store."""
    with store.engine.connect() as conn:
        names = set(conn.execute(sa.select(judgments.c.judge).distinct()).scalars())
        names |= {n for n in conn.execute(sa.select(battles.c.judge).distinct()).scalars() if n}
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
