"""The core-column reader `harness arena --battles` tries first (msgspec, only model_a, model_b, winner, category,
judge): it agrees with the column reader on every file it takes, hands every other file to it (the same errors
and --skip-bad counts), and its blocks keep the file's bytes once and read back every field and extra."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import zstandard

from harness.arena.battles import ArenaConfig
from harness.arena.run import run_arena, store_battle_table
from harness.errors import HarnessError
from harness.formats import core_columns, read_file
from harness.formats.columns import read_battle_table, read_clean_battle_table
from harness.formats.core_columns import read_core_table
from harness.judge.imports import import_judgments
from harness.store import open_store
from harness.store.battle_blocks import read_blocks
from harness.store.battles import read_battles
from harness.store.judgments import judge_names
from harness.store.views import read_battle_counts, read_win_counts

ELO = ArenaConfig(method="elo", bootstrap=0)
ROWS: list[dict[str, object]] = [
    {"model_a": "vicuna-13b", "model_b": "alpaca-13b", "winner": "model_a", "question_id": 7, "turn": 1,
     "category": "writing", "judge": "gpt-4", "tstamp": 1682351591.1, "language": "Español ✓"},
    {"model_a": "alpaca-13b", "model_b": "llama-13b", "winner": "tie (bothbad)", "anony": True, "category": None,
     "turn": "2", "battle_key": None},
    {"model_a": "llama-13b", "model_b": "vicuna-13b", "winner": "model_b", "turn": True, "question_set": "mt",
     "conv_metadata": {"sum_assistant_a_tokens": 3, "nested": [1, 2.5, None, {"x": "y"}]}},
    {"model_a": "alpaca-13b", "model_b": "vicuna-13b", "winner": "tie", "category": "writing", "judge": None,
     "question_id": "q-4"},
]


def _write(path: Path, rows: list[object], bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + json.dumps(rows, indent=1, ensure_ascii=False).encode())
    return path


@pytest.fixture(params=[False, True], ids=["whole", "halves"])
def halves(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every file read in two halves, as a large file is, or whole. The second half is read in a forked child
    where the process may fork (`harness.parallel.can_fork`), else in line: the cut and the halves are the same."""
    if request.param:
        _halves_always(monkeypatch)
    return bool(request.param)


def _halves_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_columns, "_SPLIT_FROM", 0)
    monkeypatch.setattr(core_columns, "can_fork", lambda: True)


@pytest.mark.parametrize("bom", [False, True])
def test_core_columns_are_the_column_readers(tmp_path: Path, bom: bool, halves: bool) -> None:
    path = _write(tmp_path / "b.json", ROWS, bom)
    fast, full = read_core_table(path), read_clean_battle_table(path)
    assert fast is not None and fast.packed is not None
    assert (fast.models, fast.source, fast.digest, fast.format) == (full.models, full.source, full.digest, full.format)
    for name in ("a", "b", "winner", "numbers"):
        assert np.array_equal(getattr(fast, name), getattr(full, name))
    assert fast.fields == {name: full.fields[name] for name in ("category", "judge")}
    assert zstandard.ZstdDecompressor().decompress(fast.packed()) == path.read_bytes()
    writing, whole = read_core_table(path, "writing"), full.where(full.category_mask("writing"))
    assert writing is not None and writing.models == whole.models and np.array_equal(writing.numbers, whole.numbers)
    assert np.array_equal(writing.a, whole.a) and writing.fields["judge"] == whole.fields["judge"]


def test_a_files_battles_of_named_sources(tmp_path: Path, halves: bool, store_url: str) -> None:
    """`--battles FILE --judge NAME` takes the core columns too: the same ratings as the records of those
    sources (Arena voters are the crowd), and an unknown source names the file's."""
    from harness.arena.ratings import compute_ratings
    from harness.arena.sources import select_sources

    voters = [{**row, "judge": f"arena_user_{k}"} for k, row in enumerate(ROWS * 3)]
    path = _write(tmp_path / "b.json", [*ROWS, *voters])
    records = read_file(path).battles
    both = ArenaConfig(method="both", bootstrap=20)
    for judges in (["crowd"], ["gpt-4", "unspecified"], ["crowd", "gpt-4"]):
        got = run_arena(both, battles_file=path, judges=judges).report.to_json()
        assert got == compute_ratings(select_sources(records, judges), both).to_json(), judges
    assert run_arena(both, battles_file=path, judges=["crowd"]).report.n_battles == 12
    with pytest.raises(HarnessError, match=r"no battles judged by 'gpt-5' \(sources: crowd, gpt-4, unspecified\)"):
        run_arena(both, battles_file=path, judges=["gpt-5"])


