"""Flags on the leaderboard for models fine-tuned on evaluation documents.

`harness decontaminate` keeps, per fine-tuning data set (its sha256) and task, whether the data holds that task's
documents; a fine-tune's model card records the sha256 of the data it was trained on. A model whose card names
contaminated data gets the tasks in a `contaminated` column, and the page says which scores to distrust.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from leaderboard_app.board import Board

COLUMN = "contaminated"


def _data_digest(card: Any) -> str | None:
    data = card.get("data") if isinstance(card, dict) else None
    digest = data.get("sha256") if isinstance(data, dict) else None
    return digest if isinstance(digest, str) else None


def contaminated_tasks(models: pd.DataFrame, found: dict[str, list[str]]) -> dict[int, list[str]]:
    """model id -> the tasks whose documents its training data holds (by its card's data sha256)."""
    if not found or models.empty:
        return {}
    digests = {int(mid): _data_digest(card) for mid, card in zip(models["id"], models["card"])}
    return {mid: found[d] for mid, d in digests.items() if d in found}


def with_contamination(board: Board, flags: dict[int, list[str]]) -> Board:
    """The board with a `contaminated` column (the tasks, comma-separated) when any model is flagged."""
    if not flags:
        return board
    frame = board.frame.copy()
    frame[COLUMN] = [", ".join(flags.get(int(m), [])) or None for m in frame["model_id"]]
    return board._replace(frame=frame)


def warning_lines(frame: pd.DataFrame, tasks: list[str]) -> list[str]:
    """One line per shown model whose training data holds documents of a shown task."""
    if COLUMN not in frame:
        return []
    lines = []
    for model, flagged in zip(frame["model"], frame[COLUMN]):
        hit = [t for t in str(flagged or "").split(", ") if t in tasks]
        if hit:
            lines.append(f"{model} was fine-tuned on data that holds documents of {', '.join(hit)} "
                         "(`harness decontaminate`): its scores there overstate it.")
    return lines
