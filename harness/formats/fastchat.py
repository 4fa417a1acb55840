"""FastChat judgment files: `model_judgment/*_pair.jsonl`, `*_single.jsonl` and MT-bench vote files.

Judges are named as FastChat's `judge` field says (["gpt-4", "pair-v2"] -> gpt-4; expert_N -> human,
author_N -> author), the question set by the bench folder (data/<bench>/model_judgment/). Rows FastChat
marks as errors (winner "error", score -1) are dropped, as FastChat drops them. Pure: file in, records out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.formats.rows import Imported, RowError, RowLog, file_digest, json_lines, json_rows, row_key
from harness.records import WINNERS, Battle, Judgment

_SIDE = {"model_1": "model_a", "model_2": "model_b"}


def fastchat_winner(g1: str, g2: str) -> str:
    """Combine the two orders' winners (in model_a/model_b terms): agreement stands, anything else is a tie."""
    return g1 if g1 == g2 else "tie"


def judge_name(judge: Any) -> str:
    """FastChat's judge field as a name: ["gpt-4", "pair-v2"] -> gpt-4; expert_12 -> human; author_3 -> author."""
    if isinstance(judge, list | tuple):
        return str(judge[0])
    text = str(judge)
    return "human" if text.startswith("expert") else "author" if text.startswith("author") else text


def is_fastchat_judge(judge: Any) -> bool:
    """Whether a `judge` field is FastChat's: [judge, prompt] or an MT-bench expert_N / author_N."""
    return isinstance(judge, list) or str(judge).startswith(("expert_", "author_"))


def bench_name(path: Path) -> str:
    """The question set of a FastChat file: data/<bench>/model_judgment/<judge>_pair.jsonl -> bench."""
    return path.parent.parent.name if path.parent.name == "model_judgment" else path.stem


def read_fastchat_pair(path: Path, skip_bad: bool = False) -> Imported:
    """FastChat `*_pair.jsonl`: g1 (model_1 shown first) and g2 (model_2 first) combined by FastChat's rule."""
    log, digest = RowLog("fastchat-pair", path, skip_bad), file_digest(path)
    for row in json_lines(path, log):
        with log.row(row.where):
            r = row.value
            g1, g2 = (_SIDE.get(r[k], r[k]) for k in ("g1_winner", "g2_winner"))
            if "error" in (g1, g2):
                log.dropped += 1
                continue
            prompt = r["judge"][1] if isinstance(r["judge"], list) else None
            log.battles.append(Battle(
                model_a=r["model_1"], model_b=r["model_2"], winner=fastchat_winner(g1, g2), source=log.source,
                question_set=bench_name(path), question_id=str(r["question_id"]), turn=int(r.get("turn", 1)),
                judge=judge_name(r["judge"]), battle_key=row_key(log.fmt, digest, row.number),
                extra={"g1": g1, "g2": g2, "prompt": prompt}))
    return log.result()


def read_fastchat_votes(path: Path, skip_bad: bool = False) -> Imported:
    """FastChat vote rows {question_id, model_a, model_b, winner, judge, turn} (e.g. MT-bench human
    judgments), as a JSON list or JSONL."""
    log, digest = RowLog("fastchat-votes", path, skip_bad), file_digest(path)
    for row in json_rows(path, log):
        with log.row(row.where):
            r = row.value
            if r["winner"] == "error":
                log.dropped += 1
                continue
            if r["winner"] not in WINNERS:
                raise RowError(f"winner {r['winner']!r} is not one of {', '.join(WINNERS)}")
            log.battles.append(Battle(
                model_a=r["model_a"], model_b=r["model_b"], winner=r["winner"], source=log.source,
                question_set=bench_name(path), question_id=str(r["question_id"]), turn=int(r.get("turn", 1)),
                judge=judge_name(r["judge"]), battle_key=row_key(log.fmt, digest, row.number)))
    return log.result()


def read_fastchat_single(path: Path, skip_bad: bool = False) -> Imported:
    """FastChat `*_single.jsonl` {question_id, model, score, judge, turn}; score -1 is FastChat's error,
    kept as an error grade."""
    log, digest = RowLog("fastchat-single", path, skip_bad), file_digest(path)
    for row in json_lines(path, log):
        with log.row(row.where):
            r = row.value
            score = float(r["score"])
            ok = score >= 0
            log.dropped += not ok
            log.judgments.append(Judgment(
                cache_key=row_key(log.fmt, digest, row.number), judge=judge_name(r["judge"]),
                prompt_name=r["judge"][1] if isinstance(r["judge"], list) else "imported",
                prompt_hash="imported", mode="single", question_set=bench_name(path),
                question_id=str(r["question_id"]), turn=int(r.get("turn", 1)), model_a=r["model"],
                model_b=None, answer_order="a", status="ok" if ok else "error", score=score if ok else None,
                raw_output=r.get("judgment"), error=None if ok else "judge gave no rating (score -1)",
                attempts=0))
    return log.result()
