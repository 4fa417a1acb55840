"""`harness judge import`: existing judgments in published formats become battles (and grades) in the store.

The file is read through `harness.formats.read_file`, the same reader `harness arena --battles` uses, so
both commands store the same battles under the same keys; re-importing a file adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from harness.formats import detect_format, read_file
from harness.formats.clean_battle import FORMAT as CLEAN_BATTLE
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
    source = Path(path).expanduser()
    if fmt is None and source.is_file() and detect_format(source) == CLEAN_BATTLE:
        return _import_battle_file(source, store_url, skip_bad)
    found = read_file(path, fmt, skip_bad)
    for problem in found.problems:
        log.warning("skipped %s", problem)
    store = open_store(store_url)
    written = write_battles(store, found.battles)
    write_judgments(store, found.judgments)
    judges = sorted({b.judge or "" for b in found.battles} | {j.judge for j in found.judgments})
    return ImportOutcome(found.format, found.path, len(found.battles), written, len(found.judgments),
                         found.dropped, judges, found.skipped)


def _import_battle_file(path: Path, store_url: str | None, skip_bad: bool) -> ImportOutcome:
    """A clean_battle file read column-wise and stored as `harness arena --battles` stores it (one block; a JSON
    list it takes as it stands by its core columns, keeping the file's bytes): the same battles, keys, errors
    and counts as the per-row reader gives, and a file already stored by either command (under any name) adds
    nothing."""
    from harness.arena.run import store_battle_table
    from harness.formats.columns import read_battle_table
    from harness.formats.core_columns import read_core_table

    table = read_core_table(path)
    table = read_battle_table(path, skip_bad=skip_bad) if table is None else table
    for problem in table.problems:
        log.warning("skipped %s", problem)
    written = store_battle_table(open_store(store_url), table)
    judges = sorted({judge or "" for judge in table.fields["judge"]})
    return ImportOutcome(CLEAN_BATTLE, str(path), len(table), written, 0, 0, judges, table.skipped)
