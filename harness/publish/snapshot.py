"""`harness publish`: a deployable, read-only leaderboard folder from a store (or from chosen models of it).

The folder holds `leaderboard.db` (an SQLite file with the store's schema and copies of the chosen rows:
models, their runs, scores and samples, answers, judgments and battles among them, their ratings, and the
published results), the Streamlit app with the harness modules it imports, `app.py`, `requirements.txt`
and a README a Hugging Face Space reads. No secrets and no absolute paths go in: URL credentials are
masked and absolute paths cut to their last part in every copied value, and the snapshot is checked for
both before it is finished. Claims on work (`leases`) are never copied.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from harness.errors import HarnessError
from harness.publish.code import ENTRY, SNAPSHOT, space_readme, write_code
from harness.redact import redact
from harness.store import Store, open_store
from harness.store.schema import (
    baselines,
    battles,
    generations,
    judgments,
    models,
    published_results,
    ratings,
    runs,
    samples,
    scores,
    task_results,
)

# An absolute POSIX or home path: its folders are cut, its last part kept ("/home/u/ckpt/alpaca" -> "alpaca").
_PART = r"[^\s/'\"`,;:()\[\]{}<>|]"
_ABS_PATH = re.compile(rf"(?<![\w.~:/\\-])(?:~/(?:{_PART}+/)*|/(?:{_PART}+/)+)(?={_PART})")
_WRITTEN = (ENTRY, SNAPSHOT, "requirements.txt", "README.md", ".streamlit", "harness", "leaderboard_app")


@dataclass(frozen=True)
class PublishOutcome:
    """What `harness publish` wrote."""

    out: str
    models: list[str]
    rows: dict[str, int]
    requirements: list[str]
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def scrub(value: Any) -> Any:
    """`value` with URL credentials masked and absolute paths cut to their last part, through dicts and lists."""
    if isinstance(value, str):
        return _ABS_PATH.sub("", redact(value))
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def leaks(value: Any) -> list[str]:
    """The absolute paths and unmasked URL credentials left in `value` (what `scrub` removes)."""
    if isinstance(value, dict):
        return [leak for v in value.values() for leak in leaks(v)]
    if isinstance(value, list):
        return [leak for v in value for leak in leaks(v)]
    if not isinstance(value, str):
        return []
    return [m[0] for m in _ABS_PATH.finditer(value)] + ([value] if redact(value) != value else [])


def _selections(source: Store, names: Sequence[str] | None) -> tuple[list[tuple[sa.Table, Any]], list[str]]:
    """(table, WHERE clause or None) for every table copied, in dependency order, and the models chosen."""
    with source.engine.connect() as conn:
        found = conn.execute(sa.select(models.c.id, models.c.name)).all()
    chosen = sorted({name for _, name in found} if names is None else set(names))
    missing = sorted(set(chosen) - {name for _, name in found})
    if missing:
        raise HarnessError(f"no model named {', '.join(missing)} in the store",
                           hint="see `harness runs list` for the stored model names")
    if names is None:
        return [(table, None) for table in (models, runs, task_results, scores, samples, generations, judgments,
                                            battles, ratings, baselines, published_results)], chosen
    run_ids = sa.select(runs.c.id).where(runs.c.model_id.in_([i for i, n in found if n in chosen]))
    pair = sa.and_(judgments.c.model_a.in_(chosen), sa.or_(judgments.c.model_b.is_(None),
                                                           judgments.c.model_b.in_(chosen)))
    return [(models, models.c.name.in_(chosen)), (runs, runs.c.id.in_(run_ids)),
            (task_results, task_results.c.run_id.in_(run_ids)), (scores, scores.c.run_id.in_(run_ids)),
            (samples, samples.c.run_id.in_(run_ids)), (generations, generations.c.model.in_(chosen)),
            (judgments, pair), (battles, sa.and_(battles.c.model_a.in_(chosen), battles.c.model_b.in_(chosen))),
            (ratings, ratings.c.model.in_(chosen)), (baselines, baselines.c.ref.in_(run_ids)),
            (published_results, None)], chosen


def copy_rows(source: Store, target: Store, names: Sequence[str] | None, with_published: bool) -> dict[str, int]:
    """Copy the chosen rows table by table, scrubbed; returns rows copied per table."""
    present = set(sa.inspect(source.engine).get_table_names())
    selections, chosen = _selections(source, names)
    copied: dict[str, int] = {}
    with source.engine.connect() as read, target.begin() as write:
        for table, where in selections:
            if table.name not in present or (table is published_results and not with_published):
                continue
            if table is battles and _has_blocks(read):
                copied[table.name] = _copy_battles(source, write, None if names is None else chosen)
                continue
            query = sa.select(table) if where is None else sa.select(table).where(where)
            count = 0
            for batch in read.execute(query).mappings().partitions(2000):
                write.execute(sa.insert(table), [{k: scrub(v) for k, v in row.items()} for row in batch])
                count += len(batch)
            copied[table.name] = count
    return copied


def _has_blocks(conn: sa.Connection) -> bool:
    from harness.store.battle_blocks import has_blocks

    return has_blocks(conn)


def _copy_battles(source: Store, write: sa.Connection, chosen: Sequence[str] | None) -> int:
    """Battles of a store that holds blocks, copied as battles rows in battle order (a block's compressed
    text could not be scrubbed and checked), only those among `chosen` models when given."""
    from dataclasses import asdict

    from harness.store.battles import read_battles

    among = None if chosen is None else set(chosen)
    picked = [asdict(b) for b in read_battles(source) if among is None or {b.model_a, b.model_b} <= among]
    for start in range(0, len(picked), 2000):
        write.execute(sa.insert(battles), [{k: scrub(v) for k, v in row.items()} for row in picked[start:start + 2000]])
    return len(picked)


def check_snapshot(path: Path) -> None:
    """Raise if any text in the snapshot still holds an absolute path or a URL credential (a bug if so)."""
    with sqlite3.connect(path) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                found = [leak for cell in row if isinstance(cell, str) for leak in leaks(cell)]
                if found:
                    raise HarnessError(f"snapshot table {table} still holds {found[0]!r}",
                                       hint="report this: publish scrubs paths and credentials")


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise HarnessError(f"{out} is a file", hint="pass a folder to --out")
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    ours = [name for name in left if name in _WRITTEN]
    if left and not force:
        raise HarnessError(f"{out} is not empty ({', '.join(left[:5])})",
                           hint="pass an empty or new folder, or --force to replace a previous publish there")
    for name in ours:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.chmod(0o644)
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _finish(path: Path) -> None:
    """One self-contained file (no WAL beside it), compacted and made read-only."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("VACUUM")
    conn.close()
    path.chmod(0o444)


def publish(out: str | Path, store_url: str | None = None, model_names: Sequence[str] | None = None,
            with_published: bool = True, force: bool = False, title: str = "harness leaderboard") -> PublishOutcome:
    """Write the folder (see the module docstring) and return what went in.

    Raises:
        HarnessError: no store, an unknown model, or a non-empty `out` without `force` (nothing written).
    """
    import streamlit

    source = open_store(store_url, readonly=True)
    folder = Path(out).expanduser()
    _, chosen = _selections(source, model_names)  # fail on unknown names before anything is written
    _prepare(folder, force)
    snapshot = folder / SNAPSHOT
    target = open_store(f"sqlite:///{snapshot.resolve()}")
    try:
        rows = copy_rows(source, target, model_names, with_published)
    finally:
        target.engine.dispose()
        source.engine.dispose()
    for leftover in (snapshot.with_name(snapshot.name + s) for s in ("-wal", "-shm")):
        if leftover.exists():
            os.remove(leftover)
    _finish(snapshot)
    check_snapshot(snapshot)
    reqs = write_code(folder)
    (folder / "README.md").write_text(space_readme(title, streamlit.__version__), encoding="utf-8")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return PublishOutcome(str(folder), chosen, rows, reqs, files)
