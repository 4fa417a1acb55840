"""LLMFAO comparison CSVs: crowd votes (`crowd-comparisons.csv`) and GPT verdicts (`gpt4-`/`gpt3-crowd-
comparisons.csv`) on the same pairs, columns id, prompt, model_x, model_y, [worker,] winner, left, right.

left is model_a (it is always model_x); winner left | right | tie. The judge is the file's: `crowd` for
the crowd votes (the worker is kept in `extra`, so agreement and results see one human judge, not 124),
`gpt4`/`gpt3` for the others. Style counts come from `pairs-crowd.jsonl` beside the file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from harness.answer_style import style_metadata
from harness.formats.rows import Imported, RowError, RowLog, file_digest, json_lines, row_key
from harness.records import Battle

FORMAT = "llmfao"
_WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


def judge_of(path: Path) -> str:
    """crowd-comparisons.csv -> crowd; gpt4-crowd-comparisons.csv -> gpt4."""
    return "crowd" if path.stem.startswith("crowd") else path.stem.split("-")[0]


def read_llmfao(path: Path, skip_bad: bool = False) -> Imported:
    """One LLMFAO comparisons CSV, in file row order."""
    log, digest, judge = RowLog(FORMAT, path, skip_bad), file_digest(path), judge_of(path)
    answers = _pair_answers(path.parent / "pairs-crowd.jsonl")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            with log.row(f"line {reader.line_num}"):
                winner = _WINNER.get(row.get("winner") or "")
                if winner is None or not row.get("left") or not row.get("right") or row["left"] == row["right"]:
                    raise RowError(f"winner {row.get('winner')!r} / left / right not usable")
                extra: dict[str, Any] = {"pair_id": row["id"]}
                if row.get("worker"):
                    extra["worker"] = row["worker"]
                if row["id"] in answers:
                    extra["conv_metadata"] = style_metadata(*answers[row["id"]])
                log.battles.append(Battle(
                    model_a=row["left"], model_b=row["right"], winner=winner, source=log.source,
                    question_set="llmfao", question_id=str(row["prompt"]), turn=1, judge=judge,
                    battle_key=row_key(FORMAT, digest, reader.line_num), extra=extra))
    return log.result()


def _pair_answers(path: Path) -> dict[str, tuple[str, str]]:
    """pair id -> (left answer, right answer); left is model_x in the comparisons files."""
    if not path.exists():
        return {}
    rows = (row.value for row in json_lines(path) if isinstance(row.value, dict) and "id" in row.value)
    return {str(r["id"]): (r.get("result_x") or "", r.get("result_y") or "") for r in rows}
