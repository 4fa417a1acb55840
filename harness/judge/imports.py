"""`harness judge import`: existing judgments in published formats become battles (and grades) in the store.

The readers live in `judge_formats`; a dict literal maps each `--format` name to one, and the format is
detected from the file when not given. Re-importing a file adds nothing (every row has a deterministic key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.formats.fastchat import (
    PRD_NAME,
    Imported,
    read_alpaca_eval,
    read_fastchat_pair,
    read_fastchat_single,
    read_fastchat_votes,
    read_llmfao,
    read_prd,
    read_vicuna_review,
)
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.judgments import write_judgments


@dataclass(frozen=True)
class ImportOutcome:
    """What `harness judge import` reports."""

    format: str
    path: str
    battles_read: int
    battles_written: int
    judgments_written: int
    dropped: int
    judges: list[str]


READERS: dict[str, Callable[[Path], Imported]] = {
    "fastchat-pair": read_fastchat_pair,
    "fastchat-single": read_fastchat_single,
    "fastchat-votes": read_fastchat_votes,
    "vicuna-review": read_vicuna_review,
    "prd": read_prd,
    "alpaca-eval": read_alpaca_eval,
    "llmfao": read_llmfao,
}


def _first_row(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return dict(data[0]) if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    with path.open(encoding="utf-8") as fh:
        line = next((ln for ln in fh if ln.strip()), "{}")
    return dict(json.loads(line))


def _detect(path: Path) -> str:
    if path.is_dir() or PRD_NAME.match(path.stem):
        return "prd"
    if path.suffix == ".csv":
        return "llmfao"
    row = _first_row(path)
    checks: list[tuple[str, bool]] = [
        ("fastchat-pair", "g1_winner" in row),
        ("fastchat-single", "score" in row and "model" in row),
        ("fastchat-votes", "winner" in row and "model_a" in row),
        ("alpaca-eval", "preference" in row),
        ("vicuna-review", path.stem.startswith("review_") and "score" in row),
    ]
    for name, hit in checks:
        if hit:
            return name
    raise HarnessError(f"cannot tell the format of {path}", hint=f"pass --format ({', '.join(READERS)})")


def iter_formats() -> Iterator[str]:
    """The format names `--format` accepts."""
    yield from READERS


def import_judgments(path: str | Path, fmt: str | None = None, store_url: str | None = None) -> ImportOutcome:
    """Read `path` in `fmt` (detected when None) and write its battles and grades; re-importing adds nothing.

    Raises:
        HarnessError: a missing file, an unknown format or rows that do not fit it.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise HarnessError(f"no file {source}", hint="pass a judgment file or a PRD ratings folder")
    name = fmt or _detect(source)
    if name not in READERS:
        raise HarnessError(f"unknown import format {name!r}", hint=f"use one of {', '.join(READERS)}")
    try:
        found = READERS[name](source)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise HarnessError(
            f"{source} does not look like {name} ({type(exc).__name__}: {exc})", hint="check --format"
        ) from exc
    store = open_store(store_url)
    written = write_battles(store, found.battles)
    write_judgments(store, found.judgments)
    judges = sorted({b.judge or "" for b in found.battles} | {j.judge for j in found.judgments})
    return ImportOutcome(
        name, str(source), len(found.battles), written, len(found.judgments), found.dropped, judges
    )
