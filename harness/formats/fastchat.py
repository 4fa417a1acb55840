"""Readers of published judgment formats: each turns one file (or folder) into battles and grades.

FastChat `model_judgment/*_pair.jsonl` and `*_single.jsonl`, FastChat/MT-bench human vote files, the
March-2023 Vicuna-80 reviews, PRD's two-order `ratings-*/` files, AlpacaEval `annotations.json` and LLMFAO
comparison CSVs. Readers are pure (file in, records out); `judge_import` picks one and writes the records.
Every row gets a deterministic battle key, so importing a file twice adds nothing.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.fingerprint import content_hash
from harness.formats.questions import read_jsonl
from harness.judge.results import fastchat_winner
from harness.judge.run import style_features
from harness.records import Battle, Judgment

PRD_NAME = re.compile(
    r"^answer[_-](?P<a>.+?)-vs-answer[_-](?P<b>.+?)-(?P<judge>[^-]+)-reviewer[_-]threeclass$"
)
_PRD_VERDICT = {1: "model_a", 2: "model_b", 3: "tie"}


@dataclass
class Imported:
    """What one import produced."""

    format: str
    path: str
    battles: list[Battle] = field(default_factory=list)
    judgments: list[Judgment] = field(default_factory=list)
    dropped: int = 0  # rows with an error verdict (FastChat drops them too) or no usable preference


def _judge_name(judge: Any) -> str:
    """FastChat's judge field as a name: ["gpt-4", "pair-v2"] -> gpt-4; expert_12 -> human; author_3 -> author."""
    if isinstance(judge, list | tuple):
        return str(judge[0])
    text = str(judge)
    return "human" if text.startswith("expert") else "author" if text.startswith("author") else text


def _bench_name(path: Path) -> str:
    # FastChat layout: data/<bench>/model_judgment/<judge>_pair.jsonl
    return path.parent.parent.name if path.parent.name == "model_judgment" else path.stem


def _key(fmt: str, path: Path, *parts: Any) -> str:
    return content_hash({"import": fmt, "file": path.name, "row": list(parts)})


def read_fastchat_pair(path: Path) -> Imported:
    """FastChat `*_pair.jsonl`: g1 (model_1 shown first) and g2 (model_2 first) combined by FastChat's rule."""
    out = Imported("fastchat-pair", str(path))
    side = {"model_1": "model_a", "model_2": "model_b"}
    for row in read_jsonl(path):
        g1, g2 = (side.get(row[k], row[k]) for k in ("g1_winner", "g2_winner"))
        if "error" in (g1, g2):
            out.dropped += 1
            continue
        judge = _judge_name(row["judge"])
        prompt = row["judge"][1] if isinstance(row["judge"], list) else None
        out.battles.append(
            Battle(
                model_a=row["model_1"],
                model_b=row["model_2"],
                winner=fastchat_winner(g1, g2),
                source=f"import:{path.name}",
                question_set=_bench_name(path),
                question_id=str(row["question_id"]),
                turn=int(row.get("turn", 1)),
                category=None,
                judge=judge,
                battle_key=_key(
                    "fastchat-pair",
                    path,
                    judge,
                    prompt,
                    row["question_id"],
                    row["model_1"],
                    row["model_2"],
                    row.get("turn"),
                ),
                extra={"g1": g1, "g2": g2, "prompt": prompt},
            )
        )
    return out


def read_fastchat_votes(path: Path) -> Imported:
    """FastChat vote rows {question_id, model_a, model_b, winner, judge, turn} (e.g. MT-bench human judgments)."""
    rows = json.loads(path.read_text()) if path.suffix == ".json" else read_jsonl(path)
    out = Imported("fastchat-votes", str(path))
    for i, row in enumerate(rows):
        if row["winner"] == "error":
            out.dropped += 1
            continue
        judge = _judge_name(row["judge"])
        out.battles.append(
            Battle(
                model_a=row["model_a"],
                model_b=row["model_b"],
                winner=row["winner"],
                source=f"import:{path.name}",
                question_set=_bench_name(path),
                question_id=str(row["question_id"]),
                turn=int(row.get("turn", 1)),
                category=None,
                judge=judge,
                battle_key=_key(
                    "fastchat-votes",
                    path,
                    i,
                    row["question_id"],
                    row["model_a"],
                    row["model_b"],
                    row["winner"],
                ),
            )
        )
    return out


