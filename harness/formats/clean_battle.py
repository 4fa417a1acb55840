"""Battle files: Chatbot Arena `clean_battle` JSON lists or JSONL, and converters for real vote files.

`load_battles(path, skip_bad)` picks the reader from the path: a `.json`/`.jsonl` clean_battle file, an
LLMFAO comparisons `.csv`, a PRD `ratings-<reviewer>/` folder or the Vicuna-80 `fastchat_eval` folder.
A malformed row raises `HarnessError` naming it, unless `skip_bad`, which skips and counts it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from harness.arena.style import style_metadata
from harness.errors import HarnessError
from harness.records import WINNERS, Battle

_FIELDS = ("question_set", "question_id", "turn", "category", "judge", "battle_key")
_PRD_SCORE = {1: "model_a", 2: "model_b", 3: "tie"}
_LLMFAO_WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


@dataclass(frozen=True)
class BattleFile:
    """What a battle source held: the battles, how many malformed rows were skipped, the first reasons."""

    battles: list[Battle]
    source: str
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


class _Collector:
    """Collects battles; a malformed row raises (naming it) or, with skip_bad, is counted."""

    def __init__(self, path: Path, skip_bad: bool) -> None:
        self.path, self.skip_bad = path, skip_bad
        self.battles: list[Battle] = []
        self.problems: list[str] = []
        self.skipped = 0

    def bad(self, where: str, reason: str) -> None:
        message = f"{where} of {self.path}: {reason}"
        if not self.skip_bad:
            raise HarnessError(message, hint="fix the row or pass --skip-bad to skip malformed rows")
        self.skipped += 1
        if len(self.problems) < 5:
            self.problems.append(message)

    def result(self, source: str) -> BattleFile:
        return BattleFile(self.battles, source, self.skipped, self.problems)


def load_battles(path: Path, skip_bad: bool = False) -> BattleFile:
    """Read battles from `path` (see the module docstring for the shapes it recognises)."""
    if not path.exists():
        raise HarnessError(f"no battle file at {path}", hint="pass a .json/.jsonl clean_battle file")
    if path.is_dir():
        if (path / "review").is_dir() and (path / "answer").is_dir():
            return read_vicuna80_reviews(path, skip_bad)
        if path.name.startswith("ratings-"):
            return read_prd_ratings(path, skip_bad)
        raise HarnessError(f"{path} is a folder but not a PRD ratings-<reviewer>/ or a Vicuna-80 "
                           "fastchat_eval folder", hint="pass a .json/.jsonl clean_battle file")
    if path.suffix == ".csv":
        return read_llmfao_csv(path, skip_bad)
    return read_clean_battles(path, skip_bad)


def read_clean_battles(path: Path, skip_bad: bool = False) -> BattleFile:
    """A JSON list or JSONL of clean_battle objects (model_a, model_b, winner; the rest kept in `extra`)."""
    collect = _Collector(path, skip_bad)
    for where, row in _json_rows(path, collect):
        battle = _clean_battle(row, f"import:{path.name}")
        if isinstance(battle, str):
            collect.bad(where, battle)
        else:
            collect.battles.append(battle)
    return collect.result(f"import:{path.name}")


def _json_rows(path: Path, collect: _Collector) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8-sig")  # tolerate a byte-order mark
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path} is not valid JSON: {exc}",
                               hint="a JSON list or one object per line") from None
        yield from ((f"row {k + 1}", row) for k, row in enumerate(rows))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            collect.bad(f"line {number}", f"invalid JSON ({exc.msg})")


def _clean_battle(row: Any, source: str) -> Battle | str:
    """The Battle a clean_battle row describes, or the reason it is malformed."""
    if not isinstance(row, dict):
        return f"expected an object, got {type(row).__name__}"
    for key in ("model_a", "model_b"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"{key} is missing or not a non-empty string"
    if row.get("winner") not in WINNERS:
        return f"winner {row.get('winner')!r} is not one of {', '.join(WINNERS)}"
    if row["model_a"] == row["model_b"]:
        return f"model_a and model_b are both {row['model_a']!r}"
    known: dict[str, Any] = {k: row[k] for k in _FIELDS if row.get(k) is not None}
    if "turn" in known and not (isinstance(known["turn"], int) and not isinstance(known["turn"], bool)):
        known.pop("turn")
    for key in ("question_set", "question_id", "category", "judge", "battle_key"):
        if key in known:
            known[key] = str(known[key])
    extra = {k: v for k, v in row.items() if k not in ("model_a", "model_b", "winner") and k not in known}
    return Battle(model_a=row["model_a"], model_b=row["model_b"], winner=row["winner"], source=source, extra=extra, **known)


def read_llmfao_csv(path: Path, skip_bad: bool = False) -> BattleFile:
    """LLMFAO comparisons (crowd or GPT judge): left/right/tie votes; style metadata from the
    pairs-crowd.jsonl beside the file."""
    collect = _Collector(path, skip_bad)
    answers = _llmfao_answers(path.parent / "pairs-crowd.jsonl")
    judge = path.stem.removesuffix("-crowd-comparisons")  # gpt4-crowd-comparisons.csv: judged by gpt4
    with path.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.DictReader(fh), start=2):
            winner = _LLMFAO_WINNER.get(row.get("winner") or "")
            if winner is None or not row.get("left") or not row.get("right") or row["left"] == row["right"]:
                collect.bad(f"line {number}", f"winner {row.get('winner')!r} / left / right not usable")
                continue
            pair = answers.get(str(row.get("id")))
            extra: dict[str, Any] = {"worker": row["worker"]} if row.get("worker") else {}
            if pair:
                extra["conv_metadata"] = style_metadata(*pair)
            collect.battles.append(Battle(model_a=row["left"], model_b=row["right"], winner=winner, source=f"import:{path.name}",
                                          question_set="llmfao", question_id=row.get("prompt"),
                                          judge=f"worker:{row['worker']}" if row.get("worker") else judge,
                                          extra=extra))
    return collect.result(f"import:{path.name}")


def _llmfao_answers(path: Path) -> dict[str, tuple[str, str]]:
    """pair id -> (left answer, right answer); left is model_x in the comparisons file."""
    if not path.exists():
        return {}
    rows = (row for _, row in _object_lines(path) if row and "id" in row)
    return {str(r["id"]): (r.get("result_x") or "", r.get("result_y") or "") for r in rows}


def read_prd_ratings(folder: Path, skip_bad: bool = False) -> BattleFile:
    """PRD `ratings-<reviewer>/answer_<A>-vs-answer_<B>-<reviewer>-reviewer*.jsonl`: score 1 = A, 2 = B,
    3 = tie.

    When a reviewer has two files for the same ordered pair (a re-run), the underscore-named one is used.
    Style metadata comes from `../generations/answer_<model>.jsonl` when both answers are there.
    """
    reviewer = folder.name.removeprefix("ratings-")
    pattern = re.compile(rf"^answer[_-](?P<a>.+)-vs-answer[_-](?P<b>.+)-{re.escape(reviewer)}-reviewer"
                         r"(?:[_-]threeclass)?\.jsonl$")
    answers = _prd_answers(folder.parent / "generations")
    collect, seen = _Collector(folder, skip_bad), set()
    for path in sorted(folder.glob("*.jsonl"), key=lambda p: (p.name.startswith("answer-"), p.name)):
        match = pattern.match(path.name)
        if match is None or (match["a"], match["b"]) in seen:
            continue
        seen.add((match["a"], match["b"]))
        for number, row in _object_lines(path):
            if row is None or row.get("score") not in _PRD_SCORE:
                collect.bad(f"{path.name} line {number}", "not a JSON object with score 1, 2 or 3")
                continue
            qid = str(row.get("question_id"))
            first, second = answers.get((match["a"], qid)), answers.get((match["b"], qid))
            extra = {} if first is None or second is None else {
                "conv_metadata": style_metadata(first, second)}
            collect.battles.append(Battle(model_a=match["a"], model_b=match["b"], winner=_PRD_SCORE[row["score"]],
                                          source=f"import:prd-{reviewer}", question_set="vicuna80",
                                          question_id=qid, judge=reviewer, extra=extra))
    return collect.result(f"import:prd-{reviewer}")


def _prd_answers(folder: Path) -> dict[tuple[str, str], str]:
    """(model, question id) -> answer text from PRD's generations/answer_<model>.jsonl."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(folder.glob("answer_*.jsonl")) if folder.is_dir() else []:
        model = path.stem.removeprefix("answer_")
        for _, row in _object_lines(path):
            if row and "question_id" in row:
                found[(model, str(row["question_id"]))] = row.get("text") or ""
    return found


