"""Battle blocks: the battles of one battle file stored as one row of compressed columns.

A battle file is immutable, so `harness arena --battles` stores what it read as a `battle_blocks` row (model
codes, winners, row numbers and the other fields, and apart from them each battle's `extra`, zlib-compressed)
instead of a million rows with a hashed key each. A block's battles read back as the per-row table's would:
the same fields, in place in insertion order (after the battles rows written before it), keyed
`row_key(format, digest, row number)`, computed on read. Storing a file again stores only its rows no block
and no per-row battle holds; `harness.store.battles` and the views read both layouts.

`harness arena --battles` reads only the core columns of a clean_battle JSON list (`harness.formats.core_columns`),
so its blocks (header version 2) hold the codes, row numbers, category and judge, and keep the rest in the file
itself: its bytes, zstd-compressed, are stored once per digest (`battle_files`) and its rows' other fields and
extras are rebuilt from them by the column reader when a block is read with its extras.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
import zstandard
from numpy.typing import NDArray

from harness.records import WINNERS, Battle
from harness.store.engine import lock_names
from harness.store.schema import battle_blocks, battle_files, battles

if TYPE_CHECKING:
    import pandas as pd

Codes = NDArray[np.int64]
FIELDS = ("question_set", "question_id", "turn", "category", "judge")  # a block's rows have no own battle_key
VIEW_FIELDS = ("category", "judge")  # what a block that keeps its file holds apart from it (the views read them)
_KEY_CHUNK = 5000
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a version 2 blob is one zstd frame (4x faster than zlib here), version 1 zlib


@dataclass(frozen=True)
class BattleColumns:
    """One file's battles as columns: model indices into `models`, winner indices into `WINNERS`, each row's
    1-based number in the file (its key is `row_key(format, digest, number)`), the other `FIELDS` and each
    row's `extra`. `lossless_orjson` is False when an extra holds what only the standard JSON writer keeps
    (NaN). `packed` gives the file itself (zstd): the block then keeps its rows' other fields and extras in it,
    and `fields` holds only `VIEW_FIELDS` (as does a stored one read without its extras)."""

    format: str
    digest: str
    source: str
    models: tuple[str, ...]
    a: Codes
    b: Codes
    winner: Codes
    numbers: Codes
    fields: dict[str, list[Any]]
    extras: Sequence[dict[str, Any]] = ()
    lossless_orjson: bool = True
    packed: Callable[[], bytes] | None = None

    def __len__(self) -> int:
        return len(self.a)

    def where(self, keep: NDArray[np.bool_]) -> BattleColumns:
        """The rows where `keep` is True (the model list is kept whole)."""
        take = np.flatnonzero(keep).tolist()

        def pick(values: Sequence[Any]) -> list[Any]:
            return list(map(values.__getitem__, take)) if values else []

        return replace(self, a=self.a[keep], b=self.b[keep], winner=self.winner[keep], numbers=self.numbers[keep],
                       fields={k: pick(v) for k, v in self.fields.items()}, extras=pick(self.extras))

    def battle_keys(self) -> list[str]:
        """Each row's battle key: `row_key(format, digest, number)`, hashed without building a dict per row."""
        return row_keys(self.format, self.digest, self.numbers)

    def battles(self) -> list[Battle]:
        """The rows as `Battle` records, as the per-row table stores them."""
        names, keys, fields = self.models, self.battle_keys(), self.fields
        extras = self.extras or [{}] * len(self)
        return [Battle(model_a=names[a], model_b=names[b], winner=WINNERS[w], source=self.source, extra=extra,
                       battle_key=keys[k], **{f: fields[f][k] for f in FIELDS})
                for k, (a, b, w, extra) in enumerate(zip(self.a.tolist(), self.b.tolist(), self.winner.tolist(),
                                                        extras))]


def row_keys(fmt: str, digest: str, numbers: Codes) -> list[str]:
    """`harness.formats.rows.row_key(fmt, digest, number)` for each number (the same canonical JSON, hashed)."""
    prefix = f'{{"format":"{fmt}","row":["{digest}",'
    return ["sha256:" + hashlib.sha256(f"{prefix}{number}]}}".encode()).hexdigest() for number in numbers.tolist()]


def _dumps(value: Any, lossless: bool) -> bytes:
    if lossless:
        try:
            return orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(value).encode()


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN, integers past 64 bits: what only the standard parser reads
        return json.loads(data)


