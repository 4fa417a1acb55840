"""Soak: 8 processes mixing eval, generate, judge (a loopback judge), judge import and arena on one new store
(SQLite, and PostgreSQL when HARNESS_TEST_PG_URL is set), some killed with SIGKILL at random moments, then
every command run again. Afterwards: no row lost, none duplicated, no run left `running`, every re-run exits 0.

Run with `make test-soak` (`.ci/run` does); deselected from `make test` by its marker.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.store import open_store
from harness.store.battles import read_battles
from harness.store.runs import list_runs
from tests.judge_fixtures import ScriptedJudge, store_answers, write_question_file
from tests.openai_server import FakeOpenAI, Reply, chat_reply

pytestmark = pytest.mark.soak
ROOT = Path(__file__).resolve().parent.parent
KILLS = 3
JUDGED = ["alpha", "beta", "gamma"]
GENERATED = ["delta", "epsilon"]
PLANNED_CALLS = 24  # 3 models, 4 question turns, 3 pairs, 2 orders
MATCHES = 12
IMPORTED = 60


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    judge = ScriptedJudge()

    def respond(path: str, body: dict) -> Reply:
        if body["model"] == "judge-x":
            return Reply(**{**vars(judge(path, body)), "delay": 0.3})
        return Reply(**{**vars(chat_reply(f"{body['model']} says GOOD")), "delay": 0.1})

    fake = FakeOpenAI(respond)
    yield fake
    fake.close()


def _commands(model: Path, questions: Path, battles: Path, server: FakeOpenAI) -> list[list[str]]:
    judge = ["judge", "--models", ",".join(JUDGED), "--questions", str(questions), "--judge", "judge-x",
             "--judge-base-url", server.url, "--judge-api-key-env", "SOAK_KEY", "--concurrency", "4"]
    generate = [["generate", "--model", name, "--backend", "local-chat-completions", "--base-url", server.url,
                 "--questions", str(questions), "--api-key-env", "SOAK_KEY"] for name in GENERATED]
    evaluate = ["eval", "--model", str(model), "--suite", "smoke", "--limit", "40"]
    return [evaluate, evaluate, [*evaluate, "--name", "tiny-copy"], *generate, judge,
            ["judge", "import", str(battles)], ["arena", "--battles", str(battles), "--bootstrap", "50"]]


def _start(command: list[str], store: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HARNESS_STORE": store, "SOAK_KEY": "sk-soak", "HARNESS_LEASE_TTL": "20"}
    return subprocess.Popen([sys.executable, "-m", "harness", *command], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _count(store: str, sql: str) -> int:
    with open_store(store).engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar() or 0)


def _battle_file(tmp_path: Path) -> Path:
    rng = random.Random(1)
    rows = [{"model_a": a, "model_b": b, "winner": rng.choice(["model_a", "model_b", "tie"])}
            for a, b in (rng.sample(["p", "q", "r", "s"], 2) for _ in range(IMPORTED))]
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(rows))
    return path


def test_soak_with_kills_then_reruns(new_store_url: str, tmp_path: Path, tiny_model_dir: Path, server: FakeOpenAI) -> None:
    url = new_store_url
    seed = int(os.environ.get("HARNESS_SOAK_SEED", time.time()))
    rng = random.Random(seed)
    store_answers(url, JUDGED)  # the judged models' answers (the generated ones are new each run)
    commands = _commands(tiny_model_dir, write_question_file(tmp_path), _battle_file(tmp_path), server)
    procs = [_start(c, url) for c in commands]
    victims = rng.sample(range(len(procs)), KILLS)
    for k in victims:
        time.sleep(rng.uniform(0.5, 4.0))
        if procs[k].poll() is None:
            os.kill(procs[k].pid, signal.SIGKILL)
    for p in procs:
        p.communicate(timeout=600)
    survivors = [(c, p.returncode, p.stderr) for k, (c, p) in enumerate(zip(commands, procs)) if k not in victims]
    assert all(code == 0 for _, code, _ in survivors), (seed, [(c[:2], code) for c, code, _ in survivors])

    for command in commands:  # every command again, one after another: each exits 0 and completes the work
        rerun = _start(command, url)
        _, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, (seed, command[:2], err[-1500:])

    store = open_store(url)
    assert {r["status"] for r in list_runs(store)} <= {"finished", "interrupted"}, seed
    # each eval task was computed exactly once however the processes raced and died
    computed = _count(url, "SELECT count(*) FROM task_results WHERE copied_from IS NULL")
    distinct = _count(url, "SELECT count(DISTINCT eval_key) FROM task_results")
    assert computed == distinct == 2, seed
    # one model row per checkpoint and name: the tiny model and the two served ones, none twice
    assert _count(url, "SELECT count(DISTINCT fingerprint) FROM models") == 1 + len(GENERATED), seed
    assert _count(url, "SELECT count(*) FROM (SELECT name, fingerprint FROM models GROUP BY name, fingerprint "
                       "HAVING count(*) > 1) AS twice") == 0, seed
    assert _count(url, "SELECT count(*) FROM generations") == (len(JUDGED) + len(GENERATED)) * 3, seed
    assert _count(url, "SELECT count(*) FROM judgments WHERE status = 'ok'") == PLANNED_CALLS, seed
    assert _count(url, "SELECT count(*) FROM judgments") == PLANNED_CALLS, seed
    assert _count(url, "SELECT count(*) FROM battles WHERE judge = 'judge-x'") == MATCHES, seed
    # `judge import` stores the file row by row, `arena --battles` as a block: whichever came first, once
    imported = [b for b in read_battles(store) if b.source.startswith("import:")]
    assert len(imported) == len({b.battle_key for b in imported}) == IMPORTED, seed
    assert _count(url, "SELECT count(*) FROM leases WHERE kind <> 'run'") == 0, seed  # nothing left claimed