def read_vicuna80_reviews(folder: Path, skip_bad: bool = False) -> BattleFile:
    """FastChat's March-2023 Vicuna-80 GPT-4 reviews: score [s1, s2]; the higher-scored answer wins, equal
    scores tie.

    Models are named by their answer files' `model_id` (three Vicuna checkpoints appear).
    """
    answers: dict[str, tuple[str, str, str]] = {}  # answer_id -> (model, question id, text)
    for path in sorted((folder / "answer").glob("*.jsonl")):
        for _, row in _object_lines(path):
            if row and {"answer_id", "model_id", "question_id"} <= set(row):
                answers[row["answer_id"]] = (row["model_id"], str(row["question_id"]), row.get("text") or "")
    collect = _Collector(folder, skip_bad)
    for path in sorted((folder / "review").glob("*/*.jsonl")):
        for number, parsed in _object_lines(path):
            row = parsed or {}
            first, second = answers.get(row.get("answer1_id", "")), answers.get(row.get("answer2_id", ""))
            score = row.get("score")
            if first is None or second is None or not _review_score(score):
                collect.bad(f"{path.name} line {number}", "unknown answer ids or score is not [s1, s2] >= 0")
                continue
            winner = "model_a" if score[0] > score[1] else "model_b" if score[1] > score[0] else "tie"
            extra = {"score": score, "conv_metadata": style_metadata(first[2], second[2])}
            collect.battles.append(Battle(model_a=first[0], model_b=second[0], winner=winner, source="import:vicuna80-gpt4-review",
                                          question_set="vicuna80", question_id=first[1], judge="gpt-4",
                                          extra=extra))
    return collect.result("import:vicuna80-gpt4-review")


def _review_score(score: Any) -> TypeGuard[list[float]]:
    return isinstance(score, list) and len(score) == 2 and min(score) >= 0


def _object_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, the line's JSON object, or None when it is not one) for each non-blank line."""
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        yield number, row if isinstance(row, dict) else None
