"""The leaderboard's data layer without a UI: store views, the stamp, rank ranges, win rates, paired verdicts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from harness.records import Battle, ModelRecord, SampleRecord, Score, TaskResult
from harness.store import open_store
from harness.store.battles import write_battles
from harness.store.runs import create_run, finish_run, upsert_model
from harness.store.schema import judgments
from harness.store.views import (
    read_battle_counts,
    read_models,
    read_ratings,
    read_scores,
    read_win_counts,
    store_stamp,
)
from leaderboard_app import streamlit_command
from leaderboard_app.board import (
    Filters,
    apply_filters,
    format_ranks,
    model_win_rates,
    pair_win_matrix,
    predicted_win_matrix,
    rank_ranges,
    win_rates,
)
from leaderboard_app.compare import compare_models, judged_winner
from leaderboard_app.data import store_argument


def test_rank_ranges_follow_interval_overlap() -> None:
    mean = np.array([0.92, 0.65, 0.68, 0.25, np.nan])
    low = np.array([0.90, 0.60, 0.66, 0.20, np.nan])
    high = np.array([0.95, 0.70, 0.71, 0.30, np.nan])
    best, worst = rank_ranges(mean, low, high)
    assert format_ranks(best, worst) == ["1", "2–3", "2–3", "4", ""]


def test_rank_ranges_without_intervals_are_plain_ranks() -> None:
    mean = np.array([3.0, 1.0, 2.0])
    best, worst = rank_ranges(mean, np.full(3, np.nan), np.full(3, np.nan))
    assert format_ranks(best, worst) == ["1", "3", "2"]


def _battles() -> list[Battle]:
    return ([Battle(model_a="a", model_b="b", winner="model_a")] * 3 + [Battle(model_a="b", model_b="a", winner="model_a")] + [Battle(model_a="a", model_b="c", winner="tie")] * 2
            + [Battle(model_a="c", model_b="b", winner="tie (bothbad)")] + [Battle(model_a="c", model_b="a", winner="model_b", category="math")])


def test_win_counts_in_sql_match_pandas_on_pair_counts(store_url: str) -> None:
    store = open_store(store_url)
    write_battles(store, _battles())
    sql = model_win_rates(read_win_counts(store))
    pairs = win_rates(read_battle_counts(store))
    pd.testing.assert_frame_equal(sql.sort_index(), pairs.sort_index().astype(float), check_names=False)
    assert sql.loc["a", "battles"] == 7 and sql.loc["a", "wins"] == 4 and sql.loc["a", "ties"] == 2
    assert sql.loc["a", "win_rate"] == pytest.approx(5 / 7)


def test_observed_and_predicted_win_matrices() -> None:
    counts = pd.DataFrame({"model_a": ["a", "b", "a"], "model_b": ["b", "a", "b"], "winner": ["model_a", "model_a", "tie"],
                           "category": [None] * 3, "n": [3, 1, 2]})
    observed = pair_win_matrix(counts, ["a", "b"]).set_index(["model", "opponent"])
    assert observed.loc[("a", "b"), "win_rate"] == pytest.approx(4 / 6)
    assert observed.loc[("b", "a"), "win_rate"] == pytest.approx(2 / 6) and observed.loc[("b", "a"), "n"] == 6
    predicted = predicted_win_matrix(pd.Series([1400.0, 1000.0], index=["a", "b"])).set_index(["model", "opponent"])
    assert predicted.loc[("a", "b"), "win_rate"] == pytest.approx(1 / 1.1)  # 400 points = 10:1 odds


def test_stamp_changes_with_every_kind_of_write(store_url: str) -> None:
    store = open_store(store_url)
    empty = store_stamp(store)
    assert not empty.has("models") and not empty.has("runs")
    model_id = upsert_model(store, ModelRecord(name="m", source="m", fingerprint="f"))
    with_model = store_stamp(store)
    assert with_model != empty and with_model.has("models")
    run_id = create_run(store, model_id, {"tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                          "versions": {}})
    running = store_stamp(store)
    finish_run(store, run_id, "finished")
    assert len({with_model, running, store_stamp(store)}) == 3
    write_battles(store, [Battle(model_a="m", model_b="n", winner="tie")])
    with store.engine.begin() as conn:
        conn.execute(sa.insert(judgments).values(
            cache_key="k", judge="j", prompt_name="p", prompt_hash="h", mode="pairwise", question_set="s",
            question_id="q", turn=1, model_a="m", model_b="n", answer_order="ab", status="error", error="timeout"))
    before = store_stamp(store)
    with store.engine.begin() as conn:  # a resumed judge call rewrites its error row in place
        conn.execute(sa.update(judgments).values(status="ok", verdict="A", error=None))
    assert store_stamp(store) != before


def test_views_of_an_unmigrated_file_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.db"
    sa.create_engine(f"sqlite:///{path}").connect().close()  # an SQLite file with no tables
    store = open_store(str(path), readonly=True)
    assert read_models(store).empty and read_scores(store).empty and read_ratings(store).empty
    assert "name" in read_models(store).columns
    assert not store_stamp(store).has("models")


def test_filters_compose() -> None:
    frame = pd.DataFrame({
        "model": ["Alpaca-7", "vicuna-7", "base"], "base model": ["b", "b", "base"],
        "recipe": ["alpaca", "vicuna", "base"], "kind": ["full", "lora", "base"],
        "params (M)": [7.0, 7.0, np.nan],
        "created": pd.to_datetime(["2026-11-01", "2026-11-05", "2026-11-09"], utc=True)})
    assert list(apply_filters(frame, Filters(search="ALPACA"))["model"]) == ["Alpaca-7"]
    assert list(apply_filters(frame, Filters(kinds=("lora", "base")))["model"]) == ["vicuna-7", "base"]
    # unknown sizes are kept by a size filter; dates are inclusive days
    assert list(apply_filters(frame, Filters(size_m=(1.0, 5.0)))["model"]) == ["base"]
    window = (pd.Timestamp("2026-11-01").date(), pd.Timestamp("2026-11-05").date())
    assert list(apply_filters(frame, Filters(created=window))["model"]) == ["Alpaca-7", "vicuna-7"]


def _result(task: str, metric: str, values: np.ndarray, higher: bool = True, task_hash: str = "h") -> TaskResult:
    samples = [SampleRecord(task=task, doc_id=i, filter="none", doc_hash=f"{task}{i}", prompt_hash=None,
                            target_hash=None, prompt=None, target=None, prediction=None, metrics={metric: float(v)})
               for i, v in enumerate(values)]
    score = Score(task=task, metric=metric, filter="none", value=0.0, stderr=None, n=None, higher_is_better=higher)
    return TaskResult(task=task, task_hash=task_hash, eval_key=task, num_fewshot=0, scores=[score], samples=samples)


def test_compare_models_continuous_metric_direction_holm_and_refusals() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.1, 300)
    better = base + 0.05 + rng.normal(0, 0.01, 300)
    results = [  # (A, B)
        (_result("bleu", "bleu", better), _result("bleu", "bleu", base)),
        (_result("ppl", "word_perplexity", better, False), _result("ppl", "word_perplexity", base, False)),
        (_result("same", "acc", np.array([1.0, 0.0, 1.0])), _result("same", "acc", np.array([1.0, 0.0, 1.0]))),
        (_result("none", "acc", np.array([])), _result("none", "acc", np.array([1.0]))),
        (_result("cfg", "acc", np.ones(3), task_hash="h2"), _result("cfg", "acc", np.ones(3))),
    ]
    comparison = compare_models(results, "A", "B")
    out = comparison.verdicts.set_index("task")
    assert [p.task for p in comparison.pairs] == ["bleu", "ppl", "same"]
    assert out.loc["bleu", "test"] == "paired-bootstrap" and out.loc["bleu", "A − B"] == pytest.approx(0.05, abs=0.01)
    assert out.loc["bleu", "verdict"] == "A better"
    assert out.loc["ppl", "verdict"] == "B better"  # higher perplexity is worse
    assert out.loc["same", "test"] == "mcnemar-exact" and out.loc["same", "verdict"] == "no real difference"
    assert out.loc["none", "test"] == "not compared" and "share no documents" in out.loc["none", "verdict"]
    assert out.loc["cfg", "test"] == "not compared" and "ran with different configs" in out.loc["cfg", "verdict"]
    assert (out.loc[["bleu", "ppl", "same"], "p (Holm)"] >= out.loc[["bleu", "ppl", "same"], "p"]).all()
    assert out.loc[["none", "cfg"], "p (Holm)"].isna().all()


@pytest.mark.parametrize(("order", "verdict", "status", "winner", "expected"), [
    ("ab", "A", "ok", None, "x"), ("ab", "B", "ok", None, "y"), ("ba", "A", "ok", None, "y"),
    ("ba", "B", "ok", None, "x"), ("ba", "tie", "ok", None, "tie"), ("ab", None, "error", None, "error: boom"),
    ("ba", "A", "ok", "x", "x"),
])
def test_judged_winner_reads_the_answer_order(order: str, verdict: str | None, status: str, winner: str | None,
                                             expected: str) -> None:
    row = pd.Series({"model_a": "x", "model_b": "y", "answer_order": order, "verdict": verdict, "status": status,
                     "winner": winner, "error": "boom" if status == "error" else None})
    assert judged_winner(row) == expected


def test_shown_store_url_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from leaderboard_app.data import shown_store_url

    monkeypatch.setenv("HARNESS_STORE", "postgresql://eval:s3cret@db.example/harness")
    assert shown_store_url() == "postgresql://eval:***@db.example/harness"


def test_store_argument_and_streamlit_command() -> None:
    assert store_argument(["--store", "sqlite:///x.db", "--other"]) == "sqlite:///x.db"
    assert store_argument([]) is None
    assert store_argument(["--st", "x"]) is None  # no prefix matching against foreign argv (pytest's)
    command = streamlit_command("sqlite:///s.db", 8555)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("leaderboard_app/app.py")
    assert command[-3:] == ["--", "--store", "sqlite:///s.db"] and "8555" in command
    assert "--store" not in streamlit_command(None)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"


def test_cli_leaderboard_checks_the_store_then_runs_streamlit(store_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli import app

    missing = CliRunner().invoke(app, ["leaderboard", "--store", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no store at" in missing.output
    open_store(store_url)
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr("os.execve", lambda path, cmd, env: calls.append((cmd, env)))
    ran = CliRunner().invoke(app, ["leaderboard", "--port", "8600"])
    assert ran.exit_code == 0, ran.output
    command, env = calls[0]
    assert env["HARNESS_STORE"] == store_url and "8600" in command and "--store" not in command


def test_ratings_are_fitted_when_none_are_stored(store_url: str) -> None:
    from leaderboard_app.data import FALLBACK_BOOTSTRAP, computed_ratings

    store = open_store(store_url)
    write_battles(store, [Battle(model_a="a", model_b="b", winner="model_a")] * 8 + [Battle(model_a="a", model_b="b", winner="model_b")] * 2
                  + [Battle(model_a="b", model_b="c", winner="model_a")] * 8 + [Battle(model_a="b", model_b="c", winner="model_b")] * 2
                  + [Battle(model_a="a", model_b="c", winner="model_a")] * 9 + [Battle(model_a="a", model_b="c", winner="model_b")])
    fitted = computed_ratings(store)
    bt = fitted[fitted["method"] == "bt"].set_index("model")
    assert list(bt.sort_values("rating", ascending=False).index) == ["a", "b", "c"]
    assert (bt["ci_low"] <= bt["rating"]).all() and (bt["rating"] <= bt["ci_high"]).all()
    assert set(fitted["method"]) == {"bt", "elo"}
    assert "harness.arena.ratings" in sys.modules
    # the same rows `harness arena --from-store --bootstrap 100` stores
    from harness.arena.ratings import ArenaConfig
    from harness.arena.run import run_arena

    run_arena(ArenaConfig.model_validate({"bootstrap": FALLBACK_BOOTSTRAP}), from_store=True, store=store_url)
    columns = ["method", "model", "rating", "ci_low", "ci_high", "rank_low", "rank_high", "n_battles"]
    stored = read_ratings(store)[columns].sort_values(["method", "model"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(fitted[columns].sort_values(["method", "model"]).reset_index(drop=True), stored,
                                  check_dtype=False)
