"""arena-hard scoring (harness.judge.arena_hard, the `arena-hard` import, `judge results --mode arena-hard`):
five labels, strong verdicts as three games, score vs baseline with a bootstrap CI, ensembles, style control."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.judge.arena_hard import arena_hard_scores, expand_weights, game_outcome
from harness.judge.verdicts import VerdictError, arena_hard_label
from harness.records import Battle

runner = CliRunner()


@pytest.mark.parametrize(("text", "label"), [
    ("My final verdict is tie: [[A=B]]", "A=B"),
    ("... [[B>>A]] and again [[B>>A]]", "B>>A"),
    ("Assistant A is slightly better: [[A>B]]", "A>B"),
])
def test_arena_hard_label_parses_the_five_labels(text: str, label: str) -> None:
    assert arena_hard_label()(text) == label


@pytest.mark.parametrize("text", ["no verdict", "[[A>B]] then [[B>A]]", "[[A<B]]", "[[A]]"])
def test_arena_hard_label_rejects_none_two_or_unknown(text: str) -> None:
    with pytest.raises(VerdictError):
        arena_hard_label()(text)


def test_game_two_is_read_swapped_and_strong_weighs_three() -> None:
    assert game_outcome("A>>B", 1) == ("model_a", 3)
    assert game_outcome("A>>B", 2) == ("model_b", 3)
    assert game_outcome("B>A", 2) == ("model_a", 1)
    assert game_outcome("A=B", 2) == ("tie", 1)
    assert game_outcome(None, 1) is None and game_outcome("A", 1) is None


def _games(model: str, labels: list[tuple[str, str]], judge: str = "j") -> list[Battle]:
    out = []
    for q, pair in enumerate(labels):
        for game, label in enumerate(pair, start=1):
            outcome = game_outcome(label, game)
            assert outcome is not None
            out.append(Battle(model_a="base", model_b=model, winner=outcome[0], question_id=str(q), judge=judge,
                              extra={"label": label, "game": game}))
    return out


def test_score_is_the_win_rate_implied_by_weighted_games() -> None:
    # m: per question game 1 "B>>A" (m strongly better, 3 games) and game 2 "B>A" (baseline better, 1 game)
    battles = _games("m", [("B>>A", "B>A")] * 10)
    assert len(expand_weights(battles)) == 40
    (base_row, m_row) = sorted(arena_hard_scores(battles, "base", rounds=0), key=lambda r: r.model)
    # a star of two models: the BT fit reproduces the observed share, 30 of 40 games
    assert m_row.score == pytest.approx(75.0, abs=0.01)
    assert base_row.score == 50.0 and m_row.lower is None
    with_ci = {r.model: r for r in arena_hard_scores(_games("m", [("B>>A", "B>A"), ("A=B", "A=B"),
                                                                  ("A>B", "A>B")] * 10), "base", rounds=50)}
    row = with_ci["m"]
    assert row.lower is not None and row.upper is not None and row.lower <= row.score <= row.upper
    # 30 strong wins, 10 single losses, 20 ties, 10 + 10 one-game outcomes -> observed share
    wins = 30 + 0.5 * 20 + 10
    assert row.score == pytest.approx(100 * wins / 80, abs=0.01)


def test_ensemble_pools_judges_and_style_control_runs() -> None:
    one = _games("m", [("B>A", "B>A")] * 6, "j1")
    two = _games("m", [("A>B", "A>B")] * 2, "j2")
    from harness.judge.arena_hard import ensemble

    pooled = ensemble({"j1": one, "j2": two})
    assert {b.judge for b in pooled} == {"j1", "j2"}
    (row,) = [r for r in arena_hard_scores(pooled, "base", rounds=0) if r.model == "m"]
    # 6 questions: game 1 B>A (m wins), game 2 B>A (baseline wins) -> even; j2: 2 questions, A>B then A>B
    # -> game 1 base wins, game 2 m wins -> even: 50
    assert row.score == pytest.approx(50.0, abs=0.01)
    styled = [Battle(model_a=b.model_a, model_b=b.model_b, winner=b.winner, judge=b.judge, extra={
        **b.extra, "conv_metadata": {"sum_assistant_a_tokens": 100 + k, "sum_assistant_b_tokens": 150 + 3 * k,
                                     "header_count_a": 0, "header_count_b": 0, "list_count_a": 0,
                                     "list_count_b": 0, "bold_count_a": 0, "bold_count_b": 0}})
        for k, b in enumerate(pooled)]
    controlled = arena_hard_scores(styled, "base", rounds=0, control=("length",))
    assert all(math.isfinite(r.score) for r in controlled)


def _row(qid: int, labels: tuple[str | None, str | None]) -> dict[str, object]:
    return {"question_id": f"q{qid}", "model": "m", "judge": "gpt-4-1106-preview",
            "games": [{"score": labels[0], "judgment": "..."}, {"score": labels[1], "judgment": "..."}]}


def test_import_and_results_command(tmp_path: Path) -> None:
    rows = [_row(0, ("B>>A", "A>B")), _row(1, ("A=B", None)), _row(2, ("B>A", "A>>B"))]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    res = runner.invoke(app, ["judge", "import", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["format"], out["battles_written"], out["dropped"]) == ("arena-hard", 5, 1)
    res = runner.invoke(app, ["judge", "results", "--mode", "arena-hard", "--baseline", "gpt-4-0314", "--json"])
    assert res.exit_code == 0, res.output
    scores = {r["model"]: r for r in json.loads(res.stdout)["judges"][0]["results"]}
    # games (baseline view): q0 m x3, m x1; q1 tie; q2 m x1, m x3 -> m wins 8, tie 1 of 9 games
    assert scores["m"]["games"] == 5
    assert scores["m"]["score"] > 90
    missing = runner.invoke(app, ["judge", "results", "--mode", "arena-hard"])
    assert missing.exit_code == 2 and "--baseline" in missing.output
