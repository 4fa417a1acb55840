"""FastChat's March-2023 Vicuna-80 GPT-4 reviews (`fastchat/eval/table/`): a `review_<A>_<B>.jsonl` file
or the whole folder (review/<dir>/*.jsonl read in sorted path order, answers from answer/*.jsonl).

Each row's score [s1, s2] rates Assistant 1 (answer1_id) and 2; the higher wins, equal scores tie,
[-1, -1] (FastChat's unparsed review) is dropped. Models are named by their answers' `model_id`
(`gpt-3.5-turbo:20230327`, `llama-13b:v1`, three `vicuna-*:<version>` checkpoints), never by the review
file name: the file names abbreviate (`gpt35`) and disagree (`llama` vs `llama-13b` for one model).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from harness.answer_style import style_metadata
from harness.errors import HarnessError
from harness.formats.rows import Imported, RowError, RowLog, file_digest, json_lines, row_key
from harness.records import Battle

FORMAT = "vicuna-review"


class Answer(NamedTuple):
    """One answer of the answer/ folder."""

    model: str
    question_id: str
    text: str


def is_review_folder(path: Path) -> bool:
    """Whether `path` is a fastchat_eval folder (review/ and answer/ inside)."""
    return (path / "review").is_dir() and (path / "answer").is_dir()


def read_vicuna_reviews(path: Path, skip_bad: bool = False) -> Imported:
    """The reviews of a fastchat_eval folder, or of one review file inside its review/<dir>/ folder."""
    folder = path if path.is_dir() else path.parent.parent.parent
    if not is_review_folder(folder):
        raise HarnessError(f"no answer/ folder for {path}: the models are named by their answers' model_id",
                           hint="read the review file inside FastChat's fastchat_eval layout "
                                "(review/<dir>/review_*.jsonl beside answer/)")
    answers = read_answers(folder / "answer")
    log = RowLog(FORMAT, path, skip_bad)
    for review in sorted((folder / "review").glob("*/*.jsonl")) if path.is_dir() else [path]:
        _read_review_file(review, answers, log)
    return log.result()


def read_answers(folder: Path) -> dict[str, Answer]:
    """answer_id -> the answer, from every answer/*.jsonl."""
    answers: dict[str, Answer] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for row in json_lines(path):
            r = row.value
            if isinstance(r, dict) and {"answer_id", "model_id", "question_id"} <= r.keys():
                answers[str(r["answer_id"])] = Answer(str(r["model_id"]), str(r["question_id"]), r.get("text") or "")
    return answers


def _read_review_file(path: Path, answers: dict[str, Answer], log: RowLog) -> None:
    digest = file_digest(path)
    for row in json_lines(path, log):
        with log.row(row.where):
            first, second = answers.get(str(row.value["answer1_id"])), answers.get(str(row.value["answer2_id"]))
            s1, s2 = (float(s) for s in row.value["score"])
            if first is None or second is None:
                raise RowError("answer1_id / answer2_id not found in answer/")
            if s1 == s2 == -1:
                log.dropped += 1
                continue
            if min(s1, s2) < 0:
                raise RowError(f"score {row.value['score']} is not [s1, s2] >= 0")
            winner = "tie" if s1 == s2 else "model_a" if s1 > s2 else "model_b"
            log.battles.append(Battle(
                model_a=first.model, model_b=second.model, winner=winner, source=log.source,
                question_set="vicuna80", question_id=first.question_id, turn=1, judge="gpt-4",
                battle_key=row_key(FORMAT, digest, row.number),
                extra={"g1": winner, "score_a": s1, "score_b": s2,
                       "conv_metadata": style_metadata(first.text, second.text)}))
