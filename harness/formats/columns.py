"""Battle files read column-wise: the whole file parsed once by orjson, then checked a column at a time.

`read_battle_table(path, skip_bad)` is what `harness arena --battles` reads. A clean_battle file (the 1M-row
Arena dumps) is parsed in one `orjson.loads` (a JSON list) or one per line (JSONL); its `model_a`, `model_b`
and `winner` columns are pulled out with C-level maps and validated on their distinct values (a hundred model
names, four winners), so a million rows cost a few set look-ups each. A row that fails is converted again by
the per-row reader (`clean_battle.clean_battle`), so the message naming the first bad row is the same one
`harness judge import` gives. Every other format goes through `read_file` and is turned into columns.

orjson rather than pyarrow: a clean_battle file is a JSON *list* (pyarrow.json reads only newline-delimited
JSON), its rows are heterogeneous (`question_id` a number in one row and a string in the next, extra fields in
some rows only), which Arrow's schema inference rejects as a whole file instead of naming a row, and the rows
are needed as Python values anyway, to store them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
from numpy.typing import NDArray

from harness.errors import HarnessError
from harness.formats.clean_battle import FIELDS, FORMAT, clean_battle
from harness.formats.rows import RowError, RowLog
from harness.records import WINNERS, Battle

Codes = NDArray[np.int64]


class ColumnPart(NamedTuple):
    """Some battles' core columns: model indices into `models` (any order), winner indices into `WINNERS`,
    category and judge: a half of a file (`core_columns`), or per-row battles or a block of the store."""

    models: Sequence[str]
    a: NDArray[Any]
    b: NDArray[Any]
    winner: NDArray[Any]
    category: list[str | None]
    judge: list[str | None]


def join_parts(parts: Sequence[ColumnPart]) -> ColumnPart:
    """The parts' rows in order, their model codes mapped to the sorted names of all of them (int64 codes)."""
    models = tuple(sorted({name for part in parts for name in part.models}))
    index = {name: k for k, name in enumerate(models)}
    remaps = [np.array([index[name] for name in part.models], np.int64) for part in parts]
    return ColumnPart(models, np.concatenate([remap[part.a] for remap, part in zip(remaps, parts)]),
                      np.concatenate([remap[part.b] for remap, part in zip(remaps, parts)]),
                      np.concatenate([part.winner for part in parts]).astype(np.int64),
                      list(chain.from_iterable(part.category for part in parts)),
                      list(chain.from_iterable(part.judge for part in parts)))