NOT_TAKEN = [
    [*ROWS, ["x", "y", "tie"]],  # a row that is not an object
    [*ROWS, {"model_a": "x", "model_b": "y", "winner": "draw"}],
    [*ROWS, {"model_a": "x", "model_b": "x", "winner": "tie"}],
    [*ROWS, {"model_a": "x", "winner": "tie"}],
    [*ROWS, {"model_a": " ", "model_b": "y", "winner": "tie"}],
    [*ROWS, {"model_a": ["x"], "model_b": "y", "winner": "tie"}],
    [*ROWS, {"model_a": "x", "model_b": "y", "winner": "tie", "battle_key": "mine"}],  # own keys: row by row
    [*ROWS, {"model_a": "x", "model_b": "y", "winner": "tie", "judge": 5}],  # converted as clean_battle does
    [*ROWS, {"model_a": "x", "model_b": "y", "winner": "tie", "category": ["c"]}],
    [],
]


@pytest.mark.parametrize("rows", NOT_TAKEN)
def test_files_it_does_not_take_go_to_the_column_reader(tmp_path: Path, rows: list[object],
                                                       halves: bool) -> None:
    assert read_core_table(_write(tmp_path / "b.json", rows)) is None


def test_a_cut_between_rows_is_found_and_one_inside_a_row_falls_back_to_the_whole_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = {"model_a": "m0", "model_b": "m1", "winner": "tie", "conv": [{"model_a": 1}, {"model_a": 2}]}
    rows = [*ROWS, nested, *ROWS, nested]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(rows))  # rows as an Arena dump writes them: "}, {" between them
    text = path.read_bytes()
    first = core_columns._FIRST_ROW.match(text)
    assert first is not None and first.group(1) == b'"model_a"'
    comma = core_columns._comma(text, first)  # type: ignore[arg-type]
    assert comma is not None and text[comma:comma + 1] == b","
    head = json.loads(text[:comma] + b"]")  # the cut is between rows
    assert head == rows[:len(head)] and 0 < len(head) < len(rows)
    _halves_always(monkeypatch)
    expected = read_clean_battle_table(path)
    inside = text.index(b'{"model_a": 2}') - 2  # the comma between the nested objects
    assert text[inside:inside + 1] == b","
    for cut in (comma, inside):
        monkeypatch.setattr(core_columns, "_comma", lambda text, first, cut=cut: cut)
        table = read_core_table(path)
        assert table is not None and table.models == expected.models
        assert np.array_equal(table.a, expected.a) and np.array_equal(table.winner, expected.winner)
        assert table.fields["judge"] == expected.fields["judge"]


def test_what_only_the_full_readers_judge_is_left_to_them(tmp_path: Path) -> None:
    nan = tmp_path / "nan.json"
    nan.write_text('[{"model_a": "x", "model_b": "y", "winner": "tie", "score": NaN}]')
    lines = tmp_path / "b.jsonl"
    lines.write_text("\n".join(json.dumps(row) for row in ROWS))
    bad_utf8 = tmp_path / "bytes.json"
    bad_utf8.write_bytes(b'[{"model_a": "x", "model_b": "y", "winner": "tie", "note": "\xff"}]')
    assert [read_core_table(p) for p in (nan, lines, bad_utf8)] == [None, None, None]


