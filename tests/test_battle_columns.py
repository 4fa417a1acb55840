"""The column-wise battle reader (`harness arena --battles`): the same battles, store rows, keys and one-line
errors as the per-row reader `harness judge import` uses, on JSON lists and JSONL."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from harness.arena.battles import battle_set_fingerprint, codes_fingerprint
from harness.errors import HarnessError
from harness.formats import read_file
from harness.formats.columns import read_battle_table
from harness.store import open_store
from harness.store.battles import read_battles, write_battle_tuples, write_battles

ROWS = [
    {"model_a": "vicuna-13b", "model_b": "alpaca-13b", "winner": "model_a", "question_id": 7, "turn": 1,
     "category": "writing", "judge": "gpt-4", "tstamp": 1682351591.1, "language": "English"},
    {"model_a": "alpaca-13b", "model_b": "llama-13b", "winner": "tie (bothbad)", "anony": True, "category": None,
     "turn": "2"},
    {"model_a": "llama-13b", "model_b": "vicuna-13b", "winner": "model_b", "battle_key": 5, "turn": True,
     "question_set": "mt", "conv_metadata": {"sum_assistant_a_tokens": 3}},
    {"model_a": "alpaca-13b", "model_b": "vicuna-13b", "winner": "tie", "category": "writing", "judge": ["x", 1]},
]


def _write(path: Path, rows: list[object], lines: bool) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" if lines else json.dumps(rows, indent=1))
    return path


@pytest.mark.parametrize("lines", [False, True])
def test_columns_give_the_per_row_readers_battles_and_store_rows(tmp_path: Path, lines: bool) -> None:
    path = _write(tmp_path / ("b.jsonl" if lines else "b.json"), ROWS, lines)
    records = read_file(path).battles
    table = read_battle_table(path)
    assert table.battles() == records
    assert table.models == ("alpaca-13b", "llama-13b", "vicuna-13b") and len(table) == len(ROWS)
    columns, rows = table.store_rows()
    as_stored = [dict(zip(columns, row)) | {"extra": json.loads(row[columns.index("extra")])} for row in rows]
    assert as_stored == [asdict(b) for b in records]
    fingerprint = codes_fingerprint(table.models, table.a, table.b, table.winner)
    assert fingerprint == battle_set_fingerprint(records)
    writing = table.where(table.category_mask("writing"))
    assert [(b.model_a, b.model_b) for b in writing.battles()] == [("vicuna-13b", "alpaca-13b"),
                                                                  ("alpaca-13b", "vicuna-13b")]
    assert writing.models == ("alpaca-13b", "vicuna-13b") and np.array_equal(writing.a, [1, 0])


def test_stored_columns_match_records_and_a_second_write_adds_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.json", ROWS, lines=False)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    assert write_battle_tuples(store, *read_battle_table(path).store_rows()) == len(ROWS)
    assert write_battles(store, read_file(path).battles) == 0  # judge import of the same file: same keys
    assert write_battle_tuples(store, *read_battle_table(path).store_rows()) == 0
    stored = read_battles(store)
    assert [(b.battle_key, b.extra, b.turn) for b in stored] == \
        [(b.battle_key, b.extra, b.turn) for b in read_file(path).battles]


BAD = [
    ({"model_a": "x", "model_b": "y", "winner": "draw"}, "winner 'draw' is not one of"),
    ({"model_a": "x", "winner": "tie"}, "model_b is missing"),
    ({"model_a": "x", "model_b": "x", "winner": "tie"}, "model_a and model_b are both 'x'"),
    (["x", "y", "tie"], "expected an object, got list"),
    ({"model_a": "", "model_b": "y", "winner": "tie"}, "model_a is missing"),
    ({"model_a": ["x"], "model_b": "y", "winner": "tie"}, "model_a is missing"),
    ({"model_a": "x", "model_b": "y", "winner": {"w": 1}}, "winner {'w': 1} is not one of"),
]


@pytest.mark.parametrize(("row", "reason"), BAD)
@pytest.mark.parametrize("lines", [False, True])
def test_the_first_bad_row_is_named_as_the_per_row_reader_names_it(tmp_path: Path, row: object, reason: str,
                                                                 lines: bool) -> None:
    later = {"model_a": "q", "model_b": "q", "winner": "tie"}  # also bad, but after the first
    path = _write(tmp_path / ("bad.jsonl" if lines else "bad.json"), [ROWS[0], row, ROWS[2], later], lines)
    with pytest.raises(HarnessError) as per_row:
        read_file(path)
    with pytest.raises(HarnessError, match=f"{'line' if lines else 'row'} 2 of .*: {reason}") as columns:
        read_battle_table(path)
    assert (str(columns.value), columns.value.hint) == (str(per_row.value), per_row.value.hint)
    skipped = read_battle_table(path, skip_bad=True)
    assert skipped.skipped == 2 and len(skipped) == 2 and skipped.battles() == read_file(path, skip_bad=True).battles
    assert list(skipped.problems) == read_file(path, skip_bad=True).problems


def test_invalid_json_lines_and_bad_rows_are_reported_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(ROWS[0]), json.dumps({"model_a": "x"}), "{broken", json.dumps(ROWS[1])]))
    with pytest.raises(HarnessError, match="line 2 of .*model_b is missing"):
        read_battle_table(path)
    skipped = read_battle_table(path, skip_bad=True)
    assert list(skipped.problems) == read_file(path, skip_bad=True).problems and skipped.skipped == 2
    nan = tmp_path / "nan.json"  # what only the standard parser reads still reads, and is stored as it was
    nan.write_text('[{"model_a": "x", "model_b": "y", "winner": "tie", "score": NaN}]')
    assert read_battle_table(nan).battles() == read_file(nan).battles
    assert "NaN" in read_battle_table(nan).store_rows()[1][0][-1]