@dataclass(frozen=True)
class BattleTable:
    """Battles as columns, in file order: model indices into `models` (sorted names) and winner indices into
    `WINNERS`. A file's other fields are kept as columns (`fields`: question_set, question_id, turn, category,
    judge, battle_key, converted as `clean_battle` converts them) and its remaining fields per row (`extras`),
    with the rows' 1-based `numbers`; battles from other readers are kept as `Battle` records."""

    models: tuple[str, ...]
    a: Codes
    b: Codes
    winner: Codes
    source: str
    format: str = FORMAT
    digest: str | None = None  # the file's sha256: the start of each row's battle key
    fields: dict[str, list[Any]] = field(default_factory=dict)
    extras: Sequence[dict[str, Any]] = ()
    numbers: Codes = field(default_factory=lambda: np.zeros(0, np.int64))
    records: Sequence[Battle] = ()
    skipped: int = 0
    problems: tuple[str, ...] = ()
    lossless_orjson: bool = True  # False when a value only the standard parser reads (NaN) may be in `extras`
    packed: Callable[[], bytes] | None = None  # the file zstd-compressed: its rows' other fields are left in it

    def __len__(self) -> int:
        return len(self.a)

    def where(self, keep: NDArray[np.bool_]) -> BattleTable:
        """The battles where `keep` is True, their models only (every column filtered alike)."""
        picked = np.flatnonzero(keep)
        a, b = self.a[picked], self.b[picked]
        used = np.unique(np.concatenate([a, b]))
        index = np.zeros(len(self.models), np.int64)
        index[used] = np.arange(len(used))
        take = picked.tolist()

        def pick(values: Sequence[Any]) -> list[Any]:
            return list(map(values.__getitem__, take)) if values else []

        return replace(self, models=tuple(self.models[k] for k in used.tolist()), a=index[a], b=index[b],
                       winner=self.winner[picked], fields={k: pick(v) for k, v in self.fields.items()},
                       extras=pick(self.extras), records=pick(self.records),
                       numbers=self.numbers[picked] if len(self.numbers) else self.numbers)

    def category_mask(self, category: str) -> NDArray[np.bool_]:
        values = [b.category for b in self.records] if self.records else self.fields["category"]
        return np.fromiter((v == category for v in values), bool, len(self))

    def keys(self) -> list[str]:
        """Each row's battle key: its own `battle_key`, else `row_key(format, digest, row number)` (the same
        hash, built without serialising a dict per row)."""
        prefix = f'{{"format":"{self.format}","row":["{self.digest}",'
        return [mine if mine is not None else
                "sha256:" + hashlib.sha256(f"{prefix}{number}]}}".encode()).hexdigest()
                for mine, number in zip(self.fields["battle_key"], self.numbers.tolist())]

    def battles(self) -> list[Battle]:
        """The battles as records (what style control reads)."""
        assert self.packed is None, "a packed table keeps only the core columns, category and judge"
        if self.records or not self.fields:
            return list(self.records)
        names = self.fields
        keys = self.keys()
        return [Battle(model_a=self.models[a], model_b=self.models[b], winner=WINNERS[w], source=self.source,
                       extra=extra, battle_key=keys[k], **{f: names[f][k] for f in FIELDS if f != "battle_key"})
                for k, (a, b, w, extra) in enumerate(zip(self.a.tolist(), self.b.tolist(), self.winner.tolist(),
                                                        self.extras))]

    def store_rows(self) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The battles as the store's `battles` table takes them: column names and one tuple per battle, its
        `extra` already JSON text (what `battles()` then `asdict` would store)."""
        if self.records or not self.fields:
            return BATTLE_COLUMNS, [tuple(_battle_row(b)) for b in self.records]
        dumps = (lambda v: orjson.dumps(v).decode()) if self.lossless_orjson else json.dumps
        names = [self.models[k] for k in range(len(self.models))]
        columns = {"model_a": map(names.__getitem__, self.a.tolist()),
                   "model_b": map(names.__getitem__, self.b.tolist()),
                   "winner": map(WINNERS.__getitem__, self.winner.tolist()), "source": repeat(self.source),
                   "extra": map(dumps, self.extras), "battle_key": self.keys()}
        return BATTLE_COLUMNS, list(zip(*(columns.get(name, self.fields.get(name)) for name in BATTLE_COLUMNS)))


BATTLE_COLUMNS = tuple(Battle.__dataclass_fields__)


def _battle_row(battle: Battle) -> tuple[Any, ...]:
    return tuple(json.dumps(battle.extra) if name == "extra" else getattr(battle, name) for name in BATTLE_COLUMNS)


_CORE = ("model_a", "model_b", "winner")


def _split_fields(rows: list[dict[str, Any]], core_taken: bool = False) -> dict[str, list[Any]]:
    """Take the known fields out of the rows, column by column, converted as `clean_battle` converts them;
    what is left in each row is its `extra` (a field given as null, or a turn that is not an integer, stays
    there, as in `clean_battle`). `core_taken`: model_a, model_b and winner are already out."""
    missing = object()
    for name in () if core_taken else _CORE:
        list(map(dict.pop, rows, repeat(name)))
    fields: dict[str, list[Any]] = {}
    for name in FIELDS:
        if not any(map(dict.__contains__, rows, repeat(name))):  # a field no row has: nothing to take out
            fields[name] = [None] * len(rows)
            continue
        values = list(map(dict.pop, rows, repeat(name), repeat(missing)))
        kinds = set(map(type, values))
        wrong = (kinds - {int, object}) if name == "turn" else (kinds & {type(None)})
        for k in [k for k, v in enumerate(values) if type(v) in wrong] if wrong else ():
            if name != "battle_key":  # a null battle_key is replaced by the row's key, so not kept (clean_battle)
                rows[k][name] = values[k]  # a null field (a non-integer turn) stays in extra, as in clean_battle
            values[k] = missing
        if name != "turn" and kinds - {str, object}:
            values = [v if type(v) is str or v is missing else str(v) for v in values]
        fields[name] = [None if v is missing else v for v in values] if object in kinds or wrong else values
    return fields


def table_from_battles(battles: Sequence[Battle], source: str, skipped: int = 0,
                       problems: Sequence[str] = ()) -> BattleTable:
    """Columns of battles some other reader (or the store) produced."""
    return BattleTable(*encode_records(battles), source, format="battles", records=list(battles),
                       skipped=skipped, problems=tuple(problems))


def encode_records(items: Sequence[Any]) -> tuple[tuple[str, ...], Codes, Codes, Codes]:
    """Sorted model names and the model_a, model_b and winner codes of records with those attributes (`Battle`s,
    the store's battle rows); a winner not in `WINNERS` is an error."""
    models = tuple(sorted({b.model_a for b in items} | {b.model_b for b in items}))
    index = {name: k for k, name in enumerate(models)}
    winners = {name: k for k, name in enumerate(WINNERS)}
    unknown = {b.winner for b in items} - set(winners)
    if unknown:
        raise HarnessError(f"battle winner {min(unknown)!r} is not one of {', '.join(WINNERS)}")
    n = len(items)
    a, b = (np.fromiter((index[getattr(r, side)] for r in items), np.int64, n) for side in ("model_a", "model_b"))
    return models, a, b, np.fromiter((winners[r.winner] for r in items), np.int64, n)


def read_battle_table(path: Path, skip_bad: bool = False) -> BattleTable:
    """What `harness arena --battles` rates: a clean_battle file column-wise, any other format via `read_file`.

    Raises:
        HarnessError: as `read_file` does (a malformed row named, unless `skip_bad`).
    """
    from harness.formats import detect_format, read_file

    source = Path(path).expanduser()
    if source.exists() and source.is_file() and detect_format(source) == FORMAT:
        return read_clean_battle_table(source, skip_bad)
    loaded = read_file(source, skip_bad=skip_bad)
    return table_from_battles(loaded.battles, loaded.source, loaded.skipped, loaded.problems)


def read_clean_battle_table(path: Path, skip_bad: bool = False) -> BattleTable:
    """A clean_battle JSON list or JSONL file as columns (see the module docstring)."""
    raw = path.read_bytes()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    log = RowLog(FORMAT, path, skip_bad)
    rows, numbers, unit, broken, lossless = _parse(raw.removeprefix(b"\xef\xbb\xbf"), path)
    checked = _checked_codes(rows)
    bad = checked.bad if checked is not None else _bad_rows(rows)
    events = sorted([(numbers[k], k) for k in bad.tolist()] + [(number, -1) for number in broken])
    for number, k in events:  # in file order; the per-row reader words the message (and raises unless skip_bad)
        if k < 0:
            log.bad(log.where(path, number), f"invalid JSON ({broken[number]})")
            continue
        with log.row(log.where(path, number, unit)):
            clean_battle(checked.restored(rows, k) if checked is not None else rows[k], log.source, "")
            raise RowError("not a clean_battle row")  # pragma: no cover - the checks below agree with it
    if len(bad):
        keep = np.ones(len(rows), bool)
        keep[bad] = False
        rows = [row for row, kept in zip(rows, keep.tolist()) if kept]
        numbers = [n for n, kept in zip(numbers, keep.tolist()) if kept]
        checked = checked.where(keep) if checked is not None else None
    models, a, b, winner = checked.encoded() if checked is not None else _encode(rows)
    fields = _split_fields(rows, core_taken=checked is not None)  # what is left of each row is its extra
    return BattleTable(models, a, b, winner, log.source, digest=digest, fields=fields, extras=rows,
                       numbers=np.asarray(numbers, np.int64), skipped=log.skipped, problems=tuple(log.problems),
                       lossless_orjson=lossless)


def file_fields(raw: bytes, numbers: Codes) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """The other fields and each row's extra of the rows `numbers` of a clean_battle file whose rows are all
    valid, as `read_clean_battle_table` takes them out (what a block that keeps its file reads back)."""
    rows, found, unit, _, _ = _parse(raw.removeprefix(b"\xef\xbb\xbf"), Path("stored battle file"))
    index = {number: k for k, number in enumerate(found)} if unit == "line" else None
    picked = [rows[number - 1] if index is None else rows[index[number]] for number in numbers.tolist()]
    for name in _CORE:
        list(map(dict.pop, picked, repeat(name)))
    return _split_fields(picked, core_taken=True), picked


def _loads(text: bytes) -> tuple[Any, bool]:
    """orjson, or the standard parser for what only it accepts (NaN, integers past 64 bits), and whether
    orjson read it; raises `json.JSONDecodeError` with the standard parser's message."""
    try:
        return orjson.loads(text), True
    except orjson.JSONDecodeError:
        return json.loads(text), False


def _parse(raw: bytes, path: Path) -> tuple[list[Any], list[int], str, dict[int, str], bool]:
    """The rows of a JSON list ("row N") or of a JSONL file ("line N"), their numbers, (JSONL) the lines
    that are not JSON with why, and whether orjson read every row."""
    if raw.lstrip()[:1] == b"[":
        try:
            rows, lossless = _loads(raw)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path} is not valid JSON: {exc}", hint="a JSON list or one object per line") from None
        return list(rows), list(range(1, len(rows) + 1)), "row", {}, lossless
    rows, numbers, broken, lossless = [], [], {}, True
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row, strict = _loads(line.encode())
        except json.JSONDecodeError as exc:
            broken[number] = exc.msg
            continue
        rows.append(row)
        numbers.append(number)
        lossless &= strict
    return rows, numbers, "line", broken, lossless


