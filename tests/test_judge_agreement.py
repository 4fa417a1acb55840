"""Agreement (harness.judge.agreement): FastChat's counting and the per-order alternative, human judges
(human and crowd), unknown judges, position consistency with the 'other' share; the real PRD and LLMFAO
files where ../shared/data is present."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import HarnessError
from harness.judge.agreement import agreement_report, count_agreement, position_stats, votes_by_turn
from harness.records import Battle
from harness.store import open_store
from harness.store.battles import write_battles

runner = CliRunner()


def _b(a: str, b: str, winner: str, qid: str, judge: str, key: str, **extra: str) -> Battle:
    return Battle(model_a=a, model_b=b, winner=winner, question_id=qid, turn=1, judge=judge, battle_key=key,
                  extra=dict(extra))


def _store() -> list[Battle]:
    battles = [
        # q1: both orders say x -> merged x; q2: orders disagree -> merged tie; q3: y both ways
        _b("x", "y", "model_a", "1", "llm", "l1", g1="model_a", g2="model_a"),
        _b("x", "y", "tie", "2", "llm", "l2", g1="model_a", g2="model_b"),
        _b("y", "x", "tie", "3", "llm", "l3", g1="model_a", g2="tie"),  # reported in y-x order
        _b("x", "y", "model_a", "1", "human", "h1"),
        _b("y", "x", "model_b", "1", "crowd", "h2"),  # x wins, stated the other way round
        _b("x", "y", "model_a", "2", "human", "h3"),
        _b("x", "y", "model_b", "3", "crowd", "h4"),
    ]
    write_battles(open_store(), battles)
    return battles


def test_fastchat_counting_uses_the_merged_vote(store_url: str) -> None:
    _store()
    doc = agreement_report(open_store(), "llm", "human")
    assert doc["against_judges"] == ["human", "crowd"]
    # merged votes x, tie, y(=model_b in sorted order) against humans x, x | x | y
    # with ties: q1 2/2, q2 tie vs x 0/1, q3 y vs y: merged is tie (g2 tie) -> 0/1 -> 2 of 4
    assert doc["overall"]["with_ties"] == {"agree": 2, "total": 4, "ratio": 0.5}
    assert doc["overall"]["without_ties"] == {"agree": 2, "total": 2, "ratio": 1.0}


def test_per_order_counting_compares_each_order(store_url: str) -> None:
    _store()
    doc = agreement_report(open_store(), "llm", "human", counting="per-order")
    # q1: 2 orders x 2 humans, all agree (4/4); q2: x vs x agree, y vs x not (1/2);
    # q3 sorted x-y: orders say y (model_b) and tie, human says y: 1/2
    assert doc["overall"]["with_ties"]["agree"] == 6 and doc["overall"]["with_ties"]["total"] == 8
    assert doc["overall"]["without_ties"] == {"agree": 6, "total": 7, "ratio": 6 / 7}


def test_votes_by_turn_per_order_restates_orders_for_the_sorted_pair() -> None:
    votes = votes_by_turn([_b("y", "x", "model_a", "3", "llm", "k", g1="model_a", g2="tie")], "per-order")
    assert votes[1][("3", "x", "y")] == ["model_b", "tie"]
    assert count_agreement(votes[1], None, with_ties=True).total == 1


def test_unknown_judge_lists_the_judges_in_the_store(store_url: str) -> None:
    _store()
    with pytest.raises(HarnessError, match=r"no judge 'gpt-9'.*crowd, human, llm"):
        agreement_report(open_store(), "gpt-9", "human")
    res = runner.invoke(app, ["judge", "agreement", "--judge", "llm", "--counting", "majority"])
    assert res.exit_code == 2 and "per-order" in res.output


def test_position_stats_count_other() -> None:
    stats = position_stats("j", [
        _b("x", "y", "model_a", "1", "j", "a", g1="model_a", g2="model_a"),
        _b("x", "y", "tie", "2", "j", "b", g1="model_a", g2="model_b"),
        _b("x", "y", "tie", "3", "j", "c", g1="model_b", g2="model_a"),
        _b("x", "y", "tie", "4", "j", "d", g1="tie", g2="model_a"),
    ]).to_json()
    assert (stats["consistent"], stats["bias_first"], stats["bias_second"], stats["other"]) == (1, 1, 1, 1)
    assert stats["other_rate"] == pytest.approx(0.25)


def test_prd_gpt4_against_humans_counts_every_human_vote(shared_data: Path) -> None:
    root = shared_data / "prd_vicuna80_pairwise"
    for reviewer in ("human", "gpt4", "vicuna-13b"):
        assert runner.invoke(app, ["judge", "import", str(root / f"ratings-{reviewer}")]).exit_code == 0
    doc = json.loads(runner.invoke(app, ["judge", "agreement", "--judge", "gpt4", "--json"]).stdout)
    # FastChat counting: one merged GPT-4 vote per question and pair against every human vote on it
    pairs = {frozenset(p.name.split("-vs-")) for p in (root / "ratings-gpt4").glob("*.jsonl")}
    models = {m.removeprefix("answer_").removeprefix("answer-").split("-gpt4")[0] for p in pairs for m in p}
    humans = defaultdict(int)
    for path in (root / "ratings-human").glob("*.jsonl"):
        a, b = path.name.removeprefix("answer_").split("-human")[0].split("-vs-answer_")
        if a in models and b in models:
            humans[(a, b)] += sum(1 for line in path.read_text().splitlines() if line.strip())
    assert doc["overall"]["with_ties"]["total"] == sum(humans.values())
    per_order = json.loads(runner.invoke(app, ["judge", "agreement", "--judge", "gpt4", "--counting",
                                               "per-order", "--json"]).stdout)
    assert per_order["overall"]["with_ties"]["total"] == 2 * sum(humans.values())
    (pos,) = doc["position"]
    assert pos["n"] == 800 and pos["consistent"] + pos["bias_first"] + pos["bias_second"] + pos["other"] == 800
    vicuna = runner.invoke(app, ["judge", "agreement", "--judge", "vicuna-13b", "--json"])
    assert vicuna.exit_code == 0 and json.loads(vicuna.stdout)["overall"]["with_ties"]["total"] > 0


def test_llmfao_against_human_means_the_crowd(shared_data: Path) -> None:
    root = shared_data / "llmfao"
    for name in ("crowd-comparisons.csv", "gpt4-crowd-comparisons.csv"):
        assert runner.invoke(app, ["judge", "import", str(root / name)]).exit_code == 0
    doc = json.loads(runner.invoke(app, ["judge", "agreement", "--judge", "gpt4", "--json"]).stdout)
    assert doc["against_judges"] == ["crowd"]
    crowd_rows = len((root / "crowd-comparisons.csv").read_text().splitlines()) - 1
    assert doc["overall"]["with_ties"]["total"] == crowd_rows


def test_results_of_an_unknown_judge_list_the_judges(store_url: str) -> None:
    _store()
    res = runner.invoke(app, ["judge", "results", "--judge", "gpt-9"])
    assert res.exit_code == 2 and "judges: crowd, human, llm" in res.output
