"""`harness judge --workers N`: N processes split the calls against the loopback server, with no call asked
twice (also beside another multi-worker judge on the same store), the same results as one process, a re-run
that asks nothing, and a worker's fatal error ending the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.judge import workers
from harness.judge.workers import worker_count
from harness.parallel import usable_cpus
from harness.store import open_store
from harness.store.battles import read_battles
from harness.store.judgments import read_judgments
from tests.judge_fixtures import ScriptedJudge, store_answers, write_question_file
from tests.openai_server import Reply

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
PLANNED = 24  # 3 models, 4 question turns, 3 pairs, 2 orders (see tests/test_judge.py)


def _judge(questions: Path, base_url: str, *extra: str) -> list[str]:
    return ["judge", "--models", "alpha,beta,gamma", "--questions", str(questions), "--judge", "judge-x",
            "--judge-base-url", base_url, "--judge-api-key-env", "TEST_JUDGE_KEY", "--json", *extra]


def test_worker_count_default_and_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "usable_cpus", lambda: 2)
    assert worker_count(None, 16, 100) == 1  # the default concurrency: one process
    assert worker_count(None, 64, 100) == 2  # one per 32 calls in flight
    assert worker_count(None, 256, 100) == 2  # at most one per CPU
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # the machine's CPUs, of which this process may use one
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(workers, "usable_cpus", usable_cpus)
    assert worker_count(None, 256, 100) == 1
    assert worker_count(4, 64, 100) == 4  # asked for: as many as asked
    assert worker_count(4, 3, 100) == 3 and worker_count(4, 64, 2) == 2  # never idle workers


def test_workers_split_the_calls_with_none_asked_twice(openai_server, tmp_path: Path, store_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-abc")
    judge = ScriptedJudge()
    openai_server.responder = lambda path, body: Reply(**{**vars(judge(path, body)), "delay": 0.2})
    store_answers(store_url)
    questions = write_question_file(tmp_path)
    result = runner.invoke(app, _judge(questions, openai_server.url, "--workers", "2", "--concurrency", "4"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["calls_by_worker"]) == 2 and all(n > 0 for n in doc["calls_by_worker"])  # both processes asked
    assert sum(doc["calls_by_worker"]) == doc["judgments"]["called"] == PLANNED
    asked = [json.dumps(body["messages"], sort_keys=True) for _, body, _ in openai_server.requests]
    assert len(asked) == len(set(asked)) == PLANNED  # every call asked once
    store = open_store(store_url)
    assert len(read_judgments(store)) == PLANNED
    assert len(read_battles(store, source="judge:judge-x")) == doc["judgments"]["battles_written"] == PLANNED // 2
    assert doc["usage"]["calls"] == PLANNED  # the workers' usage is added up

    one_store = f"sqlite:///{tmp_path / 'one.db'}"
    store_answers(one_store)
    alone = runner.invoke(app, [*_judge(questions, openai_server.url, "--workers", "1"), "--store", one_store])
    assert json.loads(alone.stdout)["results"] == doc["results"]  # the same results as one process

    before = len(openai_server.requests)
    again = runner.invoke(app, _judge(questions, openai_server.url, "--workers", "2", "--concurrency", "4"))
    assert json.loads(again.stdout)["judgments"]["cached"] == PLANNED
    assert len(openai_server.requests) == before  # a re-run asks nothing


def test_two_multi_worker_judges_on_one_store_ask_each_call_once(openai_server, tmp_path: Path,
                                                                  store_url: str) -> None:
    judge = ScriptedJudge()
    openai_server.responder = lambda path, body: Reply(**{**vars(judge(path, body)), "delay": 0.5})
    store_answers(store_url)
    questions = write_question_file(tmp_path)
    command = [sys.executable, "-m", "harness",
               *_judge(questions, openai_server.url, "--workers", "2", "--concurrency", "4")]
    env = {**os.environ, "TEST_JUDGE_KEY": "sk-abc", "HARNESS_STORE": store_url}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-800:] for _, err in outputs]
    assert len(openai_server.requests) == PLANNED  # four processes, no call asked twice
    docs = [json.loads(out) for out, _ in outputs]
    assert sum(d["judgments"]["called"] for d in docs) == PLANNED
    assert docs[0]["results"] == docs[1]["results"]
    assert len(read_battles(open_store(store_url), source="judge:judge-x")) == PLANNED // 2


def test_a_workers_fatal_error_ends_the_run(openai_server, tmp_path: Path, store_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-wrong")
    openai_server.responder = lambda path, body: Reply({"error": {"message": "bad key"}}, status=401)
    store_answers(store_url)
    result = runner.invoke(app, _judge(write_question_file(tmp_path), openai_server.url, "--workers", "2",
                                       "--concurrency", "4"))
    assert result.exit_code == 3 and "refused the API key" in result.stderr, result.output
    assert "sk-wrong" not in result.output
