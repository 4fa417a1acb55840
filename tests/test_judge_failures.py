"""Judges fail fast and loud: an unreachable endpoint stops within seconds (exit 3, one line, credentials
masked), failed calls make a non-zero exit, `--max-cost` counts earlier runs (exit 4), and two judges on one
store never ask the same call twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.store import open_store
from harness.store.judgments import read_judgments
from tests.judge_fixtures import ScriptedJudge, store_answers, write_question_file
from tests.openai_server import Reply

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
PLANNED = 24  # 3 models, 4 question turns, 3 pairs, 2 orders (see tests/test_judge.py)


@pytest.fixture
def questions(tmp_path: Path, store_url: str) -> str:
    store_answers(store_url)
    return str(write_question_file(tmp_path))


def _judge(questions: str, base_url: str, *extra: str) -> list[str]:
    return ["judge", "--models", "alpha,beta,gamma", "--questions", questions, "--judge", "judge-x",
            "--judge-base-url", base_url, "--judge-api-key-env", "TEST_JUDGE_KEY", *extra]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_stops_within_seconds(questions: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-abc")
    url = f"http://user:topsecret@127.0.0.1:{_closed_port()}/v1"
    start = time.monotonic()
    result = runner.invoke(app, _judge(questions, url))
    elapsed = time.monotonic() - start
    assert result.exit_code == 3 and elapsed < 20, (result.exit_code, elapsed)
    lines = result.stderr.strip().splitlines()
    assert "unreachable" in lines[-1] and "127.0.0.1" in lines[-1] and "Traceback" not in result.stderr
    assert "topsecret" not in result.output and "user:***@" in lines[-1]


def test_calls_that_all_fail_make_the_run_fail(openai_server, questions: str, store_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-abc")
    openai_server.responder = lambda path, body: Reply({"error": {"message": "prompt too long"}}, status=400)
    result = runner.invoke(app, _judge(questions, openai_server.url, "--json"))
    assert result.exit_code == 3
    doc = json.loads(result.stdout)  # --json still prints its one document
    assert doc["judgments"]["errors"] == PLANNED
    assert f"{PLANNED} of {PLANNED} judge calls failed" in result.stderr
    assert {j.status for j in read_judgments(open_store(store_url))} == {"error"}


def test_single_grades_that_all_fail_make_the_run_fail(openai_server, questions: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-abc")
    openai_server.responder = ScriptedJudge(verdict=lambda body: "no rating here")
    result = runner.invoke(app, [*_judge(questions, openai_server.url), "--mode", "single"])
    assert result.exit_code == 3 and "judge calls failed" in result.stderr


def test_max_cost_counts_earlier_runs_and_a_budget_stop_exits_4(openai_server, questions: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-abc")
    openai_server.responder = ScriptedJudge()  # 100 + 20 tokens per call
    capped = [*_judge(questions, openai_server.url, "--json", "--concurrency", "1", "--max-cost", "0.5",
                      "--price-per-mtok", "1000,2000")]  # 0.14 USD per call
    first = runner.invoke(app, capped)
    assert first.exit_code == 4 and "stopped at --max-cost" in first.stderr
    assert json.loads(first.stdout)["judgments"]["called"] == 4
    again = runner.invoke(app, capped)  # the same cap again: already spent, so nothing new
    assert again.exit_code == 4 and json.loads(again.stdout)["judgments"]["called"] == 0
    assert len(openai_server.requests) == 4
    higher = runner.invoke(app, [*capped[:-4], "--max-cost", "1.0", "--price-per-mtok", "1000,2000"])
    assert json.loads(higher.stdout)["judgments"]["called"] == 4  # starts while the total (0.56 + ...) < 1.0


def test_two_judges_on_one_store_ask_each_call_once(openai_server, questions: str, store_url: str) -> None:
    slow = ScriptedJudge()
    openai_server.responder = lambda path, body: Reply(**{**vars(slow(path, body)), "delay": 1.0})
    command = [sys.executable, "-m", "harness", *_judge(questions, openai_server.url, "--json", "--concurrency",
                                                          "4")]
    env = {**os.environ, "TEST_JUDGE_KEY": "sk-abc", "HARNESS_STORE": store_url}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-800:] for _, err in outputs]
    assert len(openai_server.requests) == PLANNED  # no call asked twice
    docs = [json.loads(out) for out, _ in outputs]
    assert sum(d["judgments"]["called"] for d in docs) == PLANNED
    assert all(d["judgments"]["called"] > 0 for d in docs)  # they did run side by side
    assert docs[0]["results"] == docs[1]["results"]
    assert len(read_judgments(open_store(store_url))) == PLANNED
