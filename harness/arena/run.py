"""`harness arena` glue: read battles (a file or the store), rate them, store the ratings, render the table.

`run_arena(...)` is what the CLI and the end-to-end demo call; the CLI renders the report (`harness.cli.arena`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.arena.ratings import ArenaConfig, ArenaReport, compute_ratings, ratings_from_report
from harness.errors import HarnessError
from harness.records import Battle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArenaOutcome:
    """A rated battle set: the report, where the battles came from, rows skipped as malformed, rows stored."""

    report: ArenaReport
    source: str
    skipped: int
    stored: int

    def to_json(self) -> dict[str, object]:
        extra = {"source": self.source, "skipped": self.skipped, "stored": self.stored}
        return {**self.report.to_json(), **extra}


def run_arena(config: ArenaConfig, battles_file: Path | None = None, from_store: bool = False,
              category: str | None = None, skip_bad: bool = False, store: str | None = None) -> ArenaOutcome:
    """Rate the battles of `battles_file` or of the store (exactly one), optionally of one category, and
    store the ratings under the battle set's fingerprint."""
    from harness.store import open_store
    from harness.store.battles import read_battles
    from harness.store.ratings import write_ratings

    if (battles_file is None) == (not from_store):
        raise HarnessError("pass exactly one of --battles FILE and --from-store",
                           hint="--from-store rates the battles `harness judge` wrote")
    opened = open_store(store)
    skipped = 0
    if battles_file is not None:
        from harness.formats.clean_battle import load_battles

        loaded = load_battles(battles_file, skip_bad)
        battles, source, skipped = loaded.battles, loaded.source, loaded.skipped
        for problem in loaded.problems:
            log.warning("skipped %s", problem)
        if category is not None:
            battles = [b for b in battles if b.category == category]
    else:
        battles, source = read_battles(opened, category=category), f"store:{opened.url}"
    if skipped:
        log.warning("skipped %d malformed rows", skipped)
    report = compute_ratings(_checked(battles, category), config)
    for note in report.warnings:
        log.warning("%s", note)
    stored = write_ratings(opened, ratings_from_report(report, source, category))
    return ArenaOutcome(report, source, skipped, stored)


def _checked(battles: list[Battle], category: str | None) -> list[Battle]:
    if not battles and category is not None:
        raise HarnessError(f"no battles in category {category!r}", hint="drop --category or pick another")
    return battles
