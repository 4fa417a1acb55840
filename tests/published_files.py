"""Small published leaderboard files written by tests, one writer per format (PUBLISHED_FORMATS order)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def llm_leaderboard(root: Path) -> Path:
    """A README with a sparse, linked `## Leaderboard` table: 3 models, 4 of 9 benchmark cells filled."""
    text = """# LLM-Leaderboard

Some prose.

## Leaderboard

| Model Name | Publisher | Open? | Chatbot Arena Elo | MMLU (few-shot) | HellaSwag (zero-shot) |
| ---------- | --------- | ----- | ----------------- | --------------- | --------------------- |
| [vicuna-13b](https://lmsys.org/vicuna) | LMSYS | yes | [1169](https://lmsys.org/blog/arena/) | | |
| [llama-65b](https://arxiv.org/abs/2302.13971) | Meta AI | no | | [0.634](https://arxiv.org/abs/2302.13971) | [0.842](https://arxiv.org/abs/2302.13971) |
| [gpt-4](https://openai.com/gpt-4) | OpenAI | no | | [86.4](https://openai.com/research/gpt-4) | |

## Benchmarks

| Benchmark Name | Author |
| -------------- | ------ |
| MMLU | Hendrycks |
"""
    path = root / "llm-leaderboard" / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def lmsys_csv(root: Path) -> Path:
    """An LMSYS blog table: MT-bench, Arena Elo (one missing) and MMLU in percent."""
    path = root / "lmsys_blog_2023-06-22_mtbench_arena.csv"
    path.write_text("model,mt_bench_score,arena_elo,mmlu,license\n"
                    "GPT-4,8.99,1227,86.4,Proprietary\nVicuna-13B,6.39,1061,52.1,Non-commercial\n"
                    "Vicuna-33B,7.12,,59.2,Non-commercial\n")
    return path


def alpaca_eval_csv(root: Path) -> Path:
    """An AlpacaEval 2.0 leaderboard: two models, one without a length-controlled win rate."""
    path = root / "data_AlpacaEval_2" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(",win_rate,standard_error,n_wins,n_wins_base,n_draws,n_total,discrete_win_rate,mode,"
                    "avg_length,length_controlled_winrate,lc_standard_error\n"
                    "vicuna-13b,5.83,0.71,46,758,1,805,5.8,verified,1037,10.48,0.12\n"
                    "alpaca-7b,2.59,0.47,19,786,0,805,2.36,minimal,396,,\n")
    return path


def lm_eval_results(root: Path) -> Path:
    """An lm-eval 0.4 results file: a group (mmlu) with two subtasks, and a task with acc then acc_norm."""
    doc = {
        "results": {
            "mmlu": {"acc,none": 0.46, "acc_stderr,none": 0.004, "alias": "mmlu"},
            "mmlu_anatomy": {"acc,none": 0.40, "acc_stderr,none": 0.04, "alias": " - anatomy"},
            "mmlu_virology": {"acc,none": 0.52, "acc_stderr,none": 0.04, "alias": " - virology"},
            "hellaswag": {"alias": "hellaswag", "acc,none": 0.57, "acc_stderr,none": 0.005,
                          "acc_norm,none": 0.76, "acc_norm_stderr,none": 0.004},
        },
        "group_subtasks": {"mmlu": ["mmlu_anatomy", "mmlu_virology"], "hellaswag": []},
        "config": {"model": "hf", "model_args": "pretrained=/home/someone/ckpt/vicuna-7b-v1.5,dtype=float16"},
        "date": 1700000000.0,
    }
    path = root / "results_2023-11-14T22-13-20.json"
    path.write_text(json.dumps(doc))
    return path


def open_llm_results(root: Path) -> Path:
    """An Open LLM Leaderboard v1 results file (`harness|task|shots` keys, 2 MMLU subjects)."""
    doc = {
        "config_general": {"model_name": "lmsys/vicuna-13b-v1.3"},
        "results": {
            "harness|arc:challenge|25": {"acc": 0.50, "acc_stderr": 0.01, "acc_norm": 0.54, "acc_norm_stderr": 0.01},
            "harness|hellaswag|10": {"acc": 0.60, "acc_norm": 0.80},
            "harness|hendrycksTest-anatomy|5": {"acc": 0.40},
            "harness|hendrycksTest-virology|5": {"acc": 0.50},
            "harness|truthfulqa:mc|0": {"mc1": 0.35, "mc2": 0.50},
            "all": {"acc": 0.55},
        },
    }
    path = root / "open_llm" / "results_2023-07-18.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "llm-leaderboard": llm_leaderboard,
    "lmsys-csv": lmsys_csv,
    "alpaca-eval-csv": alpaca_eval_csv,
    "lm-eval-results": lm_eval_results,
}
