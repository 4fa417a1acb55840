"""Rows of published files: JSON lines with their line numbers, row keys, and the log a reader fills.

Every reader in `harness.formats` collects its records in a `RowLog`: a malformed row raises a
`HarnessError` naming the row, or with `skip_bad` is skipped and counted (the first reasons kept). Rows
the format itself marks as having no verdict (FastChat's "error", score -1) are `dropped`, not malformed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import HarnessError
from harness.fingerprint import content_hash
from harness.records import Battle, Judgment

SKIP_HINT = "fix the row or pass --skip-bad to skip malformed rows"
_KEPT_PROBLEMS = 5
_HEAD = 1 << 20  # bytes format detection reads first


@dataclass(frozen=True)
class Imported:
    """What one reader produced from one file or folder, in file order."""

    format: str
    path: str
    source: str
    battles: list[Battle] = field(default_factory=list)
    judgments: list[Judgment] = field(default_factory=list)
    dropped: int = 0  # rows the format marks as having no verdict (FastChat drops them too)
    skipped: int = 0  # malformed rows skipped with skip_bad
    problems: list[str] = field(default_factory=list)  # the first reasons rows were skipped


class Row(NamedTuple):
    """One row of a file: its 1-based line (or list position), how to name it, and its parsed value."""

    number: int
    where: str
    value: Any


class RowError(ValueError):
    """A row that does not fit its format; the message says why."""


class RowLog:
    """Collects one reader's records; a malformed row raises (naming it) or, with skip_bad, is counted."""

    def __init__(self, fmt: str, path: Path, skip_bad: bool = False, source: str | None = None) -> None:
        self.fmt, self.path, self.skip_bad = fmt, path, skip_bad
        self.source = source or f"import:{path.name}"
        self.battles: list[Battle] = []
        self.judgments: list[Judgment] = []
        self.problems: list[str] = []
        self.skipped = self.dropped = 0

    def where(self, path: Path, number: int, unit: str = "line") -> str:
        """How a message names row `number` of `path` ("line 3", or "file.jsonl line 3" inside a folder)."""
        return f"{unit} {number}" if path == self.path else f"{path.name} {unit} {number}"

    def bad(self, where: str, reason: str) -> None:
        """A malformed row: raise naming it, or (skip_bad) count it and keep the first reasons."""
        message = f"{where} of {self.path}: {reason}"
        if not self.skip_bad:
            raise HarnessError(message, hint=SKIP_HINT)
        self.skipped += 1
        if len(self.problems) < _KEPT_PROBLEMS:
            self.problems.append(message)

    @contextmanager
    def row(self, where: str) -> Iterator[None]:
        """Run one row's conversion; a missing field or a bad value in it becomes `bad(where, ...)`."""
        try:
            yield
        except KeyError as exc:
            self.bad(where, f"missing field {exc.args[0]!r}")
        except RowError as exc:
            self.bad(where, str(exc))
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            self.bad(where, f"{type(exc).__name__}: {exc}")

    def result(self) -> Imported:
        return Imported(format=self.fmt, path=str(self.path), source=self.source, battles=self.battles,
                        judgments=self.judgments, dropped=self.dropped, skipped=self.skipped,
                        problems=self.problems)


def json_lines(path: Path, log: RowLog | None = None) -> Iterator[Row]:
    """Each non-blank line of a JSONL file, parsed; a byte-order mark is tolerated.

    Invalid JSON is a bad row of `log`; without a log it raises `HarnessError` naming the line.
    """
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            if log is None:
                raise HarnessError(f"line {number} of {path}: invalid JSON ({exc.msg})",
                                   hint="fix or remove the line") from None
            log.bad(log.where(path, number), f"invalid JSON ({exc.msg})")
            continue
        yield Row(number, log.where(path, number) if log else f"line {number}", value)


def json_rows(path: Path, log: RowLog) -> Iterator[Row]:
    """The rows of a JSON list ("row N") or of a JSONL file ("line N")."""
    text = path.read_text(encoding="utf-8-sig")
    if not text.lstrip().startswith("["):
        yield from json_lines(path, log)
        return
    rows = _json_list(text, path)
    yield from (Row(k, log.where(path, k, "row"), value) for k, value in enumerate(rows, start=1))


def _json_list(text: str, path: Path) -> list[Any]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path} is not valid JSON: {exc}", hint="a JSON list or one object per line") from None
    return list(rows)


def first_row(path: Path) -> Any:
    """The first row of a JSON list or the first parseable line of a JSONL file (None if there is none),
    without parsing the rest: what format detection looks at. The first megabyte is looked at first, so a
    million-row file is not read twice."""
    with path.open("rb") as fh:
        head = fh.read(_HEAD)
    if len(head) == _HEAD:
        text = head.decode("utf-8-sig", errors="ignore").lstrip()
        try:
            if text.startswith("["):
                start = len(text) - len(text[1:].lstrip())
                return json.JSONDecoder().raw_decode(text, start)[0]
            for line in text.splitlines()[:-1]:  # the last line may be cut short
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    continue
        except json.JSONDecodeError:
            pass  # a first row longer than the head: read the whole file below
    return _first_row(path)


def _first_row(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig").lstrip()
    if text.startswith("["):
        start = len(text) - len(text[1:].lstrip())
        if text[start:start + 1] in ("]", ""):
            return None
        try:
            return json.JSONDecoder().raw_decode(text, start)[0]
        except json.JSONDecodeError:
            _json_list(text, path)  # raises naming the error
    for line in text.splitlines():
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes: the identity a row's battle key starts from."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def row_key(fmt: str, *identity: Any) -> str:
    """The battle key of one row: the format and the row's identity (file digests, line numbers), hashed,
    so reading the same file again, by any command, gives the same keys."""
    return content_hash({"format": fmt, "row": list(identity)})
