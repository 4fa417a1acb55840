"""Chatbot Arena `clean_battle` files: a JSON list or JSONL of {model_a, model_b, winner, ...} objects.

`read_clean_battles(path, skip_bad)` keeps `question_set`, `question_id`, `turn`, `category`, `judge` and
`battle_key` as Battle fields and every other field in `extra`. A row without its own `battle_key` gets
one from the file's digest and its row number, so reading the file again adds nothing to the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats.rows import Imported, RowError, RowLog, file_digest, json_rows, row_key
from harness.records import WINNERS, Battle

FORMAT = "clean-battle"
FIELDS = ("question_set", "question_id", "turn", "category", "judge", "battle_key")


def read_clean_battles(path: Path, skip_bad: bool = False) -> Imported:
    """A JSON list or JSONL of clean_battle objects (model_a, model_b, winner; the rest kept in `extra`)."""
    log, digest = RowLog(FORMAT, path, skip_bad), file_digest(path)
    for row in json_rows(path, log):
        with log.row(row.where):
            log.battles.append(clean_battle(row.value, log.source, row_key(FORMAT, digest, row.number)))
    return log.result()


def clean_battle(row: Any, source: str, key: str) -> Battle:
    """The Battle a clean_battle row describes (its own battle_key wins over `key`).

    Raises:
        RowError: the row is not an object with two different model names and a known winner.
    """
    if not isinstance(row, dict):
        raise RowError(f"expected an object, got {type(row).__name__}")
    for side in ("model_a", "model_b"):
        if not isinstance(row.get(side), str) or not row[side].strip():
            raise RowError(f"{side} is missing or not a non-empty string")
    if row.get("winner") not in WINNERS:
        raise RowError(f"winner {row.get('winner')!r} is not one of {', '.join(WINNERS)}")
    if row["model_a"] == row["model_b"]:
        raise RowError(f"model_a and model_b are both {row['model_a']!r}")
    known: dict[str, Any] = {k: row[k] for k in FIELDS if row.get(k) is not None}
    if "turn" in known and not (isinstance(known["turn"], int) and not isinstance(known["turn"], bool)):
        known.pop("turn")
    for name in ("question_set", "question_id", "category", "judge", "battle_key"):
        if name in known:
            known[name] = str(known[name])
    known.setdefault("battle_key", key)
    extra = {k: v for k, v in row.items() if k not in ("model_a", "model_b", "winner") and k not in known}
    return Battle(model_a=row["model_a"], model_b=row["model_b"], winner=row["winner"], source=source,
                  extra=extra, **known)