def test_the_command_names_the_first_bad_row_and_counts_skipped_rows_as_before(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", [*ROWS[:2], {"model_a": "x", "model_b": "y", "winner": "draw"}, ROWS[2]])
    with pytest.raises(HarnessError) as per_row:
        read_file(path)
    with pytest.raises(HarnessError, match="row 3 of .*winner 'draw' is not one of") as command:
        run_arena(ELO, battles_file=path)
    assert (str(command.value), command.value.hint) == (str(per_row.value), per_row.value.hint)
    outcome = run_arena(ELO, battles_file=path, skip_bad=True)
    assert (outcome.skipped, outcome.battles_written) == (1, 3)
    assert read_battles(open_store()) == read_file(path, skip_bad=True).battles


def _counts(url: str | None = None) -> tuple[int, int, int]:
    with open_store(url).engine.connect() as conn:
        return tuple(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() or 0  # type: ignore[return-value]
                     for table in ("battles", "battle_blocks", "battle_files"))


def test_a_block_keeps_the_file_once_and_reads_back_every_field_and_extra(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.json", ROWS)
    path_1e999 = tmp_path / "inf.json"  # what only the standard parser reads, in a field msgspec skips
    path_1e999.write_text('[{"model_a": "x", "model_b": "y", "winner": "tie", "score": 1e999}]')
    assert run_arena(ELO, battles_file=path, category="writing").battles_written == 2
    assert run_arena(ELO, battles_file=path).battles_written == 2
    assert run_arena(ELO, battles_file=path_1e999).battles_written == 1
    assert _counts() == (0, 3, 2)
    stored = read_battles(open_store())
    expected = read_file(path).battles
    assert sorted(stored[:4], key=lambda b: b.battle_key or "") == sorted(expected, key=lambda b: b.battle_key or "")
    assert [b.battle_key for b in stored[:2]] == [b.battle_key for b in expected if b.category == "writing"]
    assert math.isinf(stored[4].extra["score"]) and stored[4:] == read_file(path_1e999).battles
    assert judge_names(open_store()) == ["gpt-4"]
    assert int(read_battle_counts(open_store())["n"].sum()) == 5
    with open_store().engine.connect() as conn:
        blocks = list(read_blocks(conn))
        assert blocks[0].columns.fields == {"category": ["writing", "writing"], "judge": ["gpt-4", None]}
        assert conn.execute(sa.text("SELECT length(extras) FROM battle_blocks")).scalars().all() == [0, 0, 0]


def test_old_layout_blocks_still_read_beside_new_ones(tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", ROWS)
    assert store_battle_table(open_store(), read_battle_table(old)) == 4  # the full reader: a version 1 block
    new = _write(tmp_path / "new.json", [{**row, "question_id": f"n{k}"} for k, row in enumerate(ROWS)])
    assert run_arena(ELO, battles_file=new).battles_written == 4
    imported = _write(tmp_path / "imported.json", [{**row, "question_id": f"i{k}"} for k, row in enumerate(ROWS)])
    assert import_judgments(imported).battles_written == 4  # judge import stores what arena --battles stores
    assert _counts() == (0, 3, 2)
    assert read_battles(open_store()) == read_file(old).battles + read_file(new).battles + read_file(imported).battles
    with open_store().engine.connect() as conn:
        versions = [c[:4] for c in conn.execute(sa.text("SELECT columns FROM battle_blocks ORDER BY id")).scalars()]
    zstd = b"\x28\xb5\x2f\xfd"
    assert versions[0][:1] == b"x" and versions[1:] == [zstd, zstd]  # zlib (version 1), zstd (version 2)
    assert int(read_win_counts(open_store())["battles"].sum()) == 24


def _store_file(url: str, path: str, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        open_store(url)
        time.sleep(max(0.0, start - time.time()))
        out.put(("ok", run_arena(ELO, battles_file=Path(path), store=url).battles_written))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_two_processes_storing_one_file_at_once_store_it_once(new_store_url: str, tmp_path: Path) -> None:
    rows = [{**ROWS[k % 4], "question_id": k} for k in range(400)]
    path = _write(tmp_path / "b.json", rows)
    open_store(new_store_url)
    context = mp.get_context("spawn")
    out = context.Queue()
    start = time.time() + 3.0  # both processes are imported and waiting by then
    procs = [context.Process(target=_store_file, args=(new_store_url, str(path), start, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = sorted(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert results == [("ok", 0), ("ok", 400)]
    assert _counts(new_store_url) == (0, 1, 1)
    assert read_battles(open_store(new_store_url)) == read_file(path).battles


def test_every_winner_the_records_know_is_one_the_decoder_takes(tmp_path: Path) -> None:
    from harness.records import WINNERS

    rows = [{"model_a": "x", "model_b": "y", "winner": winner} for winner in WINNERS]
    table = read_core_table(_write(tmp_path / "w.json", rows))
    assert table is not None and table.winner.tolist() == list(range(len(WINNERS)))
