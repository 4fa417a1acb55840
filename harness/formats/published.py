"""Published leaderboards, one reader per format, and the one entry point `harness published import` reads through.

`read_published(path, fmt=None)` detects the format (or takes `fmt`, a `PUBLISHED_FORMATS` name) and returns
a `PublishedTable`: one `PublishedResult` per filled cell, in file order, each keyed by the file's digest,
the model and the column, so importing the same file again adds nothing. These are published numbers, kept
apart from the scores the store computed (`harness/store/published.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.formats import llm_leaderboard, lm_eval_results, published_csv
from harness.records import PublishedResult

Reader = Callable[[Path, str | None, str | None], list[PublishedResult]]

PUBLISHED_FORMATS: dict[str, Reader] = {
    "llm-leaderboard": llm_leaderboard.read_llm_leaderboard,
    "lmsys-csv": published_csv.read_lmsys_csv,
    "alpaca-eval-csv": published_csv.read_alpaca_eval_csv,
    "lm-eval-results": lm_eval_results.read_lm_eval_results,
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HINT = f"pass --format ({', '.join(PUBLISHED_FORMATS)})"


@dataclass(frozen=True)
class PublishedTable:
    """What one reader found in one file: its cells, in file order."""

    format: str
    path: str
    results: list[PublishedResult] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return sorted({r.model for r in self.results})


def detect_published_format(path: Path) -> str:
    """The PUBLISHED_FORMATS name of a file, from its suffix and header.

    Raises:
        HarnessError: nothing known looks like it.
    """
    if path.is_dir():
        raise HarnessError(f"{path} is a folder", hint="pass one leaderboard file")
    if llm_leaderboard.is_llm_leaderboard(path):
        return "llm-leaderboard"
    if path.suffix.lower() == ".csv":
        header, _ = published_csv.csv_rows(path)
        if published_csv.is_alpaca_csv(header):
            return "alpaca-eval-csv"
        if published_csv.is_lmsys_csv(header):
            return "lmsys-csv"
    if lm_eval_results.is_lm_eval_results(path):
        return "lm-eval-results"
    raise HarnessError(f"cannot tell which published leaderboard {path} is", hint=_HINT)


def read_published(path: str | Path, fmt: str | None = None, source_url: str | None = None,
                   date: str | None = None) -> PublishedTable:
    """Read a published leaderboard file into results (see the module docstring).

    Args:
        path: the file.
        fmt: a PUBLISHED_FORMATS name; None detects it.
        source_url: the link to record where the file gives none (lm-eval results) or to override the
            table's default (cells with their own link keep it).
        date: YYYY-MM-DD to record where the file does not say.

    Raises:
        HarnessError: a missing file, an unknown or undetectable format, or a table that does not fit it.
    """
    source = Path(path).expanduser()
    if date is not None and not _DATE.fullmatch(date):
        raise HarnessError(f"bad --date {date!r}", hint="use YYYY-MM-DD, e.g. 2023-06-22")
    if not source.is_file():
        raise HarnessError(f"no file {source}", hint="pass a published leaderboard file")
    name = fmt or detect_published_format(source)
    if name not in PUBLISHED_FORMATS:
        raise HarnessError(f"unknown format {name!r}", hint=f"use one of {', '.join(PUBLISHED_FORMATS)}")
    try:
        results = PUBLISHED_FORMATS[name](source, source_url, date)
    except (UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise HarnessError(f"{source} does not read as {name}: {type(exc).__name__}: {exc}", hint=_HINT) from None
    return PublishedTable(name, str(source), results)
