"""MT-bench on the leaderboard and in `judge results --mode single`: FastChat's score (mean of every graded
turn) per judge, per turn and per question category."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.judge.results import single_results
from harness.records import Judgment
from leaderboard_app.board import Board
from leaderboard_app.mt_bench import mt_bench_column_names, mt_bench_columns, with_mt_bench

runner = CliRunner()


def _grade(model: str, qid: str, turn: int, score: float, judge: str = "gpt-4") -> Judgment:
    return Judgment(cache_key=f"{judge}{model}{qid}{turn}", judge=judge, prompt_name="single-v1", prompt_hash="h",
                    mode="single", question_set="general", question_id=qid, turn=turn, model_a=model,
                    model_b=None, answer_order="a", status="ok", score=score)


def test_single_results_per_category() -> None:
    grades = [_grade("m", "q1", 1, 8), _grade("m", "q1", 2, 6), _grade("m", "q2", 1, 3)]
    (row,) = single_results(grades, None, {("general", "q1"): "writing", ("general", "q2"): "math"})
    assert row.turns == {1: 5.5, 2: 6.0}
    assert row.score == pytest.approx(17 / 3)
    assert row.categories == {"math": 3.0, "writing": 7.0}


def test_board_gets_one_mt_bench_column_per_judge() -> None:
    grades = [_grade("m", "q1", 1, 8), _grade("m", "q1", 2, 6), _grade("n", "q1", 1, 2),
              _grade("m", "q1", 1, 10, judge="claude")]
    names = pd.Series(["m", "n", "unjudged"], index=[1, 2, 3])
    columns = mt_bench_columns(grades, names)
    assert columns.loc[1, "MT-bench (gpt-4)"] == pytest.approx(7.0)
    assert columns.loc[2, "MT-bench (gpt-4)"] == pytest.approx(2.0)
    assert columns.loc[1, "MT-bench (claude)"] == pytest.approx(10.0)
    assert pd.isna(columns.loc[3, "MT-bench (gpt-4)"])
    frame = pd.DataFrame({"model_id": [1, 2, 3], "model": ["m", "n", "unjudged"]})
    board = with_mt_bench(Board(frame, [], {}, {}), columns)
    assert mt_bench_column_names(board.frame) == ["MT-bench (claude)", "MT-bench (gpt-4)"]
    assert board.frame.set_index("model")["MT-bench (gpt-4)"]["n"] == pytest.approx(2.0)


def test_imported_single_judgments_print_the_score_table(tmp_path: Path) -> None:
    rows = [{"question_id": 81, "model": "vicuna-13b", "judge": ["gpt-4", "single-v1"], "score": 8.0, "turn": 1},
            {"question_id": 81, "model": "vicuna-13b", "judge": ["gpt-4", "single-v1-multi-turn"], "score": 6.0,
             "turn": 2},
            {"question_id": 82, "model": "llama-13b", "judge": ["gpt-4", "single-v1"], "score": -1, "turn": 1}]
    path = tmp_path / "gpt-4_single.jsonl"
    path.write_text("\n".join(json.dumps(r | {"user_prompt": "", "judgment": "", "tstamp": 0}) for r in rows))
    assert runner.invoke(app, ["judge", "import", str(path)]).exit_code == 0
    doc = json.loads(runner.invoke(app, ["judge", "results", "--mode", "single", "--json"]).stdout)
    (entry,) = doc["judges"]
    assert entry["judge"] == "gpt-4"
    assert [(r["model"], r["turns"], r["score"]) for r in entry["results"]] == [
        ("vicuna-13b", {"1": 8.0, "2": 6.0}, 7.0)]
    table = runner.invoke(app, ["judge", "results", "--mode", "single"])
    assert "turn 2" in table.stdout and "vicuna-13b" in table.stdout
