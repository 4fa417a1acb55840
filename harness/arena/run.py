"""`harness arena` glue: read battles (a file or the store), rate them, store the ratings, render the table.

`run_arena(...)` is what the CLI and the end-to-end demo call; the CLI renders the report (`harness.cli.arena`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.arena.ratings import ArenaConfig, ArenaReport, compute_ratings, ratings_from_report
from harness.arena.sources import select_sources
from harness.errors import HarnessError
from harness.records import Battle

if TYPE_CHECKING:
    from harness.formats import Imported

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
    store the ratings under the battle set's fingerprint.

    Store battles from several sources (human votes, judge models) are an error unless `judges` names the
    ones to use (`harness.arena.sources`); a file is rated as it is unless `judges` is given.

    A file is read through `harness.formats.read_file` (as `harness judge import` reads it) and the
    battles rated are stored too, keyed by the file's digest and row, so rating it again adds none.
    """
    from harness.store import open_store
    from harness.store.battles import read_battles, write_battles
    from harness.store.ratings import write_ratings

    if (battles_file is None) == (not from_store):
        raise HarnessError("pass exactly one of --battles FILE and --from-store",
                           hint="--from-store rates the battles `harness judge` wrote")
    opened = open_store(store)
    loaded = None if battles_file is None else _file_battles(battles_file, category, skip_bad)
    if loaded is not None:
        battles, source = loaded.battles, loaded.source
    else:
        battles, source = read_battles(opened, category=category), f"store:{opened.url}"
    if loaded is None or judges:
        battles = select_sources(battles, judges)
        source += f" judge:{'+'.join(judges)}" if judges else ""
    report = compute_ratings(_checked(battles, category), config)
    for note in report.warnings:
        log.warning("%s", note)
    written = 0 if loaded is None else write_battles(opened, battles)
    stored = write_ratings(opened, ratings_from_report(report, source, category))
    return ArenaOutcome(report, source, 0 if loaded is None else loaded.skipped, stored, written)


def _file_battles(path: Path, category: str | None, skip_bad: bool) -> Imported:
    """What a file holds, keeping only the battles of `category` when one is given."""
    from harness.formats import read_file

    loaded = read_file(path, skip_bad=skip_bad)
    for problem in loaded.problems:
        log.warning("skipped %s", problem)
    if loaded.skipped:
        log.warning("skipped %d malformed rows", loaded.skipped)
    if category is None:
        return loaded
    return replace(loaded, battles=[b for b in loaded.battles if b.category == category])


def _checked(battles: list[Battle], category: str | None) -> list[Battle]:
    if not battles and category is not None:
        raise HarnessError(f"no battles in category {category!r}", hint="drop --category or pick another")
    return battles
