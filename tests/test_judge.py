"""`harness judge` against a real loopback OpenAI-compatible server: faults, retries, cache, cost, keys."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from harness.answer_style import style_metadata
from harness.client import RetryPolicy
from harness.errors import EndpointUnavailable, HarnessError
from harness.judge.plan import JudgeConfig
from harness.judge.results import results_report
from harness.judge.run import run_judge
from harness.store import open_store
from harness.store.battles import read_battles
from harness.store.judgments import read_judgments
from tests.judge_fixtures import ANSWERS, ScriptedJudge, store_answers, write_question_file
from tests.openai_server import Reply, chat_reply

FAST = RetryPolicy(attempts=4, parse_attempts=3, base_delay=0.01, max_delay=0.5, jitter=0.0)
SECRET = "sk-test-NEVER-STORE-9f8e7d6c"
# 3 models, all pairs: q1 (1 turn) + q2 (2 turns) + q3 (1 turn) = 4 turns x 3 pairs x 2 orders
PLANNED = 24


@pytest.fixture
def questions(tmp_path: Path, store_url: str) -> str:
    store_answers(store_url)
    return str(write_question_file(tmp_path))


def _config(server_url: str, questions: str, **extra: object) -> JudgeConfig:
    values = {
        "models": ["alpha", "beta", "gamma"],
        "questions": questions,
        "judge": "judge-x",
        "judge_base_url": server_url,
        "judge_api_key_env": "TEST_JUDGE_KEY",
        "concurrency": 8,
        "price_per_mtok": (1000.0, 2000.0),
        "timeout": 2.0,
    }
    values.update(extra)
    return JudgeConfig(**values)


def test_faults_are_retried_and_every_judgment_lands_once(
    openai_server, questions, store_url, monkeypatch, caplog
):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    faults = {
        0: [Reply({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0.2"})],
        1: [
            Reply({"error": {"message": "boom"}}, status=500),
            Reply({"error": {"message": "boom"}}, status=503),
        ],
        2: [Reply(raw="{not json")],
        3: [chat_reply("I cannot decide between them.")],
        4: [chat_reply("Both are fine: [[A]] or maybe [[B]].")],
        5: [Reply(delay=3.0, body={"late": True})],  # past the 2 s client timeout
    }
    openai_server.responder = ScriptedJudge(faults)
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("harness.client.asyncio.sleep", recording_sleep)
    outcome = run_judge(_config(openai_server.url, questions), policy=FAST)

    assert outcome.stats.planned == PLANNED and outcome.stats.called == PLANNED
    assert outcome.stats.errors == 0 and outcome.stats.cached == 0
    assert 0.2 in sleeps  # Retry-After honoured (sleep recorded, not measured)
    rows = read_judgments(open_store(store_url), judge="judge-x")
    assert len(rows) == PLANNED and len({r.cache_key for r in rows}) == PLANNED
    assert all(r.status == "ok" for r in rows)
    bad_outputs = [r for r in rows if r.attempts and r.attempts > 1]
    assert len(bad_outputs) >= 5  # requests 0-4 needed a second (or third) attempt
    # requests: 24 answered + 1 (429) + 2 (5xx) + 1 (malformed) + 1 + 1 (bad verdicts) + 1 (timeout)
    assert (
        len(openai_server.requests) >= PLANNED + 7 and outcome.usage.retries >= 7
    )  # more if the box is slow
    # cost: every reply with a body is billed, the two unparseable ones (10 + 5 tokens) included
    prompt, completion = 100 * PLANNED + 10 * 2, 20 * PLANNED + 5 * 2
    assert (outcome.usage.prompt_tokens, outcome.usage.completion_tokens) == (prompt, completion)
    assert outcome.usage.cost_usd == pytest.approx((prompt * 1000 + completion * 2000) / 1e6)
    assert sum(r.cost_usd or 0 for r in rows) == pytest.approx(outcome.usage.cost_usd)
    # the key went to the server and nowhere else
    auth = [{k.lower(): v for k, v in h.items()}.get("authorization") for _, _, h in openai_server.requests]
    assert set(auth) == {f"Bearer {SECRET}"}
    assert SECRET.encode() not in Path(store_url.removeprefix("sqlite:///")).read_bytes()
    assert SECRET not in caplog.text


def test_rerun_makes_zero_requests_and_battles_follow_fastchat(
    openai_server, questions, store_url, monkeypatch
):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = ScriptedJudge()
    first = run_judge(_config(openai_server.url, questions), policy=FAST)
    sent = len(openai_server.requests)
    assert sent == PLANNED
    again = run_judge(_config(openai_server.url, questions), policy=FAST)
    assert len(openai_server.requests) == sent  # zero calls
    assert again.stats.cached == PLANNED and again.stats.called == 0 and again.stats.battles_written == 0
    monkeypatch.delenv("TEST_JUDGE_KEY")  # a fully cached re-run needs no key
    run_judge(_config(openai_server.url, questions), policy=FAST)
    battles = read_battles(open_store(store_url), source="judge:judge-x")
    assert len(battles) == PLANNED // 2 == first.stats.battles_written
    by_key = {(b.question_id, b.turn, b.model_a, b.model_b): b for b in battles}
    # q2 turn 1: alpha GOOD vs beta OK -> alpha; turn 2: alpha GOOD vs beta BAD -> alpha
    assert by_key[("q2", 1, "alpha", "beta")].winner == "model_a"
    assert by_key[("q3", 1, "alpha", "beta")].winner == "tie"  # OK vs OK
    assert by_key[("q2", 2, "beta", "gamma")].winner == "model_b"  # BAD vs OK
    b = by_key[("q1", 1, "alpha", "gamma")]
    meta = b.extra["conv_metadata"]  # style counts in FastChat's convention, as the readers write them
    assert b.extra["g1"] == b.extra["g2"] == "model_a" and meta["sum_assistant_a_tokens"] == len(["GOOD", "4"])
    assert meta == style_metadata(ANSWERS["alpha"]["q1"][0], ANSWERS["gamma"]["q1"][0])
    usage = results_report(open_store(store_url), judge="judge-x")["judges"][0]["usage"]
    assert usage["judgments"] == PLANNED and usage["cost_usd"] == pytest.approx(first.usage.cost_usd)
    results = {r["model"]: r for r in again.results}
    # alpha: wins q1 x2, q2t1 x2, q2t2 x2 (vs beta BAD, vs gamma OK), q3 vs gamma; ties q3 vs beta -> 7 W, 1 T
    assert (results["alpha"]["win"], results["alpha"]["loss"], results["alpha"]["tie"]) == (7, 0, 1)
    assert results["alpha"]["win_rate_adjusted"] == pytest.approx(7.5 / 8)


def test_position_bias_flips_become_ties(openai_server, questions, store_url, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = ScriptedJudge(verdict=lambda body: "The first one. [[A]]")
    outcome = run_judge(_config(openai_server.url, questions, models=["alpha", "beta"]), policy=FAST)
    battles = read_battles(open_store(store_url), source="judge:judge-x")
    assert len(battles) == 4 and all(b.winner == "tie" for b in battles)
    assert all(b.extra["g1"] == "model_a" and b.extra["g2"] == "model_b" for b in battles)
    assert outcome.results[0]["tie"] == 4
    verdicts = Counter(j.verdict for j in read_judgments(open_store(store_url)))
    assert verdicts == {"A": 8}  # both raw orders kept


def test_unparseable_forever_is_an_error_row_then_resumed(openai_server, questions, store_url, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    never = [chat_reply("no verdict here")] * 3
    openai_server.responder = ScriptedJudge({0: never})
    first = run_judge(_config(openai_server.url, questions, models=["alpha", "beta"]), policy=FAST)
    assert first.stats.errors == 1 and first.stats.battles_written == 3
    errors = [j for j in read_judgments(open_store(store_url)) if j.status == "error"]
    assert len(errors) == 1 and "exactly one verdict" in errors[0].error and errors[0].verdict is None
    second = run_judge(_config(openai_server.url, questions, models=["alpha", "beta"]), policy=FAST)
    assert second.stats.called == 1 and second.stats.errors == 0 and second.stats.battles_written == 1
    assert all(j.status == "ok" for j in read_judgments(open_store(store_url)))


def test_max_cost_stops_new_calls_and_rerun_finishes(openai_server, questions, store_url, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = ScriptedJudge()
    per_call = (100 * 1000 + 20 * 2000) / 1e6  # 0.14 USD
    config = _config(openai_server.url, questions, concurrency=1, max_cost=0.5)
    stopped = run_judge(config, policy=FAST)
    assert stopped.stopped_by_budget and stopped.stats.called == 4  # 4 x 0.14 >= 0.5
    assert stopped.usage.cost_usd == pytest.approx(4 * per_call)
    assert stopped.stats.skipped_budget == PLANNED - 4
    assert len(read_judgments(open_store(store_url))) == 4
    rest = run_judge(_config(openai_server.url, questions), policy=FAST)
    assert rest.stats.cached == 4 and rest.stats.called == PLANNED - 4
    assert len(openai_server.requests) == PLANNED


def test_fatal_refusal_keeps_finished_judgments(openai_server, questions, store_url, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = ScriptedJudge(
        {3: [Reply({"error": {"message": "no such model"}}, status=404)] * 9}
    )
    with pytest.raises(EndpointUnavailable):
        run_judge(_config(openai_server.url, questions, concurrency=1), policy=FAST)
    kept = read_judgments(open_store(store_url))
    assert len(kept) == 3 and all(j.status == "ok" for j in kept)  # the three answered before the refusal
    openai_server.responder = ScriptedJudge()
    rest = run_judge(_config(openai_server.url, questions), policy=FAST)
    assert rest.stats.cached == 3 and rest.stats.called == PLANNED - 3


def test_bad_key_is_endpoint_unavailable(openai_server, questions, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = lambda path, body: Reply({"error": {"message": "bad key"}}, status=401)
    with pytest.raises(EndpointUnavailable) as caught:
        run_judge(_config(openai_server.url, questions), policy=FAST)
    assert SECRET not in str(caught.value)


def test_openai_judge_without_key_fails_before_any_call(questions, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EndpointUnavailable, match="OPENAI_API_KEY"):
        run_judge(JudgeConfig(models=["alpha", "beta"], questions=questions, judge="gpt-4o"))


def test_single_grades_and_missing_answers(openai_server, questions, store_url, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    grades = {"GOOD": "[[9]]", "OK": "[[6]]", "BAD": "[[2]]"}

    def grade(body: dict) -> str:
        user = body["messages"][-1]["content"]
        # the last answer shown, in the project's prompts or FastChat's (the default)
        last = re.split(r"### Assistant(?: A)?:\n|\[(?:The Start of )?Assistant's [aA]nswer\]\n", user)[-1]
        return "Rating: " + grades[last.split()[0]]

    openai_server.responder = ScriptedJudge(verdict=grade)
    outcome = run_judge(_config(openai_server.url, questions, mode="single"), policy=FAST)
    assert outcome.stats.planned == 12
    scores = {r["model"]: r for r in outcome.results}
    assert scores["alpha"]["turns"] == {1: pytest.approx((9 + 9 + 6) / 3), 2: 9.0}
    assert scores["alpha"]["score"] == pytest.approx((9 + 9 + 6 + 9) / 4)
    with pytest.raises(HarnessError, match="no answers of model 'delta'"):
        run_judge(_config(openai_server.url, questions, models=["alpha", "delta"]), policy=FAST)


def test_interrupted_run_keeps_finished_judgments(openai_server, questions, store_url, monkeypatch):
    """SIGINT mid-run (a real `harness judge` process): finished judgments stay, a re-run asks only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def slow(path: str, body: dict) -> Reply:
        reply = ScriptedJudge()(path, body)
        reply.delay = 0.2
        return reply

    openai_server.responder = slow
    env = {**os.environ, "TEST_JUDGE_KEY": SECRET, "HARNESS_STORE": store_url}
    args = [
        sys.executable,
        "-m",
        "harness",
        "judge",
        "--models",
        "alpha,beta,gamma",
        "--questions",
        questions,
        "--judge",
        "judge-x",
        "--judge-base-url",
        openai_server.url,
        "--judge-api-key-env",
        "TEST_JUDGE_KEY",
        "--concurrency",
        "2",
        "--price-per-mtok",
        "1000,2000",
    ]
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(openai_server.requests) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-500:]
    answered = len(openai_server.requests)
    kept = read_judgments(open_store(store_url))
    assert 8 - 2 <= len(kept) <= answered < PLANNED  # at most the 2 calls in flight were lost
    assert len({j.cache_key for j in kept}) == len(kept)
    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    openai_server.responder = ScriptedJudge()
    rest = run_judge(_config(openai_server.url, questions), policy=FAST)
    assert rest.stats.cached == len(kept) and rest.stats.called == PLANNED - len(kept)
    assert len(read_battles(open_store(store_url), source="judge:judge-x")) == PLANNED // 2


def test_questions_a_model_did_not_answer_are_left_out(openai_server, tmp_path, store_url, monkeypatch):
    from harness.records import Generation
    from harness.store.generations import write_generations

    monkeypatch.setenv("TEST_JUDGE_KEY", SECRET)
    questions = str(write_question_file(tmp_path))
    store_answers(store_url, models=["alpha"])
    partial = Generation(
        gen_key="beta-q2", content_key="c-beta-q2", model="beta", model_fingerprint="fp-beta", question_set="mini", question_id="q2", turns=["OK haiku"], config={}
    )  # 1 of 2 turns
    write_generations(open_store(store_url), [partial])
    openai_server.responder = ScriptedJudge()
    outcome = run_judge(_config(openai_server.url, questions, models=["alpha", "beta"]), policy=FAST)
    assert outcome.stats.planned == 2  # q2 turn 1 only: beta has no q1/q3 and no second turn of q2
    (battle,) = read_battles(open_store(store_url), source="judge:judge-x")
    assert (battle.question_id, battle.turn, battle.winner) == ("q2", 1, "model_a")
