"""The core columns of a clean_battle JSON list, read without building its rows (what `harness arena --battles`
rates when it needs only model_a, model_b, winner and category).

`read_core_table(path, category)` parses the file once with msgspec into small structs holding only the core
fields (every other field is skipped without a Python object), while the file's sha256 and its zstd copy are
made on a background thread (both release the GIL). A large file is parsed in two halves, the second in a
forked child (`harness.parallel`): the list is cut where one row ends and the next begins with the first row's
first key, and read whole instead when either half does not parse (a cut inside a string or a nested object
cannot parse: the half would end inside it). The rows' other fields and extras stay in the file: the
store keeps its bytes and rebuilds them on read (`harness.formats.columns.file_fields`). Anything this reader
does not accept as it stands (a row that is not an object, a bad core value, a row with its own battle_key,
a non-string category or judge, what only the standard JSON parser reads) returns None, and the caller reads
the file with `read_clean_battle_table`, which names the first bad row or counts the skipped ones.
"""

from __future__ import annotations

import codecs
import hashlib
import mmap
import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import count
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import zstandard

from harness.formats.clean_battle import FORMAT
from harness.formats.columns import BattleTable, ColumnPart, join_parts
from harness.parallel import Forked, can_fork
from harness.records import WINNERS

_BOM = b"\xef\xbb\xbf"


class _Core(msgspec.Struct, gc=False):
    """The fields of a row the ratings and the views read, typed as `clean_battle` accepts them as they stand:
    a row that differs (a missing model, a winner not in `WINNERS`, a non-string category or judge, its own
    battle_key) fails the decode, and the file goes to the column reader."""

    model_a: str
    model_b: str
    winner: Literal["model_a", "model_b", "tie", "tie (bothbad)"]  # decoded as these very strings: cheap to code
    category: str | None = None
    judge: str | None = None
    battle_key: None = None  # a row's own key: stored row by row, by the column reader's path


_DECODER = msgspec.json.Decoder(list[_Core])


class PackedFile:
    """A file's bytes, hashed (sha256) and compressed (zstd level 1) on a background thread: both release the
    GIL, so they overlap the parse and the rating when the other core is free (on a busy machine they cost
    what they would in line). zstd rather than zlib: on a 197 MB battle file 0.17 s and 8 MB against zlib
    level 1's 0.7 s and 18 MB."""

    def __init__(self, raw: bytes | mmap.mmap) -> None:
        self._digest = ""
        self._packed = b""
        self._hashed = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(raw,), name="pack-battle-file", daemon=True)
        self._thread.start()

    def _work(self, raw: bytes | mmap.mmap) -> None:
        with memoryview(raw) as view:
            self._digest = "sha256:" + hashlib.sha256(view).hexdigest()
            self._hashed.set()
            self._packed = zstandard.ZstdCompressor(level=1).compress(view)

    def digest(self) -> str:
        """The file's `sha256:` digest (waits for the hash only)."""
        self._hashed.wait()
        return self._digest

    def packed(self) -> bytes:
        """The zstd-compressed file (waits for the compression)."""
        self._thread.join()
        return self._packed


_SPLIT_FROM = 32 << 20
"""Files from this size (~160k rows of an Arena dump) are parsed in two halves, one in a forked child."""


@dataclass(frozen=True)
class _Coded:
    """A list of strings as its distinct values and a code per item: what a child sends back (pickling half a
    million strings took 0.1 s, their codes 1 ms)."""

    values: list[str | None]
    codes: np.ndarray[Any, np.dtype[np.int32]]

    @classmethod
    def of(cls, items: list[str | None]) -> _Coded:
        index: defaultdict[str | None, int] = defaultdict(count().__next__)
        codes = np.array([index[item] for item in items], np.int32)
        return cls(list(index), codes)

    def items(self) -> list[str | None]:
        return list(map(self.values.__getitem__, self.codes.tolist()))


@dataclass(frozen=True)
class _Part:
    """The core columns of some rows: model codes into `names` (in first-seen order), winner codes into
    `WINNERS`, the category and judge lists (coded when sent from a child)."""

    names: list[str]
    a: np.ndarray[Any, np.dtype[np.int32]]
    b: np.ndarray[Any, np.dtype[np.int32]]
    winner: np.ndarray[Any, np.dtype[np.int8]]
    category: list[str | None] | _Coded
    judge: list[str | None] | _Coded

    def coded(self) -> _Part:
        return replace(self, category=_Coded.of(_items(self.category)), judge=_Coded.of(_items(self.judge)))


def _items(column: list[str | None] | _Coded) -> list[str | None]:
    return column.items() if isinstance(column, _Coded) else column


