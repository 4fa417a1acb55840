"""Generations in the store: a model's answers to an open-ended question, one entry per question turn.

`harness generate` writes them (keyed by model fingerprint + question + generation config) and looks
them up before generating; `harness judge` reads the newest answers of each model by its name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

import sqlalchemy as sa

from harness.records import Generation
from harness.store.engine import Store, insert_new
from harness.store.schema import generations


def find_generations(store: Store, keys: list[str]) -> set[str]:
    """The subset of `keys` that the store already has."""
    found: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found |= set(
                conn.execute(
                    sa.select(generations.c.gen_key).where(generations.c.gen_key.in_(chunk))
                ).scalars()
            )
    return found


def find_by_content(store: Store, content_keys: list[str]) -> dict[str, list[str]]:
    """content key -> stored answer turns (of any model name) for the keys the store has."""
    found: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(content_keys), 500):
            chunk = content_keys[start : start + 500]
            query = sa.select(generations.c.content_key, generations.c.turns).where(
                generations.c.content_key.in_(chunk)
            )
            found.update({key: list(turns) for key, turns in conn.execute(query)})
    return found


def write_generations(store: Store, items: Iterable[Generation], replace: bool = False) -> int:
    """Insert generations in one transaction, skipping keys already stored (or replacing them); returns inserted.

    A replaced generation gets a new row (the newest row of a model's answers to a question wins when read).
    """
    rows = list({g.gen_key: asdict(g) for g in items}.values())
    if not rows:
        return 0
    with store.begin() as conn:
        if replace:
            conn.execute(sa.delete(generations).where(generations.c.gen_key.in_([r["gen_key"] for r in rows])))
        return insert_new(conn, generations, rows, ["gen_key"])


def read_answers(store: Store, model: str, question_set: str) -> dict[str, list[str]]:
    """question_id -> answer turns of `model` on `question_set`; the newest generation wins."""
    query = (
        sa.select(generations.c.question_id, generations.c.turns)
        .where(generations.c.model == model, generations.c.question_set == question_set)
        .order_by(generations.c.id)
    )
    with store.engine.connect() as conn:
        return {qid: list(turns) for qid, turns in conn.execute(query)}


def generated_models(store: Store, question_set: str | None = None) -> list[str]:
    """Names of the models that have answers stored (for one set, or any)."""
    query = sa.select(generations.c.model).distinct().order_by(generations.c.model)
    if question_set is not None:
        query = query.where(generations.c.question_set == question_set)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())
