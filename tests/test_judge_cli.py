"""End to end through the CLI: generate with a chat server, judge offline, results, agreement, import."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.store import open_store
from tests.openai_server import Reply, chat_reply

runner = CliRunner()


def _answer(path: str, body: dict) -> Reply:
    """`good` answers sums right, `bad` answers them off by one, `mixed` is right on even first operands."""
    a, b = (int(x) for x in re.findall(r"\d+", body["messages"][-1]["content"])[:2])
    wrong = body["model"] == "bad" or (body["model"] == "mixed" and a % 2)
    return chat_reply(f"The answer is {a + b + (1 if wrong else 0)}.")


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_generate_then_offline_judge_then_results(openai_server, store_url):
    openai_server.responder = _answer
    for model in ("good", "bad", "mixed"):
        doc = _json(["generate", "--model", model, "--questions", "arith", "--backend", "local-chat-completions",
                     "--base-url", openai_server.url, "--max-new-tokens", "8", "--json"])
        assert (doc["model"], doc["generated"], doc["questions"]) == (model, 16, 16)
    doc = _json(["judge", "--models", "good,bad,mixed", "--questions", "arith", "--json"])
    assert doc["offline"] and doc["judge"] == "offline:reference-match" and "not an LLM" in doc["judge_label"]
    assert doc["judgments"]["planned"] == 3 * 16 * 2 and doc["judgments"]["battles_written"] == 48
    assert doc["usage"]["cost_usd"] == 0
    rows = {r["model"]: r for r in doc["results"]}
    assert (rows["good"]["win"], rows["good"]["loss"]) == (16 + rows["mixed"]["loss"], 0)
    assert rows["bad"]["win"] == 0 and rows["bad"]["tie"] == 16 - rows["mixed"]["win"]  # mixed wrong: both bad
    again = _json(["judge", "--models", "good,bad,mixed", "--questions", "arith", "--json"])
    assert again["judgments"]["cached"] == 96 and again["judgments"]["called"] == 0
    results = _json(["judge", "results", "--json"])
    assert results["judges"][0]["judge"] == "offline:reference-match"
    assert results["judges"][0]["results"] == doc["results"]
    base = _json(["judge", "results", "--mode", "pairwise-baseline", "--baseline", "bad", "--json"])
    assert {r["model"] for r in base["judges"][0]["results"]} == {"good", "mixed"}
    human = runner.invoke(app, ["judge", "results", "--mode", "pairwise-baseline", "--json"])
    assert human.exit_code == 2 and "--baseline" in human.output
    table = runner.invoke(app, ["judge", "results"])
    assert table.exit_code == 0 and "win_rate" in table.stdout


def test_import_and_agreement_commands(tmp_path: Path, store_url):
    votes = [
        {"question_id": 1, "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "expert_1", "turn": 1},
        {"question_id": 1, "model_a": "x", "model_b": "y", "winner": "model_b", "judge": ["gpt-4", "pair"], "turn": 1},
    ]
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in votes))
    doc = _json(["judge", "import", str(path), "--json"])
    assert doc["format"] == "fastchat-votes" and doc["battles_written"] == 2
    assert _json(["judge", "import", str(path), "--json"])["battles_written"] == 0
    agreement = _json(["judge", "agreement", "--judge", "gpt-4", "--against", "human", "--json"])
    assert agreement["overall"]["with_ties"] == {"agree": 0, "total": 1, "ratio": 0.0}
    bad = runner.invoke(app, ["judge", "import", str(tmp_path / "nope.jsonl")])
    assert bad.exit_code == 2 and "no file" in bad.output


def test_judge_needs_models_and_answers(store_url):
    result = runner.invoke(app, ["judge"])
    assert result.exit_code == 2 and "--models" in result.output
    result = runner.invoke(app, ["judge", "--models", "a,b", "--questions", "arith"])
    assert result.exit_code == 2 and "no store at" in result.output  # nothing to judge, and none created
    open_store(store_url)
    result = runner.invoke(app, ["judge", "--models", "a,b", "--questions", "arith"])
    assert result.exit_code == 2 and "harness generate" in result.output
    result = runner.invoke(app, ["judge", "--models", "a,b", "--questions", "arith", "--mode", "nope"])
    assert result.exit_code == 2 and "--mode" in result.output


def test_offline_single_grades_and_reference_skips(openai_server, store_url):
    openai_server.responder = _answer
    for model in ("good", "bad"):
        _json(["generate", "--model", model, "--questions", "arith", "--backend", "local-chat-completions",
               "--base-url", openai_server.url, "--json"])
    doc = _json(["judge", "--models", "good,bad", "--questions", "arith", "--mode", "single", "--json"])
    assert {r["model"]: r["score"] for r in doc["results"]} == {"good": 10.0, "bad": 1.0}
    single = _json(["judge", "results", "--mode", "single", "--json"])["judges"][0]
    assert single["judge"] == "offline:reference-match" and single["usage"]["cost_usd"] == 0
    assert {r["model"]: r["turns"]["1"] for r in single["results"]} == {"good": 10.0, "bad": 1.0}
