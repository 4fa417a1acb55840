"""`harness generate`: the tiny model through lm-eval's HFLM, and a chat server through the async client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError, RunFailed
from harness.generate import GenerateConfig, history, run_generate
from harness.records import Question
from harness.store import open_store
from harness.store.generations import read_answers
from harness.store.runs import count_rows
from tests.openai_server import Reply, chat_reply

QUESTIONS = [
    {"question_id": "a", "category": "math", "turns": ["What is 1+2?"], "reference": ["3"]},
    {"question_id": "b", "category": "chat", "turns": ["Say hi.", "Say bye.", "Say thanks."]},
]


@pytest.fixture
def question_file(tmp_path: Path) -> str:
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return str(path)


def test_history_is_turn_by_turn():
    q = Question(question_id="b", category="chat", turns=("one", "two", "three"))
    assert history(q, ["A1", "A2"], 2) == [
        {"role": "user", "content": "one"}, {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "two"}, {"role": "assistant", "content": "A2"},
        {"role": "user", "content": "three"},
    ]


def _echo(path: str, body: dict) -> Reply:
    messages = body["messages"]
    return chat_reply(f"reply {len(messages) // 2 + 1} to {messages[-1]['content']}")


def test_chat_server_multi_turn_cached_and_renamed(openai_server, question_file, store_url):
    openai_server.responder = _echo
    config = GenerateConfig(model="served-model", questions=question_file, backend="local-chat-completions",
                            base_url=openai_server.url, max_new_tokens=16)
    first = run_generate(config)
    assert (first.generated, first.cached, first.question_set) == (2, 0, "few")
    answers = read_answers(open_store(), "served-model", "few")
    assert answers["a"] == ["reply 1 to What is 1+2?"]
    assert answers["b"] == ["reply 1 to Say hi.", "reply 2 to Say bye.", "reply 3 to Say thanks."]
    third = next(body for _, body, _ in openai_server.requests if body["messages"][-1]["content"] == "Say thanks.")
    assert [m["content"] for m in third["messages"] if m["role"] == "assistant"] == answers["b"][:2]
    assert all(body["max_tokens"] == 16 for _, body, _ in openai_server.requests)
    sent = len(openai_server.requests)
    again = run_generate(config)
    assert (again.generated, again.cached) == (0, 2) and len(openai_server.requests) == sent
    renamed = run_generate(config.model_copy(update={"name": "alias"}))  # same checkpoint, new name: copied
    assert renamed.generated == 0 and len(openai_server.requests) == sent
    assert read_answers(open_store(), "alias", "few") == answers
    longer = run_generate(config.model_copy(update={"max_new_tokens": 32}))  # new config: new answers
    assert longer.generated == 2 and len(openai_server.requests) == sent + 4


def test_chat_server_errors_are_retried_then_fail_cleanly(openai_server, question_file, store_url, monkeypatch):
    slept: list[float] = []

    async def no_wait(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr("harness.client.asyncio.sleep", no_wait)
    calls = {"n": 0}

    def flaky(path: str, body: dict) -> Reply:
        calls["n"] += 1
        return Reply({"error": {"message": "busy"}}, status=500) if calls["n"] == 1 else _echo(path, body)

    openai_server.responder = flaky
    config = GenerateConfig(model="m", questions=question_file, backend="local-chat-completions",
                            base_url=openai_server.url)
    assert run_generate(config).generated == 2 and len(slept) == 1  # the 500 was retried once
    openai_server.responder = lambda path, body: Reply({"error": {"message": "bad"}}, status=400)
    with pytest.raises(RunFailed, match="failed"):
        run_generate(config.model_copy(update={"name": "other", "max_new_tokens": 8}))
    with pytest.raises(HarnessError, match="needs --base-url"):
        run_generate(GenerateConfig(model="m", questions=question_file, backend="local-chat-completions"))


def test_tiny_model_generates_with_template_and_skips_stored(tiny_model_dir, question_file, store_url):
    config = GenerateConfig(model=str(tiny_model_dir), name="tiny", questions=question_file, max_new_tokens=4,
                            batch_size=4)
    first = run_generate(config)
    assert (first.generated, first.chat_template) == (2, "alpaca")  # the tiny model has no template of its own
    answers = read_answers(open_store(), "tiny", "few")
    assert [len(answers[q]) for q in ("a", "b")] == [1, 3]
    again = run_generate(config)
    assert (again.generated, again.cached) == (0, 2)
    assert count_rows(open_store())["models"] == 1
    with pytest.raises(HarnessError, match="no chat template of its own"):
        run_generate(config.model_copy(update={"chat_template": "tokenizer"}))


def test_fastchat_temperatures_per_category(openai_server, question_file, store_url):
    from harness.generate import FASTCHAT_TEMPERATURES, question_temperature

    openai_server.responder = _echo
    base = GenerateConfig(model="served-model", questions=question_file, backend="local-chat-completions",
                          base_url=openai_server.url, max_new_tokens=16)
    run_generate(base)
    assert {body["temperature"] for _, body, _ in openai_server.requests} == {0.0}
    sent = len(openai_server.requests)
    fastchat = base.model_copy(update={"temperatures": "fastchat"})
    outcome = run_generate(fastchat)  # a new generation setting: asked again, not served from the greedy rows
    assert outcome.generated == 2
    by_question = {body["messages"][0]["content"]: body["temperature"] for _, body, _ in openai_server.requests[sent:]}
    assert by_question == {"What is 1+2?": FASTCHAT_TEMPERATURES["math"], "Say hi.": 0.7}  # "chat" is no FastChat category
    assert question_temperature(fastchat, Question(question_id="s", category="stem", turns=("x",))) == 0.1
    assert question_temperature(base, Question(question_id="s", category="writing", turns=("x",))) == 0.0
