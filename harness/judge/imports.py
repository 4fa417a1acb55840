"""`harness judge import`: existing judgments in published formats become battles (and grades) in the store.

The file is read through `harness.formats.read_file`, the same reader `harness arena --battles` uses, so
both commands store the same battles under the same keys; re-importing a file adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.formats import read_file
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.judgments import write_judgments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportOutcome:
    """What `harness judge import` reports."""

    format: str
    path: str
    battles_read: int
    battles_written: int
    judgments_written: int
    dropped: int
    judges: list[str]
    skipped: int = 0


def import_judgments(path: str | Path, fmt: str | None = None, store_url: str | None = None,
                     skip_bad: bool = False) -> ImportOutcome:
    """Read `path` in `fmt` (detected when None) and write its battles and grades; re-importing adds nothing.

    Raises:
        HarnessError: a missing file, an unknown format or a malformed row (unless `skip_bad`).
    """
    found = read_file(path, fmt, skip_bad)
    for problem in found.problems:
        log.warning("skipped %s", problem)
    store = open_store(store_url)
    written = write_battles(store, found.battles)
    write_judgments(store, found.judgments)
    judges = sorted({b.judge or "" for b in found.battles} | {j.judge for j in found.judgments})
    return ImportOutcome(found.format, found.path, len(found.battles), written, len(found.judgments),
                         found.dropped, judges, found.skipped)
