"""Battle blocks: `harness arena --battles` and `harness judge import` store a clean_battle file as one row of
compressed columns, and every reader (read_battles, the views, counts, judge names, the snapshot) sees the same
battles, in the same order, under the same keys as when they are stored row by row; storing a file again, by
either command, under any name, adds nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from harness.arena.battles import ArenaConfig
from harness.arena.run import run_arena
from harness.errors import HarnessError
from harness.formats import read_file
from harness.formats.columns import read_battle_table
from harness.judge.imports import import_judgments
from harness.publish.snapshot import publish
from harness.records import Battle
from harness.store import open_store
from harness.store.battles import read_battles, write_battle_tuples, write_battles
from harness.store.judgments import count_by_mode, judge_names
from harness.store.views import (
    read_battle_counts,
    read_battle_rows,
    read_battle_sources,
    read_win_counts,
    store_stamp,
)

ELO = ArenaConfig(method="elo", bootstrap=0)
MODELS = ["alpaca-13b", "llama-13b", "vicuna-13b", "koala-13b"]
WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def _rows(n: int = 60) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k in range(n):
        a, b = MODELS[k % 4], MODELS[(k + 1 + k // 4) % 4]
        if a == b:
            b = MODELS[(k + 2) % 4]
        row: dict[str, object] = {"model_a": a, "model_b": b, "winner": WINNERS[k % 4], "question_id": k,
                                  "turn": 1 + k % 2, "tstamp": 1.7e9 + k, "anony": k % 3 == 0}
        if k % 5:
            row["category"] = ["writing", "coding"][k % 2]
        if k % 7:
            row["judge"] = f"arena_user_{k % 3}"
        rows.append(row)
    return rows


def _file(tmp_path: Path, rows: list[dict[str, object]] | None = None, name: str = "battles.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(_rows() if rows is None else rows))
    return path


def _stores(tmp_path: Path) -> tuple[str, str]:
    """The same file stored row by row (the per-row reader's records) and as a block (arena --battles)."""
    path = _file(tmp_path)
    per_row, block = f"sqlite:///{tmp_path / 'rows.db'}", f"sqlite:///{tmp_path / 'block.db'}"
    assert write_battles(open_store(per_row), read_file(path).battles) == 60
    assert run_arena(ELO, battles_file=path, store=block).battles_written == 60
    with open_store(block).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM battles")).scalar() == 0
        assert conn.execute(sa.text("SELECT n_battles FROM battle_blocks")).scalar() == 60
    return per_row, block


def _same(first: pd.DataFrame, second: pd.DataFrame, keys: list[str]) -> None:
    def norm(frame: pd.DataFrame) -> list[tuple[object, ...]]:
        rows = [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
                for row in frame[sorted(frame.columns)].itertuples(index=False)]
        return sorted(rows, key=repr)

    assert set(first.columns) == set(second.columns) and set(keys) <= set(first.columns)
    assert norm(first) == norm(second)


def test_a_block_reads_back_as_the_rows_the_per_row_reader_stores(tmp_path: Path) -> None:
    per_row, block = _stores(tmp_path)
    rows, blocked = read_battles(open_store(per_row)), read_battles(open_store(block))
    assert rows == blocked and len(rows) == 60
    assert read_battles(open_store(block), judge="arena_user_1", category="coding") == \
        read_battles(open_store(per_row), judge="arena_user_1", category="coding")
    assert read_battles(open_store(block), source="import:other.json") == []


def test_views_counts_and_judges_are_the_same_for_both_layouts(tmp_path: Path) -> None:
    per_row, block = (open_store(url) for url in _stores(tmp_path))
    _same(read_battle_sources(per_row), read_battle_sources(block), ["source", "n"])
    assert list(read_battle_sources(block)["source"])[:1] == list(read_battle_sources(per_row)["source"])[:1]
    for store in (per_row, block):  # Chatbot Arena voters (arena_user_<n>) are one source: the crowd
        assert read_battle_sources(store).set_index("source")["n"].to_dict() == {"crowd": 51, "unspecified": 9}
        assert run_arena(ELO, from_store=True, store=store.url, judges=["crowd"]).report.n_battles == 51
    for among, judges in ((None, None), (["alpaca-13b", "llama-13b"], None), (None, ["crowd"]),
                          (None, ["unspecified"]), (None, ["arena_user_2"])):
        _same(read_battle_counts(per_row, among, judges), read_battle_counts(block, among, judges), ["n"])
    for by_category in (False, True):
        _same(read_win_counts(per_row, by_category), read_win_counts(block, by_category), ["model"])
        _same(read_win_counts(per_row, by_category, ["crowd"]),
              read_win_counts(block, by_category, ["crowd"]), ["model"])
    pd.testing.assert_frame_equal(read_battle_rows(per_row).fillna("-"), read_battle_rows(block).fillna("-"))
    assert count_by_mode(block)["battles"] == count_by_mode(per_row)["battles"] == 60
    assert judge_names(block) == judge_names(per_row) == ["arena_user_0", "arena_user_1", "arena_user_2"]
    assert store_stamp(block).has("battles")


def test_storing_a_file_again_by_either_command_adds_nothing(tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert run_arena(ELO, battles_file=path).battles_written == 60
    assert run_arena(ELO, battles_file=path).battles_written == 0
    assert import_judgments(path).battles_written == 0
    assert write_battles(open_store(), read_file(path).battles) == 0
    assert len(read_battles(open_store())) == 60

    renamed = _file(tmp_path, name="copy.json")  # the same bytes under another name: the same battles
    assert import_judgments(renamed).battles_written == 0 and run_arena(ELO, battles_file=renamed).battles_written == 0
    assert len(read_battles(open_store())) == 60

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"  # the file's rows stored row by row first
    assert write_battles(open_store(fresh), read_file(path).battles) == 60
    assert run_arena(ELO, battles_file=path, store=fresh).battles_written == 0
    assert import_judgments(path, store_url=fresh).battles_written == 0
    assert len(read_battles(open_store(fresh))) == 60


def test_judge_import_stores_a_clean_battle_file_as_a_block_with_the_same_outcome(tmp_path: Path) -> None:
    rows = _rows(8) + [{"model_a": "x", "model_b": "x", "winner": "tie"}]
    path = _file(tmp_path, rows)
    outcome = import_judgments(path, skip_bad=True)
    with open_store().engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM battles")).scalar() == 0
    found = read_file(path, skip_bad=True)
    assert (outcome.format, outcome.path, outcome.battles_read, outcome.battles_written, outcome.skipped) == \
        (found.format, found.path, len(found.battles), 8, found.skipped) and outcome.skipped == 1
    assert outcome.judges == sorted({b.judge or "" for b in found.battles})
    assert read_battles(open_store()) == found.battles


def test_rows_an_older_harness_stored_row_by_row_are_not_stored_again(tmp_path: Path) -> None:
    path = _file(tmp_path)
    store = open_store()
    assert write_battle_tuples(store, *read_battle_table(path).store_rows()) == 60  # the old layout
    renamed = _file(tmp_path, name="renamed.json")  # the same bytes under another name: another source
    assert run_arena(ELO, battles_file=renamed).battles_written == 0
    assert run_arena(ELO, battles_file=path).battles_written == 0
    assert len(read_battles(store)) == 60


def test_a_category_first_then_the_whole_file_stores_each_battle_once(tmp_path: Path) -> None:
    path = _file(tmp_path)
    coding = run_arena(ELO, battles_file=path, category="coding").battles_written
    assert 0 < coding < 60
    assert run_arena(ELO, battles_file=path).battles_written == 60 - coding
    stored = read_battles(open_store())
    assert sorted(b.battle_key or "" for b in stored) == sorted(b.battle_key or "" for b in read_file(path).battles)


def test_blocks_keep_their_place_among_rows_written_before_and_after(tmp_path: Path) -> None:
    store = open_store()
    before = [Battle(model_a="x", model_b="y", winner="model_a", judge="j", battle_key=f"before-{k}") for k in range(3)]
    after = [Battle(model_a="y", model_b="x", winner="tie", judge="j", battle_key=f"after-{k}") for k in range(2)]
    write_battles(store, before)
    run_arena(ELO, battles_file=_file(tmp_path))
    write_battles(store, after)
    run_arena(ELO, battles_file=_file(tmp_path, _rows(70)[60:], "more.json"))
    keys = [b.battle_key for b in read_battles(store)]
    file_keys = [b.battle_key for b in read_file(tmp_path / "battles.json").battles]
    more_keys = [b.battle_key for b in read_file(tmp_path / "more.json").battles]
    assert keys == [b.battle_key for b in before] + file_keys + [b.battle_key for b in after] + more_keys
    rows = read_battle_rows(store)
    assert list(rows["model_a"][:3]) == ["x"] * 3 and list(rows["model_a"][63:65]) == ["y"] * 2 and len(rows) == 75


def test_rows_with_their_own_keys_and_nan_extras_round_trip(tmp_path: Path) -> None:
    keyed = _rows(4)
    keyed[1]["battle_key"] = "mine"
    run_arena(ELO, battles_file=_file(tmp_path, keyed, "keyed.json"))  # own keys: stored row by row
    with open_store().engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM battles")).scalar() == 4
    nan = _rows(3)
    nan[0]["score"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(nan))  # NaN: only the standard parser reads (and writes) it
    assert run_arena(ELO, battles_file=path).battles_written == 3
    stored = [b for b in read_battles(open_store()) if b.source == "import:nan.json"]
    assert math.isnan(stored[0].extra["score"]) and [b.battle_key for b in stored] == \
        [b.battle_key for b in read_file(path).battles]


def test_a_snapshot_holds_block_battles_as_rows(tmp_path: Path) -> None:
    from harness.records import ModelRecord
    from harness.store.runs import upsert_model

    store = open_store()
    for name in MODELS:
        upsert_model(store, ModelRecord(name=name, source=name, fingerprint=f"sha256:{name}", kind="base"))
    run_arena(ELO, battles_file=_file(tmp_path))
    outcome = publish(tmp_path / "site", None, ["alpaca-13b", "llama-13b"], with_published=False)
    expected = [b for b in read_battles(store) if {b.model_a, b.model_b} <= {"alpaca-13b", "llama-13b"}]
    assert outcome.rows["battles"] == len(expected) > 0
    copied = read_battles(open_store(f"sqlite:///{tmp_path / 'site' / 'leaderboard.db'}", readonly=True))
    assert [b.battle_key for b in copied] == [b.battle_key for b in expected]


def test_block_and_rows_on_each_backend(new_store_url: str, tmp_path: Path) -> None:
    path = _file(tmp_path)
    assert run_arena(ELO, battles_file=path, store=new_store_url).battles_written == 60
    assert import_judgments(path, store_url=new_store_url).battles_written == 0
    assert run_arena(ELO, battles_file=path, store=new_store_url).battles_written == 0
    assert read_battles(open_store(new_store_url)) == read_file(path).battles
    assert int(read_win_counts(open_store(new_store_url))["battles"].sum()) == 120


def test_from_store_rates_the_columns_as_the_records_would(tmp_path: Path) -> None:
    """`arena --from-store` reads the stored battles as columns (`read_stored_table`): the same report as rating
    `read_battles`' records, for a store of rows before a block, the block (Arena voters: the crowd) and rows
    after it, with and without a category and sources."""
    from harness.arena.ratings import compute_ratings
    from harness.arena.sources import select_sources
    from harness.arena.tables import rate_table, stored_table
    from harness.store.battles import read_stored_table

    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    store = open_store(url)

    def judged(judge: str, start: int, n: int) -> list[Battle]:
        return [Battle(model_a=MODELS[k % 4], model_b=MODELS[(k + 1) % 4] if k % 3 else "gpt-x",
                       winner=WINNERS[k % 3], judge=judge, category=["writing", None][k % 2],
                       battle_key=f"{judge}-{k}") for k in range(start, start + n)]

    write_battles(store, judged("gpt-4", 0, 25))
    assert run_arena(ELO, battles_file=_file(tmp_path), store=url).battles_written == 60
    write_battles(store, judged("gpt-4", 25, 15) + judged("human", 0, 10))
    assert len(read_stored_table(store)) == len(read_battles(store)) == 110
    both = ArenaConfig(method="both", bootstrap=30)
    for category, judges in ((None, ["crowd"]), (None, ["gpt-4"]), ("writing", ["gpt-4", "human"]),
                             ("coding", ["crowd"]), (None, ["crowd", "gpt-4", "human", "unspecified"])):
        expected = compute_ratings(select_sources(read_battles(store, category=category), judges), both)
        got = run_arena(both, from_store=True, store=url, category=category, judges=judges).report
        assert got.to_json() == expected.to_json(), (category, judges)
    with pytest.raises(HarnessError, match="4 sources: crowd, gpt-4, human, unspecified"):
        run_arena(both, from_store=True, store=url)
    pooled = rate_table(stored_table(store, every_source=True), both)  # the leaderboard's fit of every source
    everything = read_battles(store)
    for pair in (("vicuna-13b", "alpaca-13b"), ("gpt-x", "koala-13b"), ("nobody", "alpaca-13b")):  # the gate's
        assert read_battles(store, pair=pair) == [b for b in everything if {b.model_a, b.model_b} == set(pair)]
    assert read_battles(store, pair=("vicuna-13b", "alpaca-13b"), judge="arena_user_1")
    assert pooled.to_json() == compute_ratings(read_battles(store), both).to_json()
    with pytest.raises(HarnessError, match="no battles in category 'math'"):
        run_arena(both, from_store=True, store=url, category="math", judges=None)
