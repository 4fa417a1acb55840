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


def _text(value: Any, field: str) -> str:
    """A non-empty string that encodes as UTF-8 (a lone surrogate such as "\\ud800" does not)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty string, got {value!r:.60}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field} holds an unpaired surrogate ({value!r:.60}), which is not valid text") from None
    return value


def _texts(value: Any, field: str) -> tuple[str, ...]:
    """A non-empty list of non-empty strings ("turns": "hello" is a string, not a list of turns)."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{field} must be a non-empty list of strings, got {value!r:.60}")
    return tuple(_text(item, f"{field}[{k}]") for k, item in enumerate(value))


def _references(value: Any) -> tuple[str, ...]:
    """Reference answers per turn: strings, empty where a turn has none (MT-bench's question 103 does so)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"reference must be a list of strings, got {value!r:.60}")
    return tuple(value)


def _mt_bench_row(row: dict[str, Any]) -> Question:
    refs = row.get("reference")
    return Question(
        question_id=_text(str(row["question_id"]), "question_id"),
        category=str(row.get("category", "")),
        turns=_texts(row["turns"], "turns"),
        references=_references(refs) if refs else None,
    )


def _vicuna_row(row: dict[str, Any]) -> Question:
    return Question(question_id=_text(str(row["question_id"]), "question_id"), category=str(row.get("category", "")),
                    turns=(_text(row["text"], "text"),))


def _arena_hard_row(row: dict[str, Any]) -> Question:
    return Question(question_id=_text(str(row["uid"]), "uid"),
                    category=str(row.get("cluster") or row.get("category", "")),
                    turns=(_text(row["prompt"], "prompt"),))


# Format name -> (fields that identify it, row parser). Checked in this order.
ROW_FORMATS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], Question]]] = {
    "mt-bench": (("question_id", "turns"), _mt_bench_row),
    "vicuna-80": (("question_id", "text"), _vicuna_row),
    "arena-hard": (("uid", "prompt"), _arena_hard_row),
}
_FORMAT_HINT = "one JSON object per line: MT-bench {question_id, category, turns: [...]}, Vicuna-80 " \
               "{question_id, text, category} or Arena-Hard {uid, prompt}"


def read_jsonl(path: Path) -> list[Any]:
    """The parsed non-blank lines of a .jsonl file; invalid JSON raises `HarnessError` naming the line."""
    return [row.value for row in json_lines(path)]


def detect_format(row: Any, path: Path, number: int = 1) -> str:
    """The ROW_FORMATS name whose identifying fields the first row has."""
    if not isinstance(row, dict):
        raise HarnessError(f"{path} line {number}: expected a JSON object, got a {type(row).__name__}",
                           hint=_FORMAT_HINT)
    for name, (fields, _) in ROW_FORMATS.items():
        if all(f in row for f in fields):
            return name
    raise HarnessError(f"{path} is not a known question format (line {number} has {sorted(row)})",
                       hint=_FORMAT_HINT)


def _parse_rows(path: Path) -> list[Question]:
    """Every line as a Question of the first line's format; a bad line is an error naming it."""
    rows = list(json_lines(path))
    if not rows:
        raise HarnessError(f"question file {path} is empty", hint="pass a file with at least one question")
    fmt = detect_format(rows[0].value, path, rows[0].number)
    fields, parse = ROW_FORMATS[fmt]
    questions = []
    for row in rows:
        if not isinstance(row.value, dict) or not all(f in row.value for f in fields):
            raise HarnessError(f"{path} line {row.number}: not a {fmt} question (needs {', '.join(fields)})",
                               hint=_FORMAT_HINT)
        try:
            questions.append(parse(row.value))
        except ValueError as exc:
            raise HarnessError(f"{path} line {row.number}: {exc}", hint=_FORMAT_HINT) from None
    return questions


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
    """Read a question file in any ROW_FORMATS format, adding sibling reference answers when present.

    Every line is checked: an id, and turns that are a non-empty list of non-empty strings.
    """
    questions = _parse_rows(path)
    ref_path = path.parent / REFERENCE_FILE
    if ref_path.is_file():
        questions = _with_references(questions, ref_path)
    ids = [q.question_id for q in questions]
    if len(set(ids)) != len(ids):
        repeated = min({i for i in ids if ids.count(i) > 1})
        raise HarnessError(f"{path} repeats question id {repeated!r}", hint="each question_id must be unique")
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
