"""Verdict parsers, the offline judge, FastChat-style results and agreement on hand-made inputs, and imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.judge.imports import import_judgments
from harness.judge.offline import judge_pair, matches_reference
from harness.judge.results import (
    agreement_report,
    count_agreement,
    pairwise_results,
    position_stats,
    results_report,
    single_results,
    votes_by_turn,
)
from harness.judge.verdicts import VerdictError, pairwise_verdict, single_grade, two_scores
from harness.records import Battle
from harness.store import open_store
from harness.store.battles import read_battles
from harness.store.judgments import read_judgments


@pytest.mark.parametrize(
    ("text", "verdict"),
    [("Reasoning... [[A]]", "A"), ("[[B]]", "B"), ("tie: [[C]]", "tie"), ("[[A]] and again [[A]]", "A")],
)
def test_pairwise_verdict_accepts_exactly_one(text, verdict):
    assert pairwise_verdict()(text) == verdict


@pytest.mark.parametrize("text", ["no verdict", "[[A]] ... [[B]]", "[[A]] [[C]]", "[A] is better", ""])
def test_pairwise_verdict_rejects_none_or_several(text):
    with pytest.raises(VerdictError):
        pairwise_verdict()(text)


def test_single_grade_is_strict():
    parse = single_grade()
    assert parse("Rating: [[7]]") == 7.0 and parse("[[ 8.5 ]] final [[8.5]]") == 8.5
    for bad in ("Rating: 7", "[[3]] then [[4]]", "[[11]]", "[[0]]"):
        with pytest.raises(VerdictError):
            parse(bad)


def test_two_scores_reads_vicuna_reviews():
    parse = two_scores()
    assert parse("8 9\nexplanation") == "B" and parse("9 7") == "A" and parse("7.5 7.5") == "tie"
    with pytest.raises(VerdictError):
        parse("Assistant 1 is better")


def test_offline_judge_matches_numbers_and_text():
    assert matches_reference("The answer is 67.", "67") and not matches_reference("76", "67")
    assert matches_reference("It arrives at 11:05 sharp", "It arrives at 11:05.")
    assert not matches_reference("", "67")
    assert matches_reference("jupiter, saturn, uranus!", "Jupiter, Saturn, Uranus")
    assert judge_pair("67", "67", "12").verdict == "A" and judge_pair("67", "1", "67").verdict == "B"
    both_bad = judge_pair("67", "1", "2")
    assert (
        both_bad.verdict == "tie"
        and both_bad.winner_label == "tie (bothbad)"
        and "not an LLM" in both_bad.text
    )
    assert judge_pair("67", "67", "67.0").winner_label is None


def _b(a: str, b: str, winner: str, qid: str = "1", turn: int = 1, judge: str = "j", **extra: str) -> Battle:
    return Battle(model_a=a, model_b=b, winner=winner, source="test", question_set="set", question_id=qid, turn=turn, category=None, judge=judge, battle_key=None, extra=dict(extra))


def test_pairwise_results_count_like_fastchat():
    battles = [
        _b("x", "y", "model_a"),
        _b("x", "y", "model_a", "2"),
        _b("y", "x", "model_a", "3"),
        _b("x", "y", "tie", "4"),
        _b("x", "z", "model_b"),
        _b("y", "z", "tie (bothbad)"),
    ]
    rows = {r.model: r for r in pairwise_results(battles)}
    # x: W W L T L -> 2 win, 2 loss, 1 tie; y: L L W T T -> 1, 2, 2; z: W T -> 1, 0, 1
    assert (rows["x"].win, rows["x"].loss, rows["x"].tie, rows["x"].n) == (2, 2, 1, 5)
    assert rows["x"].win_rate_adjusted == pytest.approx(2.5 / 5) and rows["x"].loss_rate == pytest.approx(0.4)
    assert (rows["y"].win, rows["y"].loss, rows["y"].tie) == (1, 2, 2)
    assert rows["z"].win_rate_adjusted == pytest.approx(0.75)
    assert next(r.model for r in pairwise_results(battles)) == "z"
    base = {r.model: r for r in pairwise_results(battles, baseline="y")}
    assert set(base) == {"x", "z"} and (base["x"].win, base["x"].loss, base["x"].tie) == (2, 1, 1)


def test_agreement_counts_like_compute_agreement():
    judge = [
        _b("x", "y", "model_a", "1"),
        _b("y", "x", "model_a", "2"),
        _b("x", "y", "tie", "3"),
        _b("x", "y", "model_b", "1", turn=2),
    ]
    human = [
        _b("y", "x", "model_b", "1"),
        _b("x", "y", "model_a", "1"),  # both agree with judge on q1
        _b("x", "y", "model_a", "2"),  # judge said y on q2: disagree
        _b("x", "y", "tie (bothbad)", "3"),
        _b("x", "y", "model_b", "3"),  # tie==tie agrees; other not
        _b("x", "y", "model_a", "1", turn=2),
    ]
    j, h = votes_by_turn(judge), votes_by_turn(human)
    assert count_agreement(j[1], h[1], with_ties=True).__dict__ == {"agree": 3, "total": 5}
    assert count_agreement(j[1], h[1], with_ties=False).__dict__ == {"agree": 2, "total": 3}
    assert count_agreement(j[2], h[2], with_ties=True).__dict__ == {"agree": 0, "total": 1}
    # human-human: q1 pair agrees, q3 pair (tie vs model_b) disagrees; without ties q3 is banned
    assert count_agreement(h[1], None, with_ties=True).__dict__ == {"agree": 1, "total": 2}
    assert count_agreement(h[1], None, with_ties=False).__dict__ == {"agree": 1, "total": 1}


def test_position_stats():
    battles = [
        _b("x", "y", "model_a", g1="model_a", g2="model_a"),
        _b("x", "y", "tie", g1="model_a", g2="model_b"),
        _b("x", "y", "tie", g1="model_b", g2="model_a"),
        _b("x", "y", "tie", g1="tie", g2="model_a"),
        _b("x", "y", "tie", g1="tie", g2="tie"),
        _b("x", "y", "model_a"),
    ]
    stats = position_stats("j", battles).to_json()
    assert (stats["n"], stats["consistent"], stats["bias_first"], stats["bias_second"]) == (5, 2, 1, 1)
    assert stats["consistency"] == pytest.approx(0.4)


def test_single_results_drop_errors():
    from harness.records import Judgment

    def j(model: str, turn: int, score: float | None, status: str = "ok") -> Judgment:
        return Judgment(
            cache_key=f"{model}{turn}{score}",
            judge="j",
            prompt_name="p",
            prompt_hash="h",
            mode="single",
            question_set="s",
            question_id="q",
            turn=turn,
            model_a=model,
            model_b=None,
            answer_order="a",
            status=status,
            score=score,
        )

    rows = single_results([j("m", 1, 8), j("m", 1, 6), j("m", 2, 4), j("m", 2, None, "error"), j("n", 1, 10)])
    by = {r.model: r for r in rows}
    assert by["m"].turns == {1: 7.0, 2: 4.0} and by["m"].score == pytest.approx(6.0) and by["m"].n == 3
    assert rows[0].model == "n"


def test_import_fastchat_pair_and_single(tmp_path: Path, store_url: str):
    folder = tmp_path / "mt_bench" / "model_judgment"
    folder.mkdir(parents=True)
    pair = [
        {
            "question_id": 81,
            "model_1": "a",
            "model_2": "b",
            "g1_winner": "model_1",
            "g2_winner": "model_1",
            "judge": ["gpt-4", "pair-v2"],
            "turn": 1,
        },
        {
            "question_id": 82,
            "model_1": "a",
            "model_2": "b",
            "g1_winner": "model_1",
            "g2_winner": "model_2",
            "judge": ["gpt-4", "pair-v2"],
            "turn": 1,
        },
        {
            "question_id": 83,
            "model_1": "a",
            "model_2": "b",
            "g1_winner": "error",
            "g2_winner": "model_2",
            "judge": ["gpt-4", "pair-v2"],
            "turn": 1,
        },
        {
            "question_id": 81,
            "model_1": "a",
            "model_2": "b",
            "g1_winner": "model_2",
            "g2_winner": "model_2",
            "judge": ["gpt-4", "pair-v2-multi-turn"],
            "turn": 2,
        },
    ]
    (folder / "gpt-4_pair.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pair))
    single = [
        {"question_id": 81, "model": "a", "score": 9, "judge": ["gpt-4", "single-v1"], "turn": 1},
        {"question_id": 81, "model": "a", "score": -1, "judge": ["gpt-4", "single-v1"], "turn": 2},
        {"question_id": 81, "model": "b", "score": 4, "judge": ["gpt-4", "single-v1"], "turn": 1},
    ]
    (folder / "gpt-4_single.jsonl").write_text("".join(json.dumps(r) + "\n" for r in single))
    out = import_judgments(folder / "gpt-4_pair.jsonl")
    assert (out.format, out.battles_written, out.dropped, out.judges) == ("fastchat-pair", 3, 1, ["gpt-4"])
    assert import_judgments(folder / "gpt-4_pair.jsonl").battles_written == 0  # idempotent
    report = results_report(open_store(), judge="gpt-4")
    rows = {r["model"]: r for r in report["judges"][0]["results"]}
    assert (rows["a"]["win"], rows["a"]["loss"], rows["a"]["tie"]) == (1, 1, 1)  # q82 orders disagree: tie
    out = import_judgments(folder / "gpt-4_single.jsonl")
    assert (out.format, out.judgments_written, out.dropped) == ("fastchat-single", 3, 1)
    single_rows = results_report(open_store(), judge="gpt-4", mode="single")["judges"][0]["results"]
    assert {r["model"]: r["score"] for r in single_rows} == {"a": 9.0, "b": 4.0}
    assert {j.question_set for j in read_judgments(open_store())} == {"mt_bench"}


def test_import_votes_and_agreement_report(tmp_path: Path, store_url: str):
    votes = [
        {
            "question_id": 1,
            "model_a": "x",
            "model_b": "y",
            "winner": "model_a",
            "judge": "expert_1",
            "turn": 1,
        },
        {
            "question_id": 1,
            "model_a": "y",
            "model_b": "x",
            "winner": "model_b",
            "judge": "expert_2",
            "turn": 1,
        },
        {
            "question_id": 1,
            "model_a": "x",
            "model_b": "y",
            "winner": "model_a",
            "judge": ["gpt-4", "pair"],
            "turn": 1,
        },
        {
            "question_id": 2,
            "model_a": "x",
            "model_b": "y",
            "winner": "tie",
            "judge": ["gpt-4", "pair"],
            "turn": 1,
        },
        {
            "question_id": 2,
            "model_a": "x",
            "model_b": "y",
            "winner": "model_b",
            "judge": "expert_1",
            "turn": 1,
        },
    ]
    path = tmp_path / "votes.json"
    path.write_text(json.dumps(votes))
    assert import_judgments(path).format == "fastchat-votes"
    report = agreement_report(open_store(), "gpt-4", "human")
    assert report["overall"]["with_ties"] == {"agree": 2, "total": 3, "ratio": pytest.approx(2 / 3)}
    assert report["overall"]["without_ties"]["total"] == 2 and report["overall"]["without_ties"]["agree"] == 2


def test_import_rejects_unknown_files(tmp_path: Path):
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"hello": 1}\n')
    with pytest.raises(HarnessError, match="cannot tell the format"):
        import_judgments(odd)
    with pytest.raises(HarnessError, match="no file"):
        import_judgments(tmp_path / "missing.jsonl")


def test_real_files_import(shared_data: Path, store_url: str):
    prd = import_judgments(shared_data / "prd_vicuna80_pairwise" / "ratings-gpt4")
    assert prd.battles_written == 800  # 10 pairs x 80 questions, both orders combined
    human = import_judgments(shared_data / "prd_vicuna80_pairwise" / "ratings-human")
    assert human.battles_written == 7040
    report = agreement_report(open_store(), "gpt4", "human")
    # GPT-4's combined verdict per (question, pair) against each human vote on it (FastChat's counting)
    assert report["overall"]["with_ties"] == {"agree": 906, "total": 1760, "ratio": pytest.approx(906 / 1760)}
    assert (report["overall"]["without_ties"]["agree"], report["overall"]["without_ties"]["total"]) == (796, 1036)
    position = report["position"][0]
    # counted straight from the files too: same verdict in both orders 551/800, "Assistant 1" both times 113
    assert (position["n"], position["consistent"], position["bias_first"], position["bias_second"]) == (800, 551, 113, 2)
    ae = import_judgments(shared_data / "alpaca_eval/results/alpaca-7b/alpaca_eval_gpt4/annotations.json")
    assert ae.battles_written == 805
    rows = {
        r["model"]: r for r in results_report(open_store(), judge="alpaca_eval_gpt4")["judges"][0]["results"]
    }
    assert (rows["alpaca-7b"]["win"], rows["alpaca-7b"]["loss"], rows["alpaca-7b"]["tie"]) == (205, 584, 16)
    review = (
        shared_data
        / "vicuna80_fastchat_eval/review/vicuna-13b_20230322-clean-lang/review_gpt35_vicuna-13b.jsonl"
    )
    assert import_judgments(review).battles_written == 80
    reviews = read_battles(open_store(), judge="gpt-4")
    # the Vicuna blog's Table 2: ChatGPT 693.0 vs Vicuna-13B 638.0 (sum of GPT-4's 1-10 scores)
    assert sum(b.extra["score_a"] for b in reviews) == 693.0 and sum(b.extra["score_b"] for b in reviews) == 638.0
    weighted = shared_data / "alpaca_eval/results/alpaca-7b/weighted_alpaca_eval_gpt4_turbo/annotations.json"
    import_judgments(weighted)
    ae2 = results_report(open_store(), judge="weighted_alpaca_eval_gpt4_turbo")["judges"][0]["results"]
    rows = {r["model"]: r for r in ae2}  # published: 17 wins, 785 baseline wins, 3 draws
    assert (rows["alpaca-7b"]["win"], rows["alpaca-7b"]["loss"], rows["alpaca-7b"]["tie"]) == (17, 785, 3)
    llmfao = import_judgments(shared_data / "llmfao" / "gpt4-crowd-comparisons.csv")
    assert llmfao.battles_written == 2139
