"""Question sets: the project's own, files in the MT-bench / Vicuna-80 / Arena-Hard formats, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.formats.questions import builtin_sets, load_questions


def test_builtin_sets():
    assert {"arith", "general"} <= set(builtin_sets())
    arith = load_questions("arith")
    assert arith.name == "arith" and len(arith.questions) == 16
    for q in arith.questions:
        a, b = (int(x) for x in q.turns[0].removeprefix("What is ").rstrip("?").split("+"))
        assert q.references == (str(a + b),)
    general = load_questions("general")
    assert any(len(q.turns) == 2 for q in general.questions)
    assert any(q.references for q in general.questions) and any(not q.references for q in general.questions)
    assert all(len(q.references) == len(q.turns) for q in general.questions if q.references)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_formats_and_sibling_references(tmp_path: Path):
    bench = tmp_path / "my_bench"
    (bench / "reference_answer").mkdir(parents=True)
    _write(bench / "question.jsonl", [{"question_id": 7, "category": "math", "turns": ["1+1?", "times 3?"]},
                                      {"question_id": 8, "category": "x", "turns": ["hi"], "reference": ["hello"]}])
    _write(bench / "reference_answer" / "gpt-4.jsonl",
           [{"question_id": 7, "model_id": "gpt-4", "choices": [{"index": 0, "turns": ["2", "6"]}]}])
    qset = load_questions(str(bench))  # a folder holding question.jsonl works too
    assert qset.name == "my_bench"
    by_id = qset.by_id()
    assert by_id["7"].references == ("2", "6") and by_id["8"].references == ("hello",)
    vicuna = load_questions(str(_write(tmp_path / "v.jsonl", [{"question_id": 1, "text": "Why?", "category": "generic"}])))
    assert vicuna.questions[0].turns == ("Why?",) and vicuna.name == "v"
    arena = load_questions(str(_write(tmp_path / "a.jsonl", [{"uid": "u1", "category": "c", "prompt": "Do it"}])))
    assert arena.questions[0].question_id == "u1"


def test_bad_question_files(tmp_path: Path):
    with pytest.raises(HarnessError, match="unknown question set"):
        load_questions("no-such-set")
    with pytest.raises(HarnessError, match="not a known question format"):
        load_questions(str(_write(tmp_path / "odd.jsonl", [{"foo": 1}])))
    (tmp_path / "broken.jsonl").write_text('{"question_id": 1, "turns": ["a"]}\n{oops\n')
    with pytest.raises(HarnessError, match=r"line 2 of .*broken.jsonl: invalid JSON"):
        load_questions(str(tmp_path / "broken.jsonl"))
    dup = [{"question_id": 1, "turns": ["a"]}, {"question_id": 1, "turns": ["b"]}]
    with pytest.raises(HarnessError, match="repeats"):
        load_questions(str(_write(tmp_path / "dup.jsonl", dup)))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(HarnessError, match="empty"):
        load_questions(str(tmp_path / "empty.jsonl"))


def test_real_question_files(shared_data: Path):
    mt = load_questions(str(shared_data / "mt_bench" / "question.jsonl"))
    assert mt.name == "mt_bench" and len(mt.questions) == 80
    assert all(len(q.turns) == 2 for q in mt.questions)
    categories = [q.category for q in mt.questions]
    assert {c: categories.count(c) for c in set(categories)} == dict.fromkeys(
        ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"], 10)
    with_refs = {q.question_id for q in mt.questions if q.references}
    assert len(with_refs) == 40  # 39 carry `reference`; question 123 gets its GPT-4 reference answer
    assert mt.by_id()["123"].references and mt.by_id()["101"].references[0] == "You are in second place."
    vicuna = load_questions(str(shared_data / "vicuna_bench" / "question.jsonl"))
    assert len(vicuna.questions) == 80 and sum(bool(q.references) for q in vicuna.questions) == 10
    old = load_questions(str(shared_data / "vicuna80_fastchat_eval" / "question.jsonl"))
    assert len(old.questions) == 80 and old.by_id()["1"].turns[0] == vicuna.by_id()["1"].turns[0]
    arena = load_questions(str(shared_data / "arena_hard_auto" / "arena-hard-v0.1_question.jsonl"))
    assert len(arena.questions) == 500


@pytest.mark.parametrize(
    "text, message",
    [
        ('[{"question_id": 1, "turns": ["hi"]}]\n', "line 1: expected a JSON object, got a list"),
        ('{"question_id": 1, "turns": "hello"}\n', "line 1: turns must be a non-empty list of strings"),
        ('{"question_id": 1, "turns": []}\n', "line 1: turns must be a non-empty list"),
        ('{"question_id": 1, "turns": ["ok"]}\n{"question_id": 2, "turns": [5]}\n', "line 2: turns[0] must be a non-empty"),
        ('{"question_id": 1, "turns": [""]}\n', "line 1: turns[0] must be a non-empty string"),
        ('{"question_id": 1, "turns": ["\\ud800 lone"]}\n', "line 1: turns[0] holds an unpaired surrogate"),
        ('{"question_id": 1, "turns": ["a"]}\n{"text": "b"}\n', "line 2: not a mt-bench question"),
        ('{"question_id": "", "turns": ["a"]}\n', "line 1: question_id must be a non-empty string"),
    ],
)
def test_bad_question_lines_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(text)
    with pytest.raises(HarnessError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_questions(str(path))


def test_bad_question_file_through_the_cli_exits_2_and_leaves_the_store(tmp_path: Path, store_url: str) -> None:
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.store import open_store
    from harness.store.runs import count_rows

    path = tmp_path / "q.jsonl"
    path.write_text('{"question_id": 1, "turns": "hello"}\n')
    before = count_rows(open_store())
    result = CliRunner().invoke(app, ["generate", "--model", "x", "--backend", "local-chat-completions",
                                      "--base-url", "http://127.0.0.1:9/v1", "--questions", str(path)])
    assert result.exit_code == 2 and "line 1: turns must be" in result.stderr and "Traceback" not in result.stderr
    assert count_rows(open_store()) == before
