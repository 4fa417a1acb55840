"""The shared model client as its three users see it: judge, generate and self-instruct against a loopback server.

Each user gets the same retry (429 + Retry-After, then 200), the same usage accounting and the same key
handling (the key reaches the server's Authorization header and no file or log), and a 401 stops each of them
through the CLI with a one-line error and exit code 3.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.client import Endpoint, ModelClient, RetryPolicy, Sampling, Usage
from harness.errors import UnparseableReply
from tests.judge_fixtures import ScriptedJudge, store_answers, write_question_file
from tests.openai_server import FakeOpenAI, Reply, chat_reply

SECRET = "sk-test-NEVER-LEAK-0a1b2c3d"
KEY_ENV = "CLIENT_TEST_KEY"
TASKS = "1. Instruction: Explain why the sky looks blue.\n1. Input:\n<noinput>\n1. Output:\nScattering.\n###"
SEEDS = [{"instruction": "Translate the sentence into French.", "input": "Good morning.", "output": "Bonjour."}]


def _once_then(fault: Reply, answer: Callable[[str, dict[str, Any]], Reply]) -> Callable[..., Reply]:
    """A responder that serves `fault` to the very first request and `answer` to every request after it."""
    counter, lock = itertools.count(), threading.Lock()

    def respond(path: str, body: dict[str, Any]) -> Reply:
        with lock:
            n = next(counter)
        return fault if n == 0 else answer(path, body)

    return respond


def _slow_down(headers: dict[str, str]) -> Reply:
    return Reply({"error": {"message": "slow down"}}, status=429, headers=headers)


def _run_judge(server: FakeOpenAI, tmp_path: Path, store_url: str, fault: Reply) -> Usage:
    from harness.judge.plan import JudgeConfig
    from harness.judge.run import run_judge

    store_answers(store_url, models=["alpha", "beta"])
    server.responder = ScriptedJudge({0: [fault]})
    config = JudgeConfig(models=["alpha", "beta"], questions=str(write_question_file(tmp_path)), judge="judge-x",
                         judge_base_url=server.url, judge_api_key_env=KEY_ENV, price_per_mtok=(1.0, 2.0))
    return run_judge(config, policy=RetryPolicy(jitter=0.0)).usage


def _run_generate(server: FakeOpenAI, tmp_path: Path, store_url: str, fault: Reply) -> Usage:
    from harness.generate import GenerateConfig, run_generate

    questions = tmp_path / "few.jsonl"
    questions.write_text("".join(json.dumps({"question_id": q, "turns": [f"Say {q}."]}) + "\n" for q in "abcd"))
    server.responder = _once_then(fault, lambda path, body: chat_reply("hi", 10, 5))
    outcome = run_generate(GenerateConfig(model="gpt-4o-mini", questions=str(questions), backend="local-chat-completions",
                                          base_url=server.url, api_key_env=KEY_ENV))
    assert outcome.generated == 4 and outcome.usage is not None
    assert outcome.to_json()["usage"]["retries"] == 1
    return outcome.usage


def _run_self_instruct(server: FakeOpenAI, tmp_path: Path, store_url: str, fault: Reply) -> Usage:
    from fine_tune.self_instruct import SelfInstructConfig, run_self_instruct

    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(SEEDS))
    server.responder = _once_then(fault, lambda path, body: chat_reply(TASKS, 10, 5))
    out = tmp_path / "gen.json"
    result = run_self_instruct(SelfInstructConfig(seed_tasks=str(seeds), num=1, out=str(out), model="fake",
                                                  base_url=server.url, api_key_env=KEY_ENV, concurrency=4,
                                                  prompt_price=1.0, completion_price=2.0))
    assert result.total == 1 and result.progress.requests == 4 and result.progress.failed_requests == 0
    state = json.loads((tmp_path / "gen.json.state.json").read_text())
    assert state["usage"] == {**result.to_json()["usage"], "cost_usd": pytest.approx(state["cost_usd"])}
    return result.progress.usage


USERS = {"judge": _run_judge, "generate": _run_generate, "self-instruct": _run_self_instruct}
LOGICAL_CALLS = {"judge": 8, "generate": 4, "self-instruct": 4}  # judge: 4 turns x 1 pair x 2 orders
TOKENS_PER_REPLY = {"judge": (100, 20), "generate": (10, 5), "self-instruct": (10, 5)}
# judge and self-instruct are given a price; generate has none and finds gpt-4o-mini in the price table
PRICE = {"judge": (1.0, 2.0), "generate": (0.15, 0.60), "self-instruct": (1.0, 2.0)}


@pytest.mark.parametrize(
    ("headers", "wait"), [({"Retry-After": "1.5"}, 1.5), ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25)]
)
@pytest.mark.parametrize("user", list(USERS))
def test_each_user_retries_a_429_after_retry_after_and_counts_usage(
    user: str, headers: dict[str, str], wait: float, openai_server: FakeOpenAI, tmp_path: Path, store_url: str,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    slept: list[float] = []

    async def no_wait(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr("harness.client.asyncio.sleep", no_wait)
    usage = USERS[user](openai_server, tmp_path, store_url, _slow_down(headers))
    calls = LOGICAL_CALLS[user]
    assert slept == [wait]  # the server's wish, not the policy's own 1 s backoff
    assert len(openai_server.requests) == calls + 1
    assert (usage.calls, usage.retries) == (calls + 1, 1)
    prompt, completion = (calls * n for n in TOKENS_PER_REPLY[user])  # the 429 bills nothing
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, completion)
    assert usage.cost_usd == pytest.approx((prompt * PRICE[user][0] + completion * PRICE[user][1]) / 1e6)
    # the key went to the server and nowhere else: no file under tmp_path (store, output, state), no log
    auth = {{k.lower(): v for k, v in h.items()}.get("authorization") for _, _, h in openai_server.requests}
    assert auth == {f"Bearer {SECRET}"}
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert SECRET not in caplog.text


def _cli_judge(url: str, tmp_path: Path, store_url: str) -> list[str]:
    store_answers(store_url, models=["alpha", "beta"])
    return ["judge", "--models", "alpha,beta", "--questions", str(write_question_file(tmp_path)), "--judge",
            "judge-x", "--judge-base-url", url, "--judge-api-key-env", KEY_ENV]


def _cli_generate(url: str, tmp_path: Path, store_url: str) -> list[str]:
    return ["generate", "--model", "served", "--questions", "arith", "--backend", "local-chat-completions",
            "--base-url", url]


def _cli_self_instruct(url: str, tmp_path: Path, store_url: str) -> list[str]:
    seeds = tmp_path / "seeds.json"
    seeds.write_text(json.dumps(SEEDS))
    return ["self-instruct", "--seed-tasks", str(seeds), "--num", "2", "--out", str(tmp_path / "gen.json"),
            "--model", "fake", "--base-url", url, "--concurrency", "1"]


CLI = {"judge": (_cli_judge, KEY_ENV), "generate": (_cli_generate, "OPENAI_API_KEY"),
       "self-instruct": (_cli_self_instruct, "OPENAI_API_KEY")}


@pytest.mark.parametrize("user", list(CLI))
def test_a_401_stops_each_user_with_one_line_and_exit_code_3(
    user: str, openai_server: FakeOpenAI, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, key_env = CLI[user]
    monkeypatch.setenv(key_env, SECRET)
    openai_server.responder = lambda path, body: Reply({"error": {"message": "invalid key"}}, status=401)
    result = CliRunner().invoke(app, args(openai_server.url, tmp_path, store_url))
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # INFO logs come first
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:], result.stderr  # one error line, the last thing printed
    assert "refused the API key (HTTP 401)" in errors[0] and f"${key_env}" in errors[0]
    assert "Traceback" not in result.output and SECRET not in result.output
    bodies = [json.dumps(body, sort_keys=True) for _, body, _ in openai_server.requests]
    assert bodies and len(set(bodies)) == len(bodies)  # no request was sent twice: a refused key is not retried


def test_sampling_reaches_the_request_and_finish_reason_comes_back(openai_server: FakeOpenAI) -> None:
    def respond(path: str, body: dict[str, Any]) -> Reply:
        reply = chat_reply("cut off")
        reply.body["choices"][0]["finish_reason"] = "length"
        return reply

    openai_server.responder = respond
    endpoint = Endpoint(model="m", base_url=openai_server.url, sampling=Sampling(temperature=0.7, max_tokens=9))

    async def ask() -> Any:
        client = ModelClient(endpoint, "k")
        try:
            plain = await client.complete([{"role": "user", "content": "x"}], str)
            other = await client.complete([{"role": "user", "content": "y"}], str,
                                          Sampling(temperature=1.0, max_tokens=3, top_p=0.9, stop=("\n20.",)))
        finally:
            await client.close()
        return plain, other

    plain, other = asyncio.run(ask())
    assert other.ok and other.text == "cut off"
    assert (plain.text, plain.finish_reason, plain.attempts) == ("cut off", "length", 1)
    first, second = (body for _, body, _ in openai_server.requests)
    assert (first["temperature"], first["max_tokens"]) == (0.7, 9) and "top_p" not in first and "stop" not in first
    assert (second["temperature"], second["max_tokens"], second["top_p"], second["stop"]) == (1.0, 3, 0.9, ["\n20."])


def test_unparseable_replies_are_asked_again_then_returned_as_errors(openai_server: FakeOpenAI) -> None:
    texts = iter(["no", "still no", "42"])
    openai_server.responder = lambda path, body: chat_reply(next(texts))

    def number(text: str) -> int:
        if not text.isdigit():
            raise UnparseableReply(f"not a number: {text!r}")
        return int(text)

    async def ask(attempts: int) -> Any:
        client = ModelClient(Endpoint(model="m", base_url=openai_server.url,
                                      policy=RetryPolicy(parse_attempts=attempts)), "k")
        try:
            return await client.complete([{"role": "user", "content": "n?"}], number), client.usage
        finally:
            await client.close()

    done, usage = asyncio.run(ask(3))
    assert (done.value, done.attempts, done.prompt_tokens) == (42, 3, 30) and usage.retries == 2
    texts = iter(["no"] * 2)
    failed, _ = asyncio.run(ask(2))
    assert failed.value is None and failed.error is not None and "unparseable reply after 2 tries" in failed.error


@pytest.mark.parametrize("aiohttp_installed", [True, False])
def test_the_client_speaks_through_aiohttp_when_installed_else_httpx(
    openai_server: FakeOpenAI, aiohttp_installed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not aiohttp_installed:
        monkeypatch.setitem(__import__("sys").modules, "aiohttp", None)  # `import aiohttp` fails
    openai_server.responder = _once_then(_slow_down({"retry-after-ms": "10"}), lambda p, b: chat_reply("fine"))
    client = ModelClient(Endpoint(model="m", base_url=openai_server.url), SECRET)

    async def ask() -> Any:
        try:
            return await client.complete([{"role": "user", "content": "hi"}], str)
        finally:
            await client.close()

    done = asyncio.run(ask())
    assert ("aiohttp" in type(client._client._client).__name__.lower()) == aiohttp_installed
    assert (done.text, done.attempts) == ("fine", 2)  # the 429 retried the same way over either transport
    headers = {name.lower(): value for name, value in openai_server.requests[-1][2].items()}
    assert headers["authorization"] == f"Bearer {SECRET}"
