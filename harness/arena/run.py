"""`harness arena` glue: read battles (a file or the store), rate them, store the ratings, render the table.

`run_arena(...)` is what the CLI and the end-to-end demo call; the CLI renders the report (`harness.cli.arena`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.arena.ratings import ArenaConfig, ArenaReport, compute_ratings, ratings_from_report
from harness.arena.sources import select_sources
from harness.arena.tables import judged_by, rate_table, stored_table
from harness.errors import HarnessError
from harness.records import Battle

if TYPE_CHECKING:
    from harness.formats.columns import BattleTable
    from harness.store.engine import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArenaOutcome:
    """A rated battle set: the report, where the battles came from, rows skipped as malformed, rating rows
    stored, and how many of a file's battles were new to the store."""

    report: ArenaReport
    source: str
    skipped: int
    stored: int
    battles_written: int = 0

    def to_json(self) -> dict[str, object]:
        extra = {"source": self.source, "skipped": self.skipped, "stored": self.stored,
                 "battles_written": self.battles_written}
        return {**self.report.to_json(), **extra}


def run_arena(config: ArenaConfig, battles_file: Path | None = None, from_store: bool = False,
              category: str | None = None, skip_bad: bool = False, store: str | None = None,
              judges: list[str] | None = None) -> ArenaOutcome:
    """Rate the battles of `battles_file` or of the store (exactly one), optionally of one category, and
    store the ratings under the battle set's fingerprint."""
    from harness.store import open_store
    from harness.store.battles import read_battles
    from harness.store.ratings import write_ratings

    if (battles_file is None) == (not from_store):
        raise HarnessError("pass exactly one of --battles FILE and --from-store",
                           hint="--from-store rates the battles `harness judge` wrote")
    opened = open_store(store)
    suffix = f" judge:{'+'.join(judges)}" if judges else ""
    if battles_file is None and config.control:  # style control reads each battle's extra
        battles = select_sources(read_battles(opened, category=category), judges)
        source = f"store:{opened.url}{suffix}"
        report = compute_ratings(_checked(battles, category), config)
    else:
        if battles_file is None:  # the store's battles: of one source unless several are named
            table = stored_table(opened, category, judges)
        else:  # a file's: all of them unless sources are named
            table = _file_battles(battles_file, category, skip_bad, cores_only=not config.control)
            table = judged_by(table, judges) if judges else table
        if not len(table):
            _checked([], category)
        source = table.source + suffix
        report = rate_table(table, config)
    for note in report.warnings:
        log.warning("%s", note)
    written = 0 if battles_file is None else store_battle_table(opened, table)
    stored = write_ratings(opened, ratings_from_report(report, source, category))
    return ArenaOutcome(report, source, 0 if battles_file is None else table.skipped, stored, written)


def store_battle_table(store: Store, table: BattleTable) -> int:
    """Store a file's battles: as one block when they are a battle file's rows keyed by their row numbers,
    else row by row (rows with their own `battle_key`, other formats' records); returns how many were new.
    `harness arena --battles` and `harness judge import` (clean_battle files) store through it."""
    from harness.store.battle_blocks import FIELDS, VIEW_FIELDS, BattleColumns
    from harness.store.battles import write_battle_columns, write_battle_tuples

    own_keys = table.packed is None and bool(table.fields) and table.fields["battle_key"].count(None) != len(table)
    if table.records or not table.fields or table.digest is None or own_keys:
        return write_battle_tuples(store, *table.store_rows())
    names = VIEW_FIELDS if table.packed is not None else FIELDS
    return write_battle_columns(store, BattleColumns(
        table.format, table.digest, table.source, table.models, table.a, table.b, table.winner, table.numbers,
        {name: table.fields[name] for name in names}, table.extras, table.lossless_orjson, table.packed))


def _file_battles(path: Path, category: str | None, skip_bad: bool, cores_only: bool = False) -> BattleTable:
    """What a file holds, as columns, keeping only the battles of `category` when one is given; `cores_only`:
    a clean_battle JSON list's core columns only, when it reads as it stands (its other fields stay in it)."""
    from harness.formats.columns import read_battle_table
    from harness.formats.core_columns import read_core_table, reads_cores

    table = read_core_table(path, category) if cores_only and reads_cores(path) else None
    if table is not None:
        if not len(table):
            _checked([], category)
        return table
    table = read_battle_table(path, skip_bad=skip_bad)
    for problem in table.problems:
        log.warning("skipped %s", problem)
    if table.skipped:
        log.warning("skipped %d malformed rows", table.skipped)
    if category is None:
        return table
    table = table.where(table.category_mask(category))
    if not len(table):
        _checked([], category)
    return table


def _checked(battles: list[Battle], category: str | None) -> list[Battle]:
    if not battles and category is not None:
        raise HarnessError(f"no battles in category {category!r}", hint="drop --category or pick another")
    return battles
