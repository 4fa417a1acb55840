"""Open-ended question sets for `harness generate` and `harness judge`: the project's own and published ones.

`load_questions("arith")` reads `tasks/questions/arith.jsonl`; a path reads a file in the MT-bench format
(question_id, category, turns[, reference]; references also from a sibling `reference_answer/gpt-4.jsonl`),
the Vicuna-80 format (question_id, text, category) or the Arena-Hard format (uid, category, prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.formats.rows import json_lines
from harness.records import Question, QuestionSet
from harness.resources import tasks_dir

QUESTIONS_DIR = tasks_dir() / "questions"
REFERENCE_FILE = Path("reference_answer") / "gpt-4.jsonl"


def _mt_bench_row(row: dict[str, Any]) -> Question:
    refs = row.get("reference")
    return Question(
        question_id=str(row["question_id"]),
        category=str(row.get("category", "")),
        turns=tuple(map(str, row["turns"])),
        references=tuple(map(str, refs)) if refs else None,
    )


def _vicuna_row(row: dict[str, Any]) -> Question:
    return Question(question_id=str(row["question_id"]), category=str(row.get("category", "")), turns=(str(row["text"]),))


def _arena_hard_row(row: dict[str, Any]) -> Question:
    return Question(
        question_id=str(row["uid"]), category=str(row.get("cluster") or row.get("category", "")), turns=(str(row["prompt"]),)
    )


# Format name -> (fields that identify it, row parser). Checked in this order.
ROW_FORMATS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], Question]]] = {
    "mt-bench": (("question_id", "turns"), _mt_bench_row),
    "vicuna-80": (("question_id", "text"), _vicuna_row),
    "arena-hard": (("uid", "prompt"), _arena_hard_row),
}


def read_jsonl(path: Path) -> list[Any]:
    """The parsed non-blank lines of a .jsonl file; invalid JSON raises `HarnessError` naming the line."""
    return [row.value for row in json_lines(path)]


def detect_format(row: dict[str, Any], path: Path) -> str:
    """The ROW_FORMATS name whose identifying fields the first row has."""
    for name, (fields, _) in ROW_FORMATS.items():
        if all(f in row for f in fields):
            return name
    raise HarnessError(
        f"{path} is not a known question format (first row has {sorted(row)})",
        hint="use MT-bench rows {question_id, category, turns} or Vicuna-80 rows {question_id, text, category}",
    )


def _with_references(questions: list[Question], ref_path: Path) -> list[Question]:
    refs = {str(r["question_id"]): tuple(map(str, r["choices"][0]["turns"])) for r in read_jsonl(ref_path)}
    return [
        Question(question_id=q.question_id, category=q.category, turns=q.turns, references=q.references or refs.get(q.question_id))
        for q in questions
    ]


def _set_name(path: Path) -> str:
    # FastChat keeps every bench as data/<bench>/question.jsonl, so the folder names the set.
    return path.parent.name if path.stem == "question" else path.stem


def load_question_file(path: Path, name: str | None = None) -> QuestionSet:
    """Read a question file in any ROW_FORMATS format, adding sibling reference answers when present."""
    rows = read_jsonl(path)
    if not rows:
        raise HarnessError(f"question file {path} is empty", hint="pass a file with at least one question")
    parse = ROW_FORMATS[detect_format(rows[0], path)][1]
    try:
        questions = [parse(r) for r in rows]
    except KeyError as exc:
        raise HarnessError(f"{path}: a row lacks field {exc}", hint="all rows need the same fields") from exc
    ref_path = path.parent / REFERENCE_FILE
    if ref_path.is_file():
        questions = _with_references(questions, ref_path)
    ids = [q.question_id for q in questions]
    if len(set(ids)) != len(ids):
        raise HarnessError(f"{path} repeats question ids", hint="each question_id must be unique")
    return QuestionSet(name=name or _set_name(path), source=str(path), questions=tuple(questions))


def builtin_sets() -> list[str]:
    """Names of the project's own sets in tasks/questions/."""
    return sorted(p.stem for p in QUESTIONS_DIR.glob("*.jsonl"))


def load_questions(set_or_file: str) -> QuestionSet:
    """Resolve `--questions`: a set name from tasks/questions/ or the path of a question file.

    Raises:
        HarnessError: neither a known set nor a readable file in a known format.
    """
    builtin = QUESTIONS_DIR / f"{set_or_file}.jsonl"
    if builtin.is_file():
        return load_question_file(builtin)
    path = Path(set_or_file).expanduser()
    if path.is_dir() and (path / "question.jsonl").is_file():
        path = path / "question.jsonl"
    if path.is_file():
        return load_question_file(path)
    raise HarnessError(
        f"unknown question set {set_or_file!r}",
        hint=f"use one of {', '.join(builtin_sets())} or the path of a question.jsonl",
    )
