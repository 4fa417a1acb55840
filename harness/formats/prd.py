"""PRD (Peer Rank and Discussion) Vicuna-80 verdicts: `ratings-<reviewer>/answer_<A>-vs-answer_<B>-
<reviewer>-reviewer[_threeclass].jsonl`, score 1 = A (Assistant 1) better, 2 = B, 3 = tie.

Human rows are votes, one battle each. An LLM reviewer judged every pair in both orders: the two orders
of a question combine into one battle by FastChat's rule (as `harness judge` does), with `g1`/`g2` kept
for position-bias statistics. Files are read in sorted name order (the first of a pair's two files is
model_a's), rows in file order; of two files for one ordered pair (PRD's re-runs), the underscore-named
one is read. Style counts come from `../generations/answer_<model>.jsonl` where both answers are there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.answer_style import style_metadata
from harness.errors import HarnessError
from harness.formats.fastchat import fastchat_winner
from harness.formats.rows import Imported, Row, RowError, RowLog, file_digest, json_lines, row_key
from harness.records import Battle

FORMAT = "prd"
_SCORE = {1: "model_a", 2: "model_b", 3: "tie"}
_SWAP = {"model_a": "model_b", "model_b": "model_a"}
_ANY_NAME = re.compile(r"^answer[_-].+-vs-answer[_-].+-reviewer(?:[_-]threeclass)?\.jsonl$")
_PAIR = "{sep}(?P<a>.+?)-vs-answer[_-](?P<b>.+)-{judge}-reviewer(?:[_-]threeclass)?\\.jsonl$"


def is_prd_file(path: Path) -> bool:
    """Whether a file is named like a PRD ratings file."""
    return bool(_ANY_NAME.match(path.name))


def is_prd_folder(path: Path) -> bool:
    """Whether a folder is a PRD ratings-<reviewer>/ folder."""
    return path.name.startswith("ratings-") or any(is_prd_file(p) for p in path.glob("*.jsonl"))


def _reviewer(path: Path) -> str:
    """The reviewer: the ratings-<reviewer> folder's suffix, else the word before -reviewer in the name."""
    folder = path if path.is_dir() else path.parent
    if folder.name.startswith("ratings-"):
        return folder.name.removeprefix("ratings-")
    match = re.match(_PAIR.format(sep="^answer[_-]", judge="(?P<judge>[^-]+)"), path.name)
    if match is None:
        raise HarnessError(f"{path} is not a PRD ratings file or ratings-<reviewer>/ folder",
                           hint="expected answer_A-vs-answer_B-REVIEWER-reviewer_threeclass.jsonl")
    return match["judge"]


def read_prd(path: Path, skip_bad: bool = False) -> Imported:
    """A PRD ratings-<reviewer>/ folder or one of its files (see the module docstring)."""
    reviewer = _reviewer(path)
    log = RowLog(FORMAT, path, skip_bad)
    files = _pair_files(sorted(path.glob("*.jsonl")) if path.is_dir() else [path], reviewer, log)
    answers = _answers(path.parent.parent if path.is_file() else path.parent)
    done: set[tuple[str, str]] = set()
    for (a, b), file in files.items():
        if (b, a) in done:
            continue  # read with its other order
        reverse = None if reviewer == "human" else files.get((b, a))
        if reverse is not None:
            done.add((a, b))
        _read_file(file, reverse, (a, b, reviewer), answers, log)
    return log.result()


def _pair_files(paths: list[Path], reviewer: str, log: RowLog) -> dict[tuple[str, str], Path]:
    """(model A, model B) -> its file, in sorted name order; underscore-named files win over re-runs."""
    pattern = re.compile(_PAIR.format(sep="^answer[_-]", judge=re.escape(reviewer)))
    files: dict[tuple[str, str], Path] = {}
    for path in sorted(paths, key=lambda p: (p.name.startswith("answer-"), p.name)):
        match = pattern.match(path.name)
        if match is None:
            log.bad(path.name, f"not named answer_A-vs-answer_B-{reviewer}-reviewer[_threeclass].jsonl")
            continue
        files.setdefault((match["a"], match["b"]), path)
    return dict(sorted(files.items(), key=lambda item: item[1].name))


def _verdicts(path: Path, log: RowLog) -> list[tuple[Row, str]]:
    """(row, winner in the file's A/B terms) of each usable row."""
    out = []
    for row in json_lines(path, log):
        with log.row(row.where):
            score = row.value["score"] if isinstance(row.value, dict) else None
            if score not in _SCORE or isinstance(score, bool):
                raise RowError(f"score {score!r} is not 1, 2 or 3")
            out.append((row, _SCORE[score]))
    return out


def _read_file(path: Path, reverse: Path | None, pair: tuple[str, str, str], answers: dict[tuple[str, str], str],
               log: RowLog) -> None:
    a, b, reviewer = pair
    second = {str(r.value["question_id"]): v for r, v in reversed(_verdicts(reverse, log))} if reverse else {}
    identity: list[Any] = [file_digest(path), file_digest(reverse) if reverse else None]
    for row, g1 in _verdicts(path, log):
        with log.row(row.where):
            qid = str(row.value["question_id"])
            g2 = _SWAP.get(second[qid], second[qid]) if qid in second else None
            extra: dict[str, Any] = {"g1": g1} if g2 is None else {"g1": g1, "g2": g2}
            if (a, qid) in answers and (b, qid) in answers:
                extra["conv_metadata"] = style_metadata(answers[(a, qid)], answers[(b, qid)])
            log.battles.append(Battle(
                model_a=a, model_b=b, winner=g1 if g2 is None else fastchat_winner(g1, g2), source=log.source,
                question_set="vicuna80", question_id=qid, turn=1, judge=reviewer,
                battle_key=row_key(FORMAT, *identity, row.number), extra=extra))


def _answers(root: Path) -> dict[tuple[str, str], str]:
    """(model, question id) -> answer text from PRD's generations/answer_<model>.jsonl."""
    found: dict[tuple[str, str], str] = {}
    folder = root / "generations"
    for path in sorted(folder.glob("answer_*.jsonl")) if folder.is_dir() else []:
        model = path.stem.removeprefix("answer_")
        for row in json_lines(path):
            if isinstance(row.value, dict) and "question_id" in row.value:
                found[(model, str(row.value["question_id"]))] = row.value.get("text") or ""
    return found
