"""`harness published import`: a public leaderboard file becomes published results in the store.

The file is read through `harness.formats.published.read_published`; its results go to their own table
(never to `scores`), keyed so that importing the same file again adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.formats.published import read_published
from harness.store import open_store
from harness.store.published import write_published


@dataclass(frozen=True)
class PublishedImport:
    """What `harness published import` reports."""

    format: str
    file: str
    leaderboards: list[str]
    models: int
    results_read: int
    results_written: int
    mapped_to_tasks: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_published(path: str | Path, fmt: str | None = None, store_url: str | None = None,
                     source_url: str | None = None, date: str | None = None) -> PublishedImport:
    """Read `path` (format detected when `fmt` is None) and store its results; returns the counts.

    Raises:
        HarnessError: a missing file, an unknown format or a table that does not fit it (the store untouched).
    """
    table = read_published(path, fmt, source_url, date)
    written = write_published(open_store(store_url), table.results)
    return PublishedImport(
        format=table.format, file=Path(table.path).name,
        leaderboards=sorted({r.leaderboard for r in table.results}), models=len(table.models),
        results_read=len(table.results), results_written=written,
        mapped_to_tasks=sorted({r.task for r in table.results if r.task}))