def read_fastchat_single(path: Path) -> Imported:
    """FastChat `*_single.jsonl` {question_id, model, score, judge, turn}; score -1 is FastChat's error."""
    out = Imported("fastchat-single", str(path))
    for row in read_jsonl(path):
        judge = _judge_name(row["judge"])
        prompt = row["judge"][1] if isinstance(row["judge"], list) else "imported"
        score = float(row["score"])
        ok = score >= 0
        out.dropped += not ok
        out.judgments.append(
            Judgment(
                cache_key=_key(
                    "fastchat-single", path, judge, prompt, row["question_id"], row["model"], row.get("turn")
                ),
                judge=judge,
                prompt_name=prompt,
                prompt_hash="imported",
                mode="single",
                question_set=_bench_name(path),
                question_id=str(row["question_id"]),
                turn=int(row.get("turn", 1)),
                model_a=row["model"],
                model_b=None,
                answer_order="a",
                status="ok" if ok else "error",
                score=score if ok else None,
                raw_output=row.get("judgment"),
                error=None if ok else "judge gave no rating (score -1)",
                attempts=0,
            )
        )
    return out


def read_vicuna_review(path: Path) -> Imported:
    """A Vicuna-80 `review_<A>_<B>.jsonl` (one order: A is assistant 1), `score` = [s1, s2]."""
    model_a, _, model_b = path.stem.removeprefix("review_").partition("_")
    out = Imported("vicuna-review", str(path))
    for row in read_jsonl(path):
        s1, s2 = (float(s) for s in row["score"])
        if s1 < 0 or s2 < 0:
            out.dropped += 1
            continue
        g1 = "tie" if s1 == s2 else "model_a" if s1 > s2 else "model_b"
        out.battles.append(
            Battle(
                model_a=model_a,
                model_b=model_b,
                winner=g1,
                source=f"import:{path.name}",
                question_set="vicuna80",
                question_id=str(row["question_id"]),
                turn=1,
                category=None,
                judge="gpt-4",
                battle_key=_key("vicuna-review", path, row["question_id"]),
                extra={"g1": g1, "score_a": s1, "score_b": s2},
            )
        )
    return out


def _prd_files(path: Path) -> dict[tuple[str, str, str], Path]:
    files: dict[tuple[str, str, str], Path] = {}
    # underscore-named files first: PRD's hyphen-named gpt35 files are a second run of the same inputs
    for f in sorted(
        path.glob("*.jsonl") if path.is_dir() else [path],
        key=lambda p: (not p.name.startswith("answer_"), p.name),
    ):
        m = PRD_NAME.match(f.stem)
        if m is None:
            raise HarnessError(
                f"{f.name} is not a PRD ratings file",
                hint="expected answer_A-vs-answer_B-JUDGE-reviewer_threeclass.jsonl",
            )
        files.setdefault((m["a"], m["b"], m["judge"]), f)
    return files


def _prd_votes(f: Path) -> dict[str, list[str]]:
    votes: dict[str, list[str]] = {}
    for row in read_jsonl(f):
        votes.setdefault(str(row["question_id"]), []).append(_PRD_VERDICT.get(int(row["score"]), "error"))
    return votes