def encode_columns(block: BattleColumns) -> bytes:
    """The `columns` blob: a JSON header (models, dtypes, sizes), the model codes in the narrowest integer
    type, the winner codes, the row numbers as steps (mostly 1: they compress to nothing), the fields as
    JSON; zlib (level 1: the codes and field lists compress 5-10x anyway), or for a block that keeps its file
    (version 2: only the view fields) zstd level 1."""
    side = "<u1" if len(block.models) <= 1 << 8 else "<u2" if len(block.models) <= 1 << 16 else "<i4"
    dtypes = [side, side, "<i1", "<i8"]
    steps = np.diff(block.numbers, prepend=0)
    arrays = [x.astype(dtype) for x, dtype in zip((block.a, block.b, block.winner, steps), dtypes)]
    names = VIEW_FIELDS if block.packed is not None else FIELDS
    parts = [x.tobytes() for x in arrays] + [_dumps({f: block.fields[f] for f in names}, block.lossless_orjson)]
    head = orjson.dumps({"version": 1 if block.packed is None else 2, "models": list(block.models), "n": len(block),
                         "dtypes": dtypes, "sizes": [len(p) for p in parts]})
    body = b"".join([len(head).to_bytes(4, "little"), head, *parts])
    return zlib.compress(body, 1) if block.packed is None else zstandard.ZstdCompressor(level=1).compress(body)


def decode_columns(data: bytes, fmt: str, digest: str, source: str, extras: bytes | None = None,
                   file: bytes | None = None) -> BattleColumns:
    """A block's columns (and, given its `extras` blob, each row's extra; for a block that keeps its file,
    given the file's `battle_files` data, every field and extra, rebuilt from the file)."""
    raw = zstandard.ZstdDecompressor().decompress(data) if data[:4] == _ZSTD_MAGIC else zlib.decompress(data)
    size = int.from_bytes(raw[:4], "little")
    head = orjson.loads(raw[4:4 + size])
    offset, parts = 4 + size, []
    for length in head["sizes"]:
        parts.append(raw[offset:offset + length])
        offset += length
    a, b, winner, steps = (np.frombuffer(p, dtype).astype(np.int64) for p, dtype in zip(parts, head["dtypes"]))
    numbers = np.cumsum(steps)
    fields = _loads(parts[4])
    rows = _loads(zlib.decompress(extras)) if extras else []
    if head["version"] == 2 and file is not None:
        from harness.formats.columns import file_fields

        fields, rows = file_fields(zstandard.ZstdDecompressor().decompress(file), numbers)
        fields = {f: fields[f] for f in FIELDS}
    return BattleColumns(fmt, digest, source, tuple(head["models"]), a, b, winner, numbers, fields, rows)


@dataclass(frozen=True)
class StoredBlock:
    """A stored block: its row id, its place in battle order (after the battle with id `after_battle`)."""

    id: int
    after_battle: int
    columns: BattleColumns


def read_blocks(conn: sa.Connection, sources: Sequence[str] | None = None, extras: bool = False,
                digest: str | None = None) -> Iterator[StoredBlock]:
    """Stored blocks in battle order, optionally of some sources or of one file digest; `extras` also decodes
    each row's extra (the views need only the columns)."""
    chosen = [battle_blocks.c.id, battle_blocks.c.after_battle, battle_blocks.c.format, battle_blocks.c.digest,
              battle_blocks.c.source, battle_blocks.c.columns] + ([battle_blocks.c.extras] if extras else [])
    query = sa.select(*chosen).order_by(battle_blocks.c.after_battle, battle_blocks.c.id)
    if sources is not None:
        query = query.where(battle_blocks.c.source.in_(list(sources)))
    if digest is not None:
        query = query.where(battle_blocks.c.digest == digest)
    files: dict[str, bytes] = {}
    for row in conn.execute(query).all():
        file = None
        if extras and not row.extras:  # a block that keeps its file: its fields and extras are read from it
            if row.digest not in files:
                files[row.digest] = conn.execute(sa.select(battle_files.c.data)
                                                 .where(battle_files.c.digest == row.digest)).scalar_one()
            file = files[row.digest]
        yield StoredBlock(row.id, row.after_battle, decode_columns(row.columns, row.format, row.digest, row.source,
                                                                   row.extras if extras else None, file))


def has_blocks(conn: sa.Connection) -> bool:
    """Whether the store holds any block (a cheap check before reading both layouts; a read-only store of
    an older schema has no block table)."""
    if not sa.inspect(conn).has_table(battle_blocks.name):
        return False
    return conn.execute(sa.select(battle_blocks.c.id).limit(1)).first() is not None


