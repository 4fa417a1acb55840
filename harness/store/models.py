"""Models in the store: one row per fingerprint, and every name or path it was registered by as an alias.

`upsert_model` registers a model (finetune, eval and generate call it): a fingerprint the store knows keeps its
one row, the new name and source become aliases of it. `find_model` turns a stored name, path or hub id back
into that row, so every `--model` accepts any of them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from harness.records import ModelRecord
from harness.store.engine import Store, insert_new, lock_names, upsert
from harness.store.schema import model_aliases, models


def _named(name: str, source: str) -> bool:
    """True when `name` was chosen (`--name`), False when it is only the path or hub id it came from."""
    return name.rstrip("/") != source.rstrip("/")


def _shown_name(found: Any, model: ModelRecord) -> str:
    """The row keeps its name, unless that was only a path and the model now comes with a chosen name."""
    if _named(model.name, model.source) and not _named(found.name, found.source):
        return model.name
    return str(found.name)


def upsert_model(store: Store, model: ModelRecord) -> int:
    """Return the id of the model with `model.fingerprint`, inserting it or refreshing its card.

    Registering one checkpoint by its path and by a name never makes two models: the second registration
    finds the fingerprint's row and adds its name and source as aliases. The row's name is the first name
    chosen with `--name` (a path only until a name comes). Two processes registering at once get one id.
    """
    values = asdict(model)
    with store.begin() as conn:
        # Without it two PostgreSQL transactions registering one new fingerprint under two names both find no
        # row and both insert (READ COMMITTED).
        lock_names(conn, [f"model:{model.fingerprint}"])
        found = conn.execute(
            sa.select(models.c.id, models.c.name, models.c.source)
            .where(models.c.fingerprint == model.fingerprint).order_by(models.c.id).limit(1)
        ).first()
        if found is None:
            insert_new(conn, models, [values], ["name", "fingerprint"])
            model_id = conn.execute(sa.select(models.c.id).where(
                models.c.name == model.name, models.c.fingerprint == model.fingerprint)).scalar_one()
        else:
            model_id = found.id
            name = _shown_name(found, model)
            if name != found.name and conn.execute(sa.select(models.c.id).where(  # a legacy twin holds it
                    models.c.name == name, models.c.fingerprint == model.fingerprint)).first() is not None:
                name = found.name
            values.update(name=name, source=found.source)
        conn.execute(sa.update(models).where(models.c.id == model_id).values(**values))
        aliases = {model.name, model.source, values["name"]}
        upsert(conn, model_aliases, [{"alias": a, "model_id": model_id} for a in sorted(aliases)], ["alias"])
    return int(model_id)


def find_model(store: Store, ref: str) -> dict[str, Any] | None:
    """The model row a name, path or hub id stands for (an alias first, then a name); None when none does."""
    with store.engine.connect() as conn:
        query = sa.select(models).order_by(models.c.id.desc()).limit(1)
        if sa.inspect(conn).has_table(model_aliases.name):
            row = conn.execute(query.join(model_aliases, model_aliases.c.model_id == models.c.id)
                               .where(model_aliases.c.alias == ref)).mappings().first()
            if row is not None:
                return dict(row)
        row = conn.execute(query.where(models.c.name == ref)).mappings().first()
    return None if row is None else dict(row)


def model_name(store: Store, model_id: int) -> str:
    """The name a model is shown by."""
    with store.engine.connect() as conn:
        return str(conn.execute(sa.select(models.c.name).where(models.c.id == model_id)).scalar_one())


def model_ids(store: Store, ref: str) -> list[int]:
    """Every model id `ref` names: its alias's model and any model stored under that name."""
    with store.engine.connect() as conn:
        ids = set(conn.execute(sa.select(models.c.id).where(models.c.name == ref)).scalars())
        if sa.inspect(conn).has_table(model_aliases.name):
            ids |= set(conn.execute(sa.select(model_aliases.c.model_id).where(model_aliases.c.alias == ref)).scalars())
    return sorted(ids)


def stored_name(store: Store, ref: str) -> str:
    """The name a model is shown (and its answers stored) by, for any of its aliases; `ref` itself when it names
    no stored model (an imported or API model's name)."""
    found = find_model(store, ref)
    return ref if found is None else str(found["name"])
