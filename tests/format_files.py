"""Small files in each published format, written by tests (one writer per format, in FORMATS order)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def clean_battle(root: Path) -> Path:
    rows = [{"model_a": "x", "model_b": "y", "winner": "model_a", "question_id": 1, "category": "code"},
            {"model_a": "y", "model_b": "z", "winner": "tie (bothbad)"},
            {"model_a": "z", "model_b": "x", "winner": "model_b", "tstamp": 1.5}]
    return _jsonl(root / "battles.jsonl", rows)


def fastchat_pair(root: Path) -> Path:
    def row(qid: int, g1: str, g2: str, turn: int = 1) -> dict[str, Any]:
        return {"question_id": qid, "model_1": "a", "model_2": "b", "g1_winner": g1, "g2_winner": g2,
                "judge": ["gpt-4", "pair-v2"], "turn": turn}
    rows = [row(81, "model_1", "model_1"), row(82, "model_1", "model_2"), row(83, "error", "model_2"),
            row(81, "model_2", "model_2", 2)]
    return _jsonl(root / "mt_bench" / "model_judgment" / "gpt-4_pair.jsonl", rows)


def fastchat_votes(root: Path) -> Path:
    rows = [{"question_id": 1, "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "expert_1", "turn": 1},
            {"question_id": 1, "model_a": "y", "model_b": "x", "winner": "error", "judge": "expert_2", "turn": 1},
            {"question_id": 2, "model_a": "x", "model_b": "y", "winner": "tie", "judge": ["gpt-4", "pair"], "turn": 1}]
    path = root / "votes.json"
    path.write_text(json.dumps(rows))
    return path


def vicuna_eval(root: Path) -> Path:
    """A fastchat_eval folder: answers of three models, two review folders naming llama two ways."""
    folder = root / "fastchat_eval"
    ids = {("llama-13b:v1", 1): "L1", ("llama-13b:v1", 2): "L2", ("vicuna-13b:clean", 1): "V1",
           ("vicuna-13b:clean", 2): "V2", ("vicuna-7b:fp16", 1): "S1", ("vicuna-7b:fp16", 2): "S2"}
    for model in ("llama-13b:v1", "vicuna-13b:clean", "vicuna-7b:fp16"):
        _jsonl(folder / "answer" / f"answer_{model.split(':')[0]}.jsonl",
               [{"answer_id": ids[(model, q)], "question_id": q, "model_id": model, "text": f"# {model}\n- {q}"}
                for q in (1, 2)])
    _jsonl(folder / "review" / "vicuna-13b_clean" / "review_llama-13b_vicuna-13b.jsonl",
           [{"question_id": 1, "answer1_id": "L1", "answer2_id": "V1", "score": [6, 9]},
            {"question_id": 2, "answer1_id": "L2", "answer2_id": "V2", "score": [7, 7]}])
    _jsonl(folder / "review" / "vicuna-7b_fp16" / "review_llama_vicuna-7b.jsonl",
           [{"question_id": 1, "answer1_id": "L1", "answer2_id": "S1", "score": [8, 5]},
            {"question_id": 2, "answer1_id": "L2", "answer2_id": "S2", "score": [-1, -1]}])
    return folder


def prd(root: Path) -> Path:
    """A ratings-gpt4/ folder: one pair in both orders (combined) plus a lone order."""
    folder = root / "ratings-gpt4"
    name = "answer_{}-vs-answer_{}-gpt4-reviewer_threeclass.jsonl"
    _jsonl(folder / name.format("bard", "claude"), [{"question_id": 1, "score": 1}, {"question_id": 2, "score": 3}])
    _jsonl(folder / name.format("claude", "bard"), [{"question_id": 1, "score": 2}, {"question_id": 2, "score": 1}])
    _jsonl(folder / name.format("gpt4", "bard"), [{"question_id": 1, "score": 2}])
    return folder


def prd_human(root: Path) -> Path:
    folder = root / "ratings-human"
    name = "answer_{}-vs-answer_{}-human-reviewer_threeclass.jsonl"
    _jsonl(folder / name.format("bard", "claude"), [{"question_id": 1, "score": 1}, {"question_id": 1, "score": 2}])
    _jsonl(folder / name.format("claude", "bard"), [{"question_id": 1, "score": 3}])
    return folder


def alpaca_eval(root: Path) -> Path:
    rows = [{"instruction": f"q{k}", "output_1": "base **answer**", "output_2": "new answer " * k,
             "generator_1": "text_davinci_003", "generator_2": "alpaca-7b", "annotator": "alpaca_eval_gpt4",
             "preference": p, "dataset": "helpful_base"} for k, p in enumerate([1, 2, 1.5, None, 1.9])]
    path = root / "alpaca_eval_gpt4" / "annotations.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rows))
    return path


def llmfao(root: Path) -> Path:
    path = root / "llmfao" / "crowd-comparisons.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,prompt,model_x,model_y,worker,winner,left,right\n"
                    "0,8,97,98,58,left,A,B\n0,8,97,98,14,tie,A,B\n1,9,98,97,3,right,B,A\n")
    _jsonl(path.parent / "pairs-crowd.jsonl", [{"id": 0, "result_x": "# Head\nlong answer here", "result_y": "short"}])
    return path


# format name -> writer of a small file in it that has battles
WRITERS: dict[str, Callable[[Path], Path]] = {
    "clean-battle": clean_battle,
    "fastchat-pair": fastchat_pair,
    "fastchat-votes": fastchat_votes,
    "vicuna-review": vicuna_eval,
    "prd": prd,
    "alpaca-eval": alpaca_eval,
    "llmfao": llmfao,
}
