"""arena-hard-auto judgments: `model_judgment/<judge>/<model>.jsonl`, rows {question_id, model, judge, games}.

Each row has two games: the baseline shown as assistant A (game 1), then as B (game 2); each game's
`score` is one of the five labels (`A>>B` ... `B>>A`) or null. Every game with a label becomes one battle,
baseline as model_a, winner read from the label (swapped for game 2), `extra` keeping `label`, `game` and
`weight` (3 for a strong verdict: `harness.judge.arena_hard` counts it as three games, as show_result
does). A game without a usable label is dropped (show_result gives it weight 0). The baseline is not in
the file: arena-hard's default, `gpt-4-0314` (config/judge_config.yaml), is used. Style counts come from
arena-hard's own `conv_metadata` in `../../model_answer/<model>.jsonl` when that folder is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats.rows import Imported, RowError, RowLog, file_digest, json_lines, row_key
from harness.judge.arena_hard import STRONG_WEIGHT, game_outcome
from harness.records import Battle

FORMAT = "arena-hard"
DEFAULT_BASELINE = "gpt-4-0314"
_META = {"token_len": "sum_assistant_{}_tokens", "header_count": "header_count_{}", "list_count": "list_count_{}",
         "bold_count": "bold_count_{}"}


def read_arena_hard(path: Path, skip_bad: bool = False) -> Imported:
    """One arena-hard judgment file (see the module docstring)."""
    log, digest = RowLog(FORMAT, path, skip_bad), file_digest(path)
    metadata = _answer_metadata(path.parent.parent.parent / "model_answer")
    for row in json_lines(path, log):
        with log.row(row.where):
            r = row.value
            games = r["games"]
            if not isinstance(games, list) or len(games) != 2:
                raise RowError("expected two games")
            for number, game in enumerate(games, start=1):
                label = game.get("score")
                outcome = game_outcome(label, number)
                if outcome is None:
                    log.dropped += 1
                    continue
                extra: dict[str, Any] = {"label": label, "game": number, "weight": outcome[1]}
                meta = _pair_metadata(metadata, DEFAULT_BASELINE, str(r["model"]), str(r["question_id"]))
                if meta:
                    extra["conv_metadata"] = meta
                log.battles.append(Battle(
                    model_a=DEFAULT_BASELINE, model_b=str(r["model"]), winner=outcome[0], source=log.source,
                    question_set="arena-hard", question_id=str(r["question_id"]), turn=1,
                    judge=str(r["judge"]), battle_key=row_key(FORMAT, digest, row.number, number), extra=extra))
    return log.result()


def _answer_metadata(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, question id) -> arena-hard's conv_metadata, from its model_answer files (empty without them)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for row in json_lines(path):
            value = row.value
            if isinstance(value, dict) and isinstance(value.get("conv_metadata"), dict):
                found[(str(value.get("model_id")), str(value.get("question_id")))] = value["conv_metadata"]
    return found


def _pair_metadata(metadata: dict[tuple[str, str], dict[str, Any]], a: str, b: str, qid: str) -> dict[str, int]:
    if (a, qid) not in metadata or (b, qid) not in metadata:
        return {}
    return {key.format(side): int(metadata[(model, qid)][name]) for side, model in (("a", a), ("b", b))
            for name, key in _META.items() if name in metadata[(model, qid)]}


__all__ = ["DEFAULT_BASELINE", "STRONG_WEIGHT", "read_arena_hard"]