@dataclass(frozen=True)
class _Checked:
    """The core columns as codes into their distinct values (model names shared by both seats, winners),
    and the rows `clean_battle` would refuse."""

    names: list[Any]
    winners: list[Any]
    a: Codes
    b: Codes
    winner: Codes
    bad: Codes
    taken: tuple[list[Any], ...]  # the core values taken out of the rows (`_ABSENT` where a row had none)

    def where(self, keep: NDArray[np.bool_]) -> _Checked:
        return replace(self, a=self.a[keep], b=self.b[keep], winner=self.winner[keep], bad=self.bad[:0], taken=())

    def restored(self, rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
        """Row `k` with its core values back (a bad row, for the per-row reader's message)."""
        return {**rows[k], **_core_values(self.taken, k)}

    def encoded(self) -> tuple[tuple[str, ...], Codes, Codes, Codes]:
        """What `_encode` gives for the (all valid) rows: indices into the sorted names used, into WINNERS."""
        seen = np.bincount(self.a, minlength=len(self.names)) + np.bincount(self.b, minlength=len(self.names))
        used = np.flatnonzero(seen)
        used_names = [self.names[k] for k in used.tolist()]
        order = sorted(range(len(used_names)), key=used_names.__getitem__)
        remap = np.zeros(len(self.names), np.int64)
        remap[used[order]] = np.arange(len(order))
        to_winner = np.array([WINNERS.index(w) if w in WINNERS else -1 for w in self.winners], np.int64)
        return tuple(used_names[k] for k in order), remap[self.a], remap[self.b], to_winner[self.winner]


_ABSENT = object()


def _core_values(taken: tuple[list[Any], ...], k: int) -> dict[str, Any]:
    return {name: column[k] for name, column in zip(_CORE, taken) if column[k] is not _ABSENT}


def _checked_codes(rows: list[Any]) -> _Checked | None:
    """`_bad_rows` and `_encode` in one pass over the columns, taking the core values out of the rows, when
    every row is an object and every core value hashable (else None, the rows as they were: the general path)."""
    if set(map(type, rows)) != {dict}:
        return None
    taken = model_a, model_b, winner = tuple(list(map(dict.pop, rows, repeat(name), repeat(_ABSENT)))
                                             for name in _CORE)
    try:
        names = {value: k for k, value in enumerate(dict.fromkeys(chain(model_a, model_b)))}
        winners = {value: k for k, value in enumerate(dict.fromkeys(winner))}
    except TypeError:  # a list where a name belongs: put the values back for the general path
        for k, row in enumerate(rows):
            row.update(_core_values(taken, k))
        return None
    n = len(rows)
    a, b = (np.fromiter(map(names.__getitem__, column), np.int64, n) for column in (model_a, model_b))
    codes = np.fromiter(map(winners.__getitem__, winner), np.int64, n)
    valid = np.array([_valid_name(v) for v in names] + [False], bool)
    known = np.array([isinstance(w, str) and w in WINNERS for w in winners] + [False], bool)
    bad = ~valid[a] | ~valid[b] | ~known[codes] | (a == b)
    return _Checked(list(names), list(winners), a, b, codes, np.flatnonzero(bad), taken)


def _bad_rows(rows: list[Any]) -> Codes:
    """Indices of the rows `clean_battle` would refuse, found column-wise (row by row only when some row is
    not an object at all)."""
    try:
        columns = [list(map(dict.get, rows, repeat(name))) for name in _CORE]
    except TypeError:  # some row is not an object: find which, then check the objects
        objects = np.fromiter((type(row) is dict for row in rows), bool, len(rows))
        inside = np.flatnonzero(objects)
        found = _bad_rows([rows[k] for k in inside.tolist()])
        return np.sort(np.concatenate([np.flatnonzero(~objects), inside[found]]))
    model_a, model_b, winner = columns
    bad = _bad_values(model_a, _valid_name) | _bad_values(model_b, _valid_name)
    bad |= _bad_values(winner, lambda value: value in WINNERS)
    names = _distinct(model_a + model_b)
    same = _codes(model_a, names) == _codes(model_b, names)
    return np.flatnonzero(bad | same)


def _valid_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _distinct(values: list[Any]) -> dict[Any, int]:
    """Each distinct value's index; unhashable values (a list where a name belongs) share index -1."""
    try:
        return {value: k for k, value in enumerate(dict.fromkeys(values))}
    except TypeError:
        return {value: k for k, value in enumerate(dict.fromkeys(v for v in values if v.__hash__ is not None))}


def _codes(values: list[Any], index: dict[Any, int]) -> Codes:
    try:
        return np.fromiter(map(index.__getitem__, values), np.int64, len(values))
    except (KeyError, TypeError):
        return np.fromiter((index.get(v, -1) if v.__hash__ is not None else -1 for v in values), np.int64,
                           len(values))


def _bad_values(values: list[Any], valid: Any) -> NDArray[np.bool_]:
    """Rows whose value fails `valid`, judged once per distinct value."""
    index = _distinct(values)
    verdict = np.array([not valid(value) for value in index] + [True])  # last: unhashable (code -1)
    return verdict[_codes(values, index)]


def _encode(rows: list[dict[str, Any]]) -> tuple[tuple[str, ...], Codes, Codes, Codes]:
    model_a, model_b, winner = (list(map(dict.__getitem__, rows, repeat(name))) for name in _CORE)
    models: tuple[str, ...] = tuple(sorted(set(model_a) | set(model_b)))
    index = {name: k for k, name in enumerate(models)}
    return (models, _codes(model_a, index), _codes(model_b, index),
            _codes(winner, {name: k for k, name in enumerate(WINNERS)}))
