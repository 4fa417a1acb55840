"""Self-instruct against the loopback OpenAI-compatible server: parsing, filters, resume, accounting, failures."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from fine_tune.self_instruct import (
    NoveltyFilter,
    SelfInstructConfig,
    Task,
    build_prompt,
    load_seed_tasks,
    parse_tasks,
    rejection_reason,
    run_self_instruct,
)
from harness.errors import EndpointUnavailable, HarnessError
from tests.openai_server import Reply, chat_reply

KEY_ENV = "SELF_INSTRUCT_TEST_KEY"
SECRET = "sk-test-NEVER-WRITE-5a4b3c2d"

SEEDS = [
    {"id": "s0", "instruction": "Suggest a healthy breakfast that does not include eggs.",
     "instances": [{"input": "", "output": "Oatmeal with berries and nuts."}]},
    {"id": "s1", "instruction": "Classify the sentiment of the sentence as positive or negative.",
     "instances": [{"input": "I loved the film.", "output": "positive"}]},
    {"id": "s2", "instruction": "Translate the sentence into French.",
     "instances": [{"input": "Good morning, my friend.", "output": "Bonjour, mon ami."}]},
]


def _response(*tasks: tuple[str, str, str]) -> str:
    blocks = [f"{i}. Instruction: {ins}\n{i}. Input:\n{inp or '<noinput>'}\n{i}. Output:\n{out}"
              for i, (ins, inp, out) in enumerate(tasks, start=1)]
    return "\n###\n".join(blocks) + "\n###"


ROUND_ONE = _response(
    ("Explain why the sky looks blue during the day.", "", "Air scatters blue light more than red light."),
    ("Suggest a healthy breakfast that does not include eggs or milk.", "", "Porridge."),  # near-copy of seed 0
    ("Draw a picture of a cat sitting on a mat.", "", "..."),  # blocklist: draw, picture
    ("Explain why the sky looks blue during the day.", "", "Again."),  # exact duplicate within the reply
    ("Summarize.", "", "Too short."),  # length
    ("Rewrite the sentence in the passive voice.", "The dog chased the ball.", "The ball was chased by the dog."),
)
ROUND_TWO = _response(
    ("List three benefits of regular exercise for older adults.", "", "Strength, balance, mood."),
    ("Write a program that sorts numbers.", "", "sorted(x)"),  # "Write a program" filter
    ("Convert the temperature from Celsius to Fahrenheit.", "25 C", "77 F"),
)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed_tasks.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in SEEDS) + "\n")
    return path


def _script(server: Any, texts: list[str], usage: tuple[int, int] = (100, 50)) -> None:
    counter, lock = itertools.count(), threading.Lock()

    def respond(path: str, body: dict[str, Any]) -> Reply:
        with lock:
            n = next(counter)
        return chat_reply(texts[min(n, len(texts) - 1)], prompt_tokens=usage[0], completion_tokens=usage[1])

    server.responder = respond


def _config(seed_file: Path, out: Path, server: Any, **kw: Any) -> SelfInstructConfig:
    return SelfInstructConfig(seed_tasks=str(seed_file), out=str(out), base_url=server.url, api_key_env=KEY_ENV,
                              model="fake", max_retries=0, **{"num": 3, "concurrency": 1, **kw})


def test_parse_numbered_tasks() -> None:
    tasks = parse_tasks(ROUND_ONE)
    assert len(tasks) == 6
    assert tasks[0] == Task("Explain why the sky looks blue during the day.", "",
                            "Air scatters blue light more than red light.")
    assert tasks[5].input == "The dog chased the ball." and tasks[5].output == "The ball was chased by the dog."
    assert parse_tasks(ROUND_ONE, truncated=True) == tasks[:-1]  # a cut-off reply loses its last task
    assert parse_tasks("Sorry, I cannot help with that.") == []


def test_prompt_shows_examples_in_the_answer_layout() -> None:
    prompt = build_prompt([Task("Translate it.", "Hello", "Bonjour"), Task("Name a prime.", "", "7")], 20)
    assert "Write 20 new tasks" in prompt
    assert "###\n1. Instruction: Translate it.\n1. Input:\nHello\n1. Output:\nBonjour\n" in prompt
    assert "2. Input:\n<noinput>\n" in prompt
    assert parse_tasks(prompt) == [Task("Translate it.", "Hello", "Bonjour"), Task("Name a prime.", "", "7")]


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [("Draw a map of your town.", "blocklist"), ("Plot the data as a chart, please.", "blocklist"),
     ("Go to the shop and buy bread.", "blocklist"), ("Do it now.", "length"),
     ("Write a program that prints hello.", "program"), ("¿Qué hora es ahora mismo?", "non_ascii"),
     ("- list some fruits that are red", "punctuation"), ("Name three rivers in Europe.", None),
     ("Profile the performance of this loop.", None)],  # "file" inside "Profile" is not the word "file"
)
def test_cheap_filters(instruction: str, reason: str | None) -> None:
    assert rejection_reason(Task(instruction, "", "ok")) == reason


def test_rouge_filter_rejects_near_duplicates() -> None:
    novelty = NoveltyFilter(0.7, ["Give three tips for staying healthy."])
    assert novelty.check("Give three tips for staying healthy and happy.") == "similar"
    assert novelty.check("give three tips  for staying healthy.") == "duplicate"
    assert novelty.check("Name the capital city of Australia.") is None
    assert novelty.check("Name the capital city of Austria.") == "similar"  # compared with kept ones too


def test_generation_filters_and_counts(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    _script(openai_server, [ROUND_ONE, ROUND_TWO])
    out = tmp_path / "generated.json"
    result = run_self_instruct(_config(seed_file, out, openai_server, num=4, prompt_price=2.0,
                                       completion_price=4.0))
    rows = json.loads(out.read_text())
    assert [r["instruction"] for r in rows] == [
        "Explain why the sky looks blue during the day.", "Rewrite the sentence in the passive voice.",
        "List three benefits of regular exercise for older adults.",
        "Convert the temperature from Celsius to Fahrenheit."]
    assert rows[0] == {"instruction": rows[0]["instruction"], "input": "",
                       "output": "Air scatters blue light more than red light."}
    assert rows[1]["input"] == "The dog chased the ball."
    assert dict(result.progress.rejected) == {"similar": 1, "blocklist": 1, "duplicate": 1, "length": 1,
                                              "program": 1}
    assert result.progress.requests == 2 and result.added == 4
    assert (result.progress.usage.prompt_tokens, result.progress.usage.completion_tokens) == (200, 100)
    assert result.cost_usd == pytest.approx((200 * 2.0 + 100 * 4.0) / 1e6)
    body = openai_server.requests[0][1]
    assert body["model"] == "fake" and "Examples:" in body["messages"][0]["content"]
    state = json.loads((tmp_path / "generated.json.state.json").read_text())
    assert state["requests"] == 2 and "api_key" not in state["config"]


def test_generated_file_loads_as_alpaca_training_data(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    from fine_tune.data import load_data

    _script(openai_server, [ROUND_ONE])
    out = tmp_path / "gen.json"
    run_self_instruct(_config(seed_file, out, openai_server, num=2))
    assert len(load_data(out, "alpaca").examples) == 2


def test_resume_keeps_rows_and_counters(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    _script(openai_server, [ROUND_ONE, ROUND_TWO])
    out = tmp_path / "gen.json"
    first = run_self_instruct(_config(seed_file, out, openai_server, num=2))
    assert first.total == 2 and first.progress.requests == 1
    again = run_self_instruct(_config(seed_file, out, openai_server, num=2))
    assert again.added == 0 and len(openai_server.requests) == 1  # already done: no request sent
    more = run_self_instruct(_config(seed_file, out, openai_server, num=4))
    assert more.total == 4 and more.added == 2 and more.progress.requests == 2
    assert more.progress.usage.prompt_tokens == 200  # counters continue from the state file


def test_round_sends_concurrent_requests(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    _script(openai_server, [ROUND_ONE, ROUND_TWO, ROUND_TWO, ROUND_TWO])
    result = run_self_instruct(_config(seed_file, tmp_path / "gen.json", openai_server, num=50, concurrency=4,
                                       max_rounds=1))
    assert result.progress.requests == 4 and len(openai_server.requests) == 4
    prompts = {body["messages"][0]["content"] for _, body, _ in openai_server.requests}
    assert len(prompts) > 1  # each request samples its own examples
    assert result.total == 4  # the later replies only repeat ROUND_TWO, which is filtered as duplicates


def test_stops_when_rounds_add_nothing(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    _script(openai_server, [ROUND_ONE])  # the same reply forever: nothing new after the first round
    result = run_self_instruct(_config(seed_file, tmp_path / "gen.json", openai_server, num=50))
    assert result.total == 2 and result.progress.requests == 4  # 1 productive round + 3 idle ones


def test_failing_endpoint_raises_and_keeps_state(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    openai_server.responder = lambda path, body: Reply({"error": {"message": "boom"}}, status=500)
    out = tmp_path / "gen.json"
    with pytest.raises(EndpointUnavailable, match="every request"):
        run_self_instruct(_config(seed_file, out, openai_server, concurrency=2))
    state = json.loads((tmp_path / "gen.json.state.json").read_text())
    assert state["requests"] == 2 and state["failed_requests"] == 2


def test_real_seed_tasks_load(shared_data: Path) -> None:
    seeds = load_seed_tasks(shared_data / "self_instruct" / "seed_tasks.jsonl")
    assert len(seeds) == 175 and sum(bool(t.input) for t in seeds) == 125
    novelty = NoveltyFilter(0.7, [t.instruction for t in seeds])
    assert novelty.check(seeds[10].instruction + " Please.") in ("similar", "duplicate")


def test_bad_seed_files(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="no seed tasks"):
        load_seed_tasks(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instruction": "ok task here", "instances": []}) + "\n")
    with pytest.raises(HarnessError, match="record 0: field 'instances'"):
        load_seed_tasks(bad)


def test_cli_self_instruct_json(openai_server: Any, seed_file: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    _script(openai_server, [ROUND_ONE])
    out = tmp_path / "gen.json"
    result = CliRunner().invoke(app, ["self-instruct", "--seed-tasks", str(seed_file), "--num", "2", "--out", str(out),
                                      "--model", "fake", "--base-url", openai_server.url, "--concurrency", "1",
                                      "--prompt-price", "1", "--completion-price", "2", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["total"], doc["added"], doc["requests"]) == (2, 2, 1)
    assert doc["usage"] == {"calls": 1, "retries": 0, "prompt_tokens": 100, "completion_tokens": 50,
                            "cost_usd": pytest.approx(0.0002)}
    assert doc["cost_usd"] == 0.0002
    assert doc["rejected"] == {"similar": 1, "blocklist": 1, "duplicate": 1, "length": 1}


def test_resume_reads_a_state_file_from_before_the_shared_client(openai_server: Any, seed_file: Path,
                                                                 tmp_path: Path) -> None:
    _script(openai_server, [ROUND_TWO])
    out = tmp_path / "gen.json"
    out.write_text(json.dumps([{"instruction": "Name three rivers in Europe.", "input": "", "output": "Rhine."}]))
    (tmp_path / "gen.json.state.json").write_text(json.dumps(
        {"requests": 5, "failed_requests": 1, "prompt_tokens": 700, "completion_tokens": 300,
         "rejected": {"length": 2}, "cost_usd": 0.5}))
    result = run_self_instruct(_config(seed_file, out, openai_server, num=2, prompt_price=1.0, completion_price=0.0))
    usage = result.progress.usage
    assert (result.progress.requests, result.progress.failed_requests) == (6, 1)
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (6, 800, 350)
    assert usage.cost_usd == pytest.approx(0.5 + 100 / 1e6)
    assert json.loads((tmp_path / "gen.json.state.json").read_text())["usage"]["prompt_tokens"] == 800
