"""What `harness decontaminate` found, kept per fine-tuning data set and evaluation task.

A row is keyed by the data set's sha256 (the digest a fine-tune's model card records as `data.sha256`), the task
and the n-gram length; checking the same data again replaces it. The leaderboard joins it to model cards to flag
a (model, task) whose training data holds that task's documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from harness.store.engine import Store, upsert
from harness.store.schema import contamination

KEYS = ("data_sha256", "task", "ngram")


def write_contamination(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """Store (or replace) one row per (data set, task, n-gram length); returns how many were written."""
    if rows:
        with store.begin() as conn:
            upsert(conn, contamination, rows, KEYS)
    return len(rows)


def read_contaminated(store: Store) -> dict[str, list[str]]:
    """data sha256 -> the tasks some of whose documents that data holds (at any n-gram length checked)."""
    query = (sa.select(contamination.c.data_sha256, contamination.c.task)
             .where(contamination.c.contaminated_docs > 0).distinct().order_by(contamination.c.task))
    with store.engine.connect() as conn:
        if not sa.inspect(conn).has_table("contamination"):
            return {}
        found: dict[str, list[str]] = {}
        for digest, task in conn.execute(query):
            found.setdefault(digest, []).append(task)
    return found
