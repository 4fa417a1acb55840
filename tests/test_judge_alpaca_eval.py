"""AlpacaEval's columns and length-controlled win rate (harness.judge.alpaca_eval), on small data written here
and, where ../shared/data is present, on the published annotations beside the published leaderboards."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError
from harness.judge.alpaca_eval import alpaca_eval_rows, head_to_head, length_controlled
from harness.records import Battle

runner = CliRunner()


def test_head_to_head_follows_alpaca_eval_definitions() -> None:
    prefs = [1.0, 2.0, 0.0, 1.5, 1.8, 1.2, 2.0]
    out = head_to_head(prefs)
    p = [(1.5 if x == 0 else x) - 1 for x in prefs]
    assert out["win_rate"] == pytest.approx(100 * sum(p) / len(p))
    assert out["standard_error"] == pytest.approx(100 * statistics.stdev(p) / math.sqrt(len(p)))
    assert (out["n_wins"], out["n_wins_base"], out["n_draws"], out["n_total"]) == (3, 2, 2, 7)
    # discrete: 1.8 -> 2, 1.2 -> 1, draws stay draws
    discrete = [0, 1, 0.5, 0.5, 1, 0, 1]
    assert out["discrete_win_rate"] == pytest.approx(100 * sum(discrete) / len(discrete))


def test_head_to_head_rejects_values_outside_the_scale() -> None:
    with pytest.raises(HarnessError, match="outside"):
        head_to_head([1.0, 2.5])


def test_baseline_on_either_side_gives_the_same_row() -> None:
    rows = [Battle(model_a="base", model_b="m", winner="model_b", judge="j",
                   extra={"preference": 1.75, "len_1": 10, "len_2": 30, "index": 0}),
            Battle(model_a="m", model_b="base", winner="model_b", judge="j",
                   extra={"preference": 1.75, "len_1": 20, "len_2": 10, "index": 1}),
            Battle(model_a="base", model_b="m", winner="tie", judge="j", extra={})]
    (row,) = alpaca_eval_rows(rows, "base")
    # 0.75, then mirrored 3 - 1.75 = 1.25 -> 0.25, then a discrete tie 0.5
    assert row.win_rate == pytest.approx(100 * (0.75 + 0.25 + 0.5) / 3)
    assert row.avg_length is None and row.length_controlled_winrate is None  # one battle has no lengths


def test_length_control_with_no_length_effect_is_the_mean_preference() -> None:
    # equal lengths: tanh(0) = 0 everywhere, so the GLM is the model term alone and predicts the mean
    prefs = [2.0] * 30 + [1.0] * 10
    lc, se = length_controlled(prefs, [100] * 40, [100] * 40)
    assert lc == pytest.approx(75.0, abs=0.5)
    assert se == pytest.approx(0.0, abs=1e-9)


def test_length_control_removes_a_length_preference() -> None:
    # longer answers (60) win 2/3 of the time, shorter ones (24) 1/3, by the same length gap: the model term
    # is 0 once length is held equal, so the length-controlled win rate is near 50 while the raw one is not
    prefs = [2.0] * 40 + [1.0] * 20 + [2.0] * 8 + [1.0] * 16
    len_model = [250] * 60 + [50] * 24
    lc, _ = length_controlled(prefs, [150] * 84, len_model)
    raw = 100 * sum(p - 1 for p in prefs) / len(prefs)
    assert raw == pytest.approx(100 * 48 / 84)
    assert lc == pytest.approx(50.0, abs=1.0)


def test_difficulty_file_switches_the_glm_and_is_stated(tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "output_1": "x" * (10 + i), "output_2": "y" * (20 + 2 * i),
             "generator_1": "base", "generator_2": "m", "annotator": "j", "preference": 1.0 + (i % 3) / 2}
            for i in range(20)]
    (tmp_path / "annotations.json").write_text(json.dumps(rows))
    with (tmp_path / "difficulty.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "instruction_difficulty"])
        writer.writerows([[i, (i % 5) / 5] for i in range(20)])
    assert runner.invoke(app, ["judge", "import", str(tmp_path / "annotations.json")]).exit_code == 0
    plain = json.loads(runner.invoke(app, ["judge", "results", "--mode", "alpaca-eval", "--json"]).stdout)
    assert "length_controlled_minimal" in plain["length_control"]
    (row,) = plain["judges"][0]["results"]
    assert row["baseline"] == "base" and row["lc_glm"] == "length_controlled_minimal"
    assert row["avg_length"] == int(sum(20 + 2 * i for i in range(20)) / 20)
    res = runner.invoke(app, ["judge", "results", "--mode", "alpaca-eval", "--json",
                              "--instruction-difficulty", str(tmp_path / "difficulty.csv")])
    assert json.loads(res.stdout)["judges"][0]["results"][0]["lc_glm"] == "length_controlled_noreg"


def test_two_models_with_one_annotator_both_land(tmp_path: Path) -> None:
    for model in ("m1", "m2"):
        rows = [{"instruction": f"q{i}", "output_1": "a", "output_2": "b", "generator_1": "base",
                 "generator_2": model, "annotator": "j", "preference": 2.0} for i in range(3)]
        (tmp_path / model).mkdir()
        (tmp_path / model / "annotations.json").write_text(json.dumps(rows))
        res = runner.invoke(app, ["judge", "import", str(tmp_path / model / "annotations.json"), "--json"])
        assert json.loads(res.stdout)["battles_written"] == 3


def _published(path: Path, model: str) -> dict[str, str]:
    with path.open(newline="") as f:
        return next(r for r in csv.DictReader(f) if r[""] == model)


@pytest.mark.parametrize(("model", "annotator", "board"), [
    ("alpaca-7b", "alpaca_eval_gpt4", "data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv"),
    ("vicuna-13b", "alpaca_eval_gpt4", "data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv"),
    ("alpaca-7b", "weighted_alpaca_eval_gpt4_turbo",
     "data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"),
    ("vicuna-7b", "weighted_alpaca_eval_gpt4_turbo",
     "data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"),
])
def test_published_annotations_give_the_published_row(shared_data: Path, model: str, annotator: str,
                                                       board: str) -> None:
    root = shared_data / "alpaca_eval"
    res = runner.invoke(app, ["judge", "import", str(root / "results" / model / annotator / "annotations.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads(runner.invoke(app, ["judge", "results", "--mode", "alpaca-eval", "--json"]).stdout)
    (row,) = doc["judges"][0]["results"]
    published = _published(root / "leaderboards" / board, model)
    for column in ("win_rate", "standard_error", "discrete_win_rate"):
        if published[column]:
            assert row[column] == pytest.approx(float(published[column]), abs=1e-6), column
    for column in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
        assert row[column] == int(published[column]), column


def test_other_judges_in_the_store_are_left_out_unless_named(tmp_path: Path) -> None:
    from harness.store import open_store
    from harness.store.battles import write_battles

    rows = [{"instruction": f"q{i}", "output_1": "a", "output_2": "bb", "generator_1": "base",
             "generator_2": "m", "annotator": "ae", "preference": 2.0} for i in range(3)]
    (tmp_path / "annotations.json").write_text(json.dumps(rows))
    assert runner.invoke(app, ["judge", "import", str(tmp_path / "annotations.json")]).exit_code == 0
    write_battles(open_store(), [Battle(model_a=a, model_b=b, winner="tie", judge="pairwise-judge", battle_key=a)
                                 for a, b in (("x", "y"), ("y", "z"))])
    doc = json.loads(runner.invoke(app, ["judge", "results", "--mode", "alpaca-eval", "--json"]).stdout)
    assert [j["judge"] for j in doc["judges"]] == ["ae"]
    named = runner.invoke(app, ["judge", "results", "--mode", "alpaca-eval", "--judge", "pairwise-judge"])
    assert named.exit_code == 2 and "--baseline" in named.output