def read_core_table(path: Path, category: str | None = None) -> BattleTable | None:
    """A clean_battle JSON list as core columns (only the battles of `category` when given), its category and
    judge columns and its bytes packed for the store; None when the file needs the full reader.

    The file is mapped, not read: a private copy-on-write mapping for the parser (a cut is made by writing
    the list's closing or opening bracket over the comma between two rows, which each process does in its
    own copy) and a read-only one for the hash and the compression."""
    with path.expanduser().open("rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            return None
        text = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
        original = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    start = len(_BOM) if text[:len(_BOM)] == _BOM else 0
    first = _FIRST_ROW.match(text, start)
    if first is None or not _valid_utf8(original):
        return None
    comma = _comma(text, first) if len(text) >= _SPLIT_FROM and can_fork() else None
    tail = None if comma is None else Forked(True, _read_tail, text, comma)
    packed = PackedFile(original)  # its thread starts after the fork
    try:
        parts = _parsed(text, start, comma, tail)
    finally:  # its thread ends here, whatever the parse found (it is done by now), so later work may fork
        packed.packed()
    if parts is None:
        return None
    columns = join_parts([ColumnPart(p.names, p.a, p.b, p.winner, _items(p.category), _items(p.judge))
                          for p in parts])
    n = len(columns.a)
    table = BattleTable(tuple(columns.models), columns.a, columns.b, columns.winner, f"import:{path.name}",
                        digest=packed.digest(), fields={"category": columns.category, "judge": columns.judge},
                        numbers=np.arange(1, n + 1, dtype=np.int64), packed=packed.packed)
    return table if category is None else table.where(table.category_mask(category))


def _parsed(text: mmap.mmap, start: int, comma: int | None,
            tail: Forked[_Part | None] | None) -> list[_Part] | None:
    """The list's parts: whole, or the half before `comma` here and `tail` from the child; read whole when a
    half does not parse (a cut that was not between rows, or a row the reader refuses); None when the whole
    does not either."""
    if comma is not None and tail is not None:
        text[comma] = ord("]")
        halves = [_read_part(text, start, comma + 1), tail.result()]
        text[comma] = ord(",")
        if None not in halves:
            return [part for part in halves if part is not None]
    whole = _read_part(text, start, len(text))
    return None if whole is None else [whole]


def reads_cores(path: Path) -> bool:
    """Whether `path` is a clean_battle file (`read_core_table` then reads it, if it is a valid JSON list)."""
    from harness.formats import detect_format

    source = path.expanduser()
    return source.is_file() and detect_format(source) == FORMAT


def _valid_utf8(text: mmap.mmap) -> bool:
    """Whether the bytes are UTF-8 (msgspec skips the strings of unread fields without checking them)."""
    if len(text) and np.frombuffer(text, np.uint8).max() < 0x80:  # ASCII
        return True
    try:
        codecs.utf_8_decode(text, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


_FIRST_ROW = re.compile(rb'\s*\[\s*(?:\{\s*("[A-Za-z_][A-Za-z0-9_ ]*")\s*:)?')


def _comma(text: mmap.mmap, first: re.Match[bytes]) -> int | None:
    """Where to cut the list near its middle: the comma between the end of a row and the next row (None when
    no such place is found). The next row must open with the first row's first key, which a nested object
    seldom does; whether the cut is really between rows is known when both halves parse."""
    if first.group(1) is None:
        return None
    between = re.compile(rb"\}\s*(,)\s*\{\s*" + re.escape(first.group(1)) + rb"\s*:")
    found = between.search(text, len(text) // 2)
    return None if found is None else found.start(1)


def _read_tail(text: mmap.mmap, comma: int) -> _Part | None:
    """The rows after `comma` to the end of the list, parsed as a list of their own (the comma becomes its
    opening bracket, in this process's copy of the mapping)."""
    text[comma] = ord("[")
    part = _read_part(text, comma, len(text))
    return None if part is None else part.coded()


def _read_part(text: mmap.mmap, start: int, stop: int) -> _Part | None:
    """The core columns of the JSON list at `text[start:stop]`, or None when some row is not one this reader
    takes as it stands (the decoder checks the types; here: a blank model name, the same model on both
    sides, no rows)."""
    try:
        with memoryview(text) as view:
            rows = _DECODER.decode(view[start:stop])
    except (msgspec.MsgspecError, RecursionError):  # not objects, or what only the standard parser reads
        return None
    if not rows:
        return None
    names: defaultdict[str, int] = defaultdict(count().__next__)  # each distinct name's first-seen index
    # comprehensions rather than attrgetter maps: Python specialises their slot reads (0.16 s for both seats of
    # a million rows against 0.28 s)
    a = np.array([names[row.model_a] for row in rows], np.int32)
    b = np.array([names[row.model_b] for row in rows], np.int32)
    if not all(name.strip() for name in names) or np.any(a == b):
        return None
    winners = {w: k for k, w in enumerate(WINNERS)}
    winner = np.fromiter(map(winners.__getitem__, map(attrgetter("winner"), rows)), np.int8, len(rows))
    category, judge = (list(map(attrgetter(name), rows)) for name in ("category", "judge"))
    return _Part(list(names), a, b, winner, category, judge)