def blocks_frame(conn: sa.Connection, judges: Sequence[str] | None = None) -> pd.DataFrame:
    """Every block's battles as a frame (model_a, model_b, winner, category, judge), in battle order, with
    the block's `after_battle` and `block` id; with `judges`, only battles of those sources."""
    import pandas as pd

    frames = []
    for block in read_blocks(conn) if has_blocks(conn) else ():
        c = block.columns
        names, winners = np.array(c.models, dtype=object), np.array(WINNERS, dtype=object)
        # from lists, so pandas infers the dtypes a SQL read of the same rows gets
        frames.append(pd.DataFrame({"model_a": names[c.a].tolist(), "model_b": names[c.b].tolist(),
                                    "winner": winners[c.winner].tolist(),
                                    "category": c.fields["category"], "judge": c.fields["judge"],
                                    "after_battle": block.after_battle, "block": block.id}))
    columns = ["model_a", "model_b", "winner", "category", "judge", "after_battle", "block"]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if judges:
        frame = frame[judge_sources(frame["judge"]).isin(list(judges))]
    return frame


def judge_sources(judges: pd.Series) -> pd.Series:
    """Each battle's source from its judge, as `harness.arena.sources.source_of` names it (vectorised)."""
    from harness.arena.sources import CROWD, UNSPECIFIED, VOTER_PREFIX

    named = judges.where(judges != "")
    voter = named.str.startswith(VOTER_PREFIX, na=False).astype(bool)
    return named.fillna(UNSPECIFIED).where(~voter, CROWD)


def lock_sources(conn: sa.Connection, sources: Sequence[str]) -> None:
    """On PostgreSQL, hold a transaction lock per source (and a block writer one per file digest), so a block
    and per-row battles of the same source, or two blocks of the same file, are never written at once without
    each seeing the other (SQLite's write lock already serialises them)."""
    lock_names(conn, [f"battles:{source}" for source in sources])


def block_keys(conn: sa.Connection, sources: Sequence[str]) -> set[str]:
    """Every battle key the blocks of `sources` hold (computed: what per-row writers skip)."""
    return {key for block in read_blocks(conn, sources) for key in block.columns.battle_keys()}


def write_battle_block(conn: sa.Connection, block: BattleColumns) -> int:
    """Store the rows of `block` that no block of the same file and no per-row battle holds yet, as one row;
    returns how many battles were new. Call inside a write transaction."""
    lock_sources(conn, [block.source, f"file {block.digest}"])  # the same file under another name too
    stored = [s.columns.numbers for s in read_blocks(conn, digest=block.digest) if s.columns.format == block.format]
    if stored:
        block = block.where(~np.isin(block.numbers, np.concatenate(stored)))
    if len(block) and _has_row_battles(conn, block):
        keys = block.battle_keys()
        found = set()
        for start in range(0, len(keys), _KEY_CHUNK):
            part = keys[start:start + _KEY_CHUNK]
            found |= set(conn.execute(sa.select(battles.c.battle_key).where(battles.c.battle_key.in_(part))).scalars())
        block = block.where(np.fromiter((key not in found for key in keys), bool, len(keys)))
    if not len(block):
        return 0
    after = int(conn.execute(sa.select(sa.func.max(battles.c.id))).scalar() or 0)
    if block.packed is not None:
        _store_file(conn, block.digest, block.packed)
    conn.execute(sa.insert(battle_blocks), {
        "source": block.source, "format": block.format, "digest": block.digest, "n_battles": len(block),
        "after_battle": after, "columns": encode_columns(block),
        "extras": b"" if block.packed is not None else zlib.compress(_dumps(list(block.extras),
                                                                            block.lossless_orjson), 1)})
    return len(block)


def _store_file(conn: sa.Connection, digest: str, packed: Callable[[], bytes]) -> None:
    """Store a file's compressed bytes unless they are stored (the caller holds the file digest's lock)."""
    if conn.execute(sa.select(battle_files.c.id).where(battle_files.c.digest == digest)).first() is None:
        conn.execute(sa.insert(battle_files), {"digest": digest, "data": packed()})


def _has_row_battles(conn: sa.Connection, block: BattleColumns) -> bool:
    """Whether per-row battles may hold some of the block's rows: battles of its source (judge import, an older
    harness), or its first row's key under another file name."""
    same_source = sa.select(battles.c.id).where(battles.c.source == block.source).limit(1)
    first_key = row_keys(block.format, block.digest, block.numbers[:1])[0]
    first = sa.select(battles.c.id).where(battles.c.battle_key == first_key).limit(1)
    return conn.execute(same_source).first() is not None or conn.execute(first).first() is not None
