"""`harness judge import` and `harness arena --battles` read a file through the same reader: the same battles
(models, names, order, keys) land in the store whichever command reads it, and reading it again adds none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.arena.battles import ArenaConfig, battle_set_fingerprint
from harness.arena.run import run_arena
from harness.cli import app
from harness.judge.imports import import_judgments
from harness.records import Battle
from harness.store import open_store
from harness.store.battles import read_battles
from tests import format_files

ELO = ArenaConfig(method="elo", bootstrap=0)


def _triples(battles: list[Battle]) -> list[tuple[str, str, str]]:
    return [(b.model_a, b.model_b, b.winner) for b in battles]


def _both_commands(path: Path, tmp_path: Path) -> tuple[list[Battle], list[Battle], str]:
    """The battles `judge import` stored, those `arena --battles` stored (separate stores), the rated set."""
    imported, rated = f"sqlite:///{tmp_path / 'imported.db'}", f"sqlite:///{tmp_path / 'rated.db'}"
    import_judgments(path, store_url=imported)
    outcome = run_arena(ELO, battles_file=path, store=rated)
    return read_battles(open_store(imported)), read_battles(open_store(rated)), outcome.report.battle_set


@pytest.mark.parametrize("fmt", list(format_files.WRITERS))
def test_both_commands_store_the_same_battles(tmp_path: Path, fmt: str) -> None:
    path = format_files.WRITERS[fmt](tmp_path)
    imported, rated, battle_set = _both_commands(path, tmp_path)
    assert imported and _triples(imported) == _triples(rated)
    assert [b.battle_key for b in imported] == [b.battle_key for b in rated]
    assert [(b.judge, b.question_id, b.extra) for b in imported] == [(b.judge, b.question_id, b.extra) for b in rated]
    assert battle_set == battle_set_fingerprint(imported)  # arena rated exactly what import stored


def test_arena_battles_stores_once_and_import_after_it_adds_nothing(tmp_path: Path) -> None:
    path = format_files.vicuna_eval(tmp_path)
    first = run_arena(ELO, battles_file=path)
    again = run_arena(ArenaConfig(method="elo", bootstrap=0, k=8), battles_file=path)
    assert first.battles_written == 3 and again.battles_written == 0
    assert len(read_battles(open_store())) == 3
    assert import_judgments(path).battles_written == 0
    review = path / "review" / "vicuna-7b_fp16" / "review_llama_vicuna-7b.jsonl"
    assert import_judgments(review).battles_written == 0  # a file of the folder: the same keys
    from_store = run_arena(ELO, from_store=True)
    assert from_store.report.battle_set == first.report.battle_set and from_store.battles_written == 0


def test_cli_arena_json_counts_written_battles(tmp_path: Path) -> None:
    path = format_files.prd(tmp_path)
    runner = CliRunner()
    first = json.loads(runner.invoke(app, ["arena", "--battles", str(path), "--json", "--bootstrap", "0"]).stdout)
    again = json.loads(runner.invoke(app, ["arena", "--battles", str(path), "--json", "--bootstrap", "0"]).stdout)
    assert (first["battles"], first["battles_written"], again["battles_written"]) == (3, 3, 0)
    assert first["source"] == "import:ratings-gpt4" and {"skipped", "stored"} <= set(first)
    doc = json.loads(runner.invoke(app, ["judge", "import", str(path), "--json"]).stdout)
    assert (doc["format"], doc["battles_read"], doc["battles_written"], doc["skipped"]) == ("prd", 3, 0, 0)


def test_cli_judge_import_skip_bad(tmp_path: Path) -> None:
    path = format_files.clean_battle(tmp_path)
    path.write_text(path.read_text() + '{"model_a": "x", "model_b": "y", "winner": "draw"}\n')
    runner = CliRunner()
    failed = runner.invoke(app, ["judge", "import", str(path)])
    assert failed.exit_code == 2 and "line 4" in failed.output and "--skip-bad" in failed.output
    doc = json.loads(runner.invoke(app, ["judge", "import", str(path), "--skip-bad", "--json"]).stdout)
    assert (doc["format"], doc["battles_written"], doc["skipped"]) == ("clean-battle", 3, 1)



def test_cli_judge_import_lists_ten_judges_and_counts_the_rest(tmp_path: Path) -> None:
    rows = [{"model_a": "x", "model_b": "y", "winner": "tie", "judge": f"arena_user_{k:02d}"} for k in range(14)]
    path = tmp_path / "votes.json"
    path.write_text(json.dumps(rows))
    done = CliRunner().invoke(app, ["judge", "import", str(path)])
    assert done.exit_code == 0, done.output
    assert "14 new battles of 14 read" in done.stdout and "arena_user_09 and 4 more" in done.stdout
    assert "arena_user_10" not in done.stdout
    doc = json.loads(CliRunner().invoke(app, ["judge", "import", str(path), "--json"]).stdout)
    assert len(doc["judges"]) == 14  # the JSON document lists them all

REAL_FILES = [
    "vicuna80_fastchat_eval",
    "vicuna80_fastchat_eval/review/vicuna-13b_20230322-clean-lang/review_gpt35_vicuna-13b.jsonl",
    "prd_vicuna80_pairwise/ratings-gpt4",
    "prd_vicuna80_pairwise/ratings-human",
    "prd_vicuna80_pairwise/ratings-vicuna-13b",
    "llmfao/crowd-comparisons.csv",
    "llmfao/gpt4-crowd-comparisons.csv",
]


@pytest.mark.parametrize("relative", REAL_FILES)
def test_shared_real_files_give_the_same_battles_through_both_commands(shared_data: Path, tmp_path: Path,
                                                                       relative: str) -> None:
    imported, rated, battle_set = _both_commands(shared_data / relative, tmp_path)
    assert imported and _triples(imported) == _triples(rated) and battle_set == battle_set_fingerprint(imported)
    assert [b.battle_key for b in imported] == [b.battle_key for b in rated]


def test_shared_real_vicuna_online_elo_is_the_same_through_both_commands(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "vicuna80_fastchat_eval"
    import_judgments(folder)
    from_store = {r.model: r.elo for r in run_arena(ELO, from_store=True).report.rows}
    from_file = {r.model: r.elo for r in run_arena(ELO, battles_file=folder).report.rows}
    assert from_store == from_file and len(from_file) == 7
    assert from_file["llama-13b:v1"] == min(from_file.values())  # type: ignore[type-var]