def _swap(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def _prd_games(judge: str, votes: list[str], reverse: list[str] | None) -> list[tuple[str, str | None]]:
    """(g1, g2) per battle: each human row is its own vote; an LLM's verdict pairs with its other order's."""
    if judge == "human":
        return [(v, None) for v in votes]
    return [(votes[0], _swap(reverse[0]) if reverse else None)]


def read_prd(path: Path) -> Imported:
    """PRD `ratings-<judge>/` files: human rows are votes; an LLM's two orders of a pair combine into one battle."""
    out = Imported("prd", str(path))
    files = _prd_files(path)
    for (a, b, judge), f in sorted(files.items()):
        reverse_file = files.get((b, a, judge))
        if judge != "human" and reverse_file is not None and a > b:
            continue  # the pair is read from its other order
        reverse = _prd_votes(reverse_file) if reverse_file is not None and judge != "human" else {}
        for qid, votes in _prd_votes(f).items():
            for i, (g1, g2) in enumerate(_prd_games(judge, votes, reverse.get(qid))):
                if "error" in (g1, g2):
                    out.dropped += 1
                    continue
                winner = fastchat_winner(g1, g2) if g2 else g1
                extra = {"g1": g1, "g2": g2} if g2 else {"g1": g1}
                key = _key("prd", f, qid, i, judge)
                out.battles.append(
                    Battle(
                        model_a=a,
                        model_b=b,
                        winner=winner,
                        source=f"import:prd/{f.parent.name}",
                        question_set="vicuna80",
                        question_id=qid,
                        turn=1,
                        category=None,
                        judge=judge,
                        battle_key=key,
                        extra=extra,
                    )
                )
    return out


def _preference_winner(value: Any) -> str | None:
    """AlpacaEval preference: 1 = output_1 better, 2 = output_2 better, 0 or 1.5 = draw; in between (weighted
    judges) the nearer side wins. None for a missing preference."""
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(p):
        return None
    if p == 0 or p == 1.5:
        return "tie"
    return "model_a" if p < 1.5 else "model_b"


def read_alpaca_eval(path: Path) -> Imported:
    """AlpacaEval `annotations.json`: generator_1 (the baseline) vs generator_2, judged by `annotator`."""
    out = Imported("alpaca-eval", str(path))
    for i, row in enumerate(json.loads(path.read_text())):
        winner = _preference_winner(row.get("preference"))
        if winner is None:
            out.dropped += 1
            continue
        (len_a, md_a), (len_b, md_b) = (
            style_features(row["output_1"] or ""),
            style_features(row["output_2"] or ""),
        )
        qid = content_hash(row["instruction"]).split(":")[1][:16]
        out.battles.append(
            Battle(
                model_a=row["generator_1"],
                model_b=row["generator_2"],
                winner=winner,
                source=f"import:{path.parent.name}/{path.name}",
                question_set="alpaca_eval",
                question_id=qid,
                turn=1,
                category=row.get("dataset"),
                judge=str(row["annotator"]),
                battle_key=_key("alpaca-eval", path, i, row["annotator"], qid),
                extra={
                    "len_a": len_a,
                    "len_b": len_b,
                    "md_a": md_a,
                    "md_b": md_b,
                    "preference": float(row["preference"]),
                },
            )
        )
    return out


def read_llmfao(path: Path) -> Imported:
    """LLMFAO comparison CSV (id, prompt, model_x, model_y, [worker,] winner left|right|tie, left, right)."""
    out = Imported("llmfao", str(path))
    judge = "crowd" if path.stem.startswith("crowd") else path.stem.split("-")[0]
    with path.open(newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            winner = {"left": "model_a", "right": "model_b", "tie": "tie"}.get(row["winner"])
            if winner is None:
                out.dropped += 1
                continue
            out.battles.append(
                Battle(
                    model_a=row["left"],
                    model_b=row["right"],
                    winner=winner,
                    source=f"import:{path.name}",
                    question_set="llmfao",
                    question_id=str(row["prompt"]),
                    turn=1,
                    category=None,
                    judge=judge,
                    battle_key=_key("llmfao", path, i, row["id"], row.get("worker")),
                    extra={"pair_id": row["id"]},
                )
            )
    return out
