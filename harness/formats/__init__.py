"""Readers of published files, one module per format, and the one entry point every command reads through.

`read_file(path, fmt=None, skip_bad=False)` detects the format (or takes `fmt`, a `FORMATS` name) and
returns an `Imported`: battles (and grades) in a deterministic order (sorted paths, file row order), each
battle keyed by its file's digest and its row, so `harness judge import` and `harness arena --battles`
read the same file into the same records and storing them twice adds nothing.
Question files (MT-bench, Vicuna-80, Arena-Hard) are read by `harness.formats.questions`; published
leaderboards' numbers (not battles) by `harness.formats.published`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.formats import alpaca_eval, arena_hard, clean_battle, fastchat, llmfao, prd, vicuna80
from harness.formats.rows import Imported, first_row

__all__ = ["FORMATS", "Imported", "detect_format", "read_file"]

Reader = Callable[[Path, bool], Imported]

FORMATS: dict[str, Reader] = {
    "clean-battle": clean_battle.read_clean_battles,
    "fastchat-pair": fastchat.read_fastchat_pair,
    "fastchat-single": fastchat.read_fastchat_single,
    "fastchat-votes": fastchat.read_fastchat_votes,
    "vicuna-review": vicuna80.read_vicuna_reviews,
    "prd": prd.read_prd,
    "alpaca-eval": alpaca_eval.read_alpaca_eval,
    "llmfao": llmfao.read_llmfao,
    "arena-hard": arena_hard.read_arena_hard,
}
_HINT = f"pass --format ({', '.join(FORMATS)})"


def detect_format(path: Path) -> str:
    """The FORMATS name of a file or folder, from its layout, name and first row.

    Raises:
        HarnessError: nothing known looks like it.
    """
    if path.is_dir():
        if vicuna80.is_review_folder(path):
            return "vicuna-review"
        if prd.is_prd_folder(path):
            return "prd"
        raise HarnessError(f"{path} is a folder but not a PRD ratings-<reviewer>/ or a Vicuna-80 fastchat_eval "
                           "folder", hint="pass a judgment or battle file")
    if prd.is_prd_file(path):
        return "prd"
    if path.suffix == ".csv":
        return "llmfao"
    row = first_row(path)
    keys = set(row) if isinstance(row, dict) else set()
    checks = {
        "fastchat-pair": "g1_winner" in keys,
        "arena-hard": {"games", "model", "question_id"} <= keys,
        "fastchat-single": {"score", "model"} <= keys,
        "vicuna-review": {"answer1_id", "score"} <= keys,
        "alpaca-eval": "preference" in keys,
        "fastchat-votes": {"model_a", "winner"} <= keys and fastchat.is_fastchat_judge(row.get("judge", "")),
        "clean-battle": bool(keys & {"model_a", "model_b", "winner"}),
    }
    for name, hit in checks.items():
        if hit:
            return name
    raise HarnessError(f"cannot tell the format of {path}", hint=_HINT)


def read_file(path: str | Path, fmt: str | None = None, skip_bad: bool = False) -> Imported:
    """Read a published file or folder into records (see the module docstring).

    Raises:
        HarnessError: a missing path, an unknown or undetectable format, or a malformed row (unless
            `skip_bad`, which skips and counts it).
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise HarnessError(f"no file {source}", hint="pass a battle or judgment file, or a ratings folder")
    name = fmt or detect_format(source)
    if name not in FORMATS:
        raise HarnessError(f"unknown format {name!r}", hint=f"use one of {', '.join(FORMATS)}")
    return FORMATS[name](source, skip_bad)
