"""The core columns of a clean_battle JSON list, read without building its rows (what `harness arena --battles`
rates when it needs only model_a, model_b, winner and category).

`read_core_table(path, category)` parses the file once with msgspec into small structs holding only the core
fields (every other field is skipped without a Python object), while the file's sha256 and its zstd copy are
made on a background thread (both release the GIL). The rows' other fields and extras stay in the file: the
store keeps its bytes and rebuilds them on read (`harness.formats.columns.file_fields`). Anything this reader
does not accept as it stands (a row that is not an object, a bad core value, a row with its own battle_key,
a non-string category or judge, what only the standard JSON parser reads) returns None, and the caller reads
the file with `read_clean_battle_table`, which names the first bad row or counts the skipped ones.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from dataclasses import dataclass
from itertools import count
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np
import zstandard

from harness.formats.clean_battle import FORMAT
from harness.formats.columns import BattleTable
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

    def __init__(self, raw: bytes) -> None:
        self._digest = ""
        self._packed = b""
        self._hashed = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(raw,), name="pack-battle-file", daemon=True)
        self._thread.start()

    def _work(self, raw: bytes) -> None:
        self._digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self._hashed.set()
        self._packed = zstandard.ZstdCompressor(level=1).compress(raw)

    def digest(self) -> str:
        """The file's `sha256:` digest (waits for the hash only)."""
        self._hashed.wait()
        return self._digest

    def packed(self) -> bytes:
        """The zstd-compressed file (waits for the compression)."""
        self._thread.join()
        return self._packed


@dataclass(frozen=True)
class _Codes:
    """Model indices into `models` (sorted names) and winner indices into `WINNERS`."""

    models: tuple[str, ...]
    a: np.ndarray[Any, np.dtype[np.int64]]
    b: np.ndarray[Any, np.dtype[np.int64]]
    winner: np.ndarray[Any, np.dtype[np.int64]]


def read_core_table(path: Path, category: str | None = None) -> BattleTable | None:
    """A clean_battle JSON list as core columns (only the battles of `category` when given), its category and
    judge columns and its bytes packed for the store; None when the file needs the full reader."""
    raw = path.expanduser().read_bytes()
    body = raw.removeprefix(_BOM)
    if body.lstrip()[:1] != b"[" or not _valid_utf8(body):
        return None
    packed = PackedFile(raw)
    try:
        rows = _DECODER.decode(body)
    except (msgspec.MsgspecError, RecursionError):  # not objects, or what only the standard parser reads
        return None
    codes = _codes(rows) if rows else None
    if codes is None:
        return None
    names = [list(map(attrgetter(name), rows)) for name in ("category", "judge")]
    table = BattleTable(codes.models, codes.a, codes.b, codes.winner, f"import:{path.name}",
                        digest=packed.digest(), fields=dict(zip(("category", "judge"), names)),
                        numbers=np.arange(1, len(rows) + 1, dtype=np.int64), packed=packed.packed)
    return table if category is None else table.where(table.category_mask(category))


def reads_cores(path: Path) -> bool:
    """Whether `path` is a clean_battle file (`read_core_table` then reads it, if it is a valid JSON list)."""
    from harness.formats import detect_format

    source = path.expanduser()
    return source.is_file() and detect_format(source) == FORMAT


def _valid_utf8(body: bytes) -> bool:
    """Whether the bytes are UTF-8 (msgspec skips the strings of unread fields without checking them)."""
    if body.isascii():
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _codes(rows: list[_Core]) -> _Codes | None:
    """Model and winner codes (sorted names, `WINNERS`), or None when some row is one `clean_battle` refuses
    (a blank model name, the same model on both sides: the decoder checked the rest)."""
    n = len(rows)
    names: defaultdict[str, int] = defaultdict(count().__next__)  # each distinct name's first-seen index
    # comprehensions rather than attrgetter maps: Python specialises their slot reads (0.16 s for both seats of
    # a million rows against 0.28 s)
    a = np.array([names[row.model_a] for row in rows], np.int64)
    b = np.array([names[row.model_b] for row in rows], np.int64)
    if not all(name.strip() for name in names) or np.any(a == b):
        return None
    order = sorted(names)
    remap = np.empty(len(names), np.int64)
    remap[[names[name] for name in order]] = np.arange(len(order))
    winners = {w: k for k, w in enumerate(WINNERS)}
    winner = np.fromiter(map(winners.__getitem__, map(attrgetter("winner"), rows)), np.int64, n)
    return _Codes(tuple(order), remap[a], remap[b], winner)
