"""lm-eval's options through `harness eval`: each reaches lm-eval, keys the cache and is recorded on the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.eval.backends import ResolvedModel
from harness.eval.config import EvalConfig, SuiteTask
from harness.eval.plan import key_settings
from harness.eval.templates import load_chat_template
from harness.fingerprint import content_hash
from harness.records import ModelRecord
from harness.store import open_store
from harness.store.runs import get_run

runner = CliRunner()


def harness(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _key(**options: Any) -> str:
    config = EvalConfig(model="m", tasks=["arith_gen"], **options)
    model = ResolvedModel(ModelRecord(name="m", source="m", fingerprint="sha256:0"), "m")
    template = load_chat_template(options["chat_template"]) if options.get("chat_template") else None
    return content_hash(key_settings(config, model, template, SuiteTask(task="arith_gen")))


@pytest.mark.parametrize("options", [
    {"system_instruction": "Be brief."}, {"gen_kwargs": "temperature=0.7,top_p=0.9"}, {"revision": "v2"},
    {"max_length": 256}, {"seed": 7}, {"backend": "local-chat-completions", "base_url": "http://x/v1/chat/completions"},
    {"chat_template": "vicuna"}, {"chat_template": "vicuna", "fewshot_as_multiturn": False},
])
def test_every_option_is_part_of_the_cache_key(options: dict[str, Any]) -> None:
    assert _key(**options) != _key()
    assert _key(**options) == _key(**options)


def test_gen_kwargs_are_parsed_as_lm_eval_parses_them() -> None:
    config = EvalConfig(model="m", tasks=["x"], gen_kwargs="temperature=0,top_p=0.9,do_sample=false,until='\n'")
    assert config.gen_kwargs == {"temperature": 0, "top_p": 0.9, "do_sample": False, "until": "\n"}


def test_options_reach_lm_eval_and_are_recorded(tiny_model_dir: Path) -> None:
    args = ["eval", "--model", str(tiny_model_dir), "--tasks", "arith_gen", "--limit", "4", "--json",
            "--system-instruction", "Reply with a number.", "--gen-kwargs", "max_gen_toks=1", "--seed", "3",
            "--max-length", "200"]
    code, out, err = harness(*args)
    assert code == 0, err
    doc = json.loads(out)
    run = get_run(open_store(), doc["run_id"])
    config = run["config"]
    assert config["system_instruction"] == "Reply with a number." and config["gen_kwargs"] == {"max_gen_toks": 1}
    assert config["seed"] == 3 and config["max_length"] == 200
    assert config["lm_eval_options"]["fewshot_as_multiturn"] is False
    assert config["lm_eval_options"]["fewshot_random_seed"] == 3
    with open_store().engine.connect() as conn:
        prompts = [row[0] for row in conn.exec_driver_sql("select prompt from samples")]
    assert len(prompts) == 4 and all(p.startswith("Reply with a number.") for p in prompts)
    from harness.store.runs import read_task_result

    logs = [s.log for s in read_task_result(open_store(), doc["run_id"], "arith_gen").samples]
    assert all(log is not None and log["arguments"][0][1]["max_gen_toks"] == 1 for log in logs)  # reached lm-eval
    code, out, _ = harness(*args)
    assert json.loads(out)["cached"] is True
    code, out, _ = harness(*args[:-2], "--max-length", "100")
    assert code == 0 and json.loads(out)["cached"] is False


@pytest.mark.parametrize("args, message", [
    (["--fewshot-as-multiturn"], "--fewshot-as-multiturn needs a chat template"),
    (["--revision", "main"], "names a hub revision"),
    (["--max-length", "0"], "bad value for --max_length"),
])
def test_bad_options_fail_cleanly(tiny_model_dir: Path, store_url: str, args: list[str], message: str) -> None:
    code, _, err = harness("eval", "--model", str(tiny_model_dir), "--tasks", "arith_gen", *args)
    assert code == 2 and message in " ".join(err.split())
    assert not Path(store_url.removeprefix("sqlite:///")).exists()  # the store untouched


def test_local_chat_completions_backend_sends_messages(openai_server: Any) -> None:
    from tests.openai_server import chat_reply

    def answer(path: str, body: dict) -> object:
        question = body["messages"][-1]["content"]
        a, b = question.removeprefix("What is ").rstrip("?").split("+")
        return chat_reply(str(int(a) + int(b)))

    openai_server.responder = answer
    code, out, err = harness("eval", "--model", "served", "--backend", "local-chat-completions",
                             "--base-url", f"{openai_server.url}/chat/completions", "--tasks", "arith_gen",
                             "--limit", "4", "--system-instruction", "You add numbers.", "--json")
    assert code == 0, err
    bodies = [body for path, body, _ in openai_server.requests]
    assert len(bodies) == 4 and all(b["messages"][0] == {"role": "system", "content": "You add numbers."}
                                    for b in bodies)
    doc = json.loads(out)
    assert doc["scores"][0]["value"] == 1.0
    assert get_run(open_store(), doc["run_id"])["backend"] == "local-chat-completions"


def test_reply_delimiters_are_read_from_the_templates(tmp_path: Path) -> None:
    assert load_chat_template("vicuna").reply_delimiter == " " and load_chat_template("alpaca").reply_delimiter == ""
    (tmp_path / "chatml.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    assert load_chat_template(str(tmp_path / "chatml.jinja")).reply_delimiter == ""


@pytest.mark.parametrize("template, recipe_format", [("vicuna", "sharegpt")])
def test_choices_are_scored_as_the_template_trains_replies(tiny_model_dir: Path, template: str,
                                                           recipe_format: str) -> None:
    """Under the Vicuna template each choice is scored on exactly the tokens a Vicuna fine-tune trains: " 46" after
    "ASSISTANT:", where lm-eval alone would score "46" (a token sequence the model never saw after the colon).
    (Alpaca needs no delimiter: its generation prompt ends with a newline, which lm-eval moves into the
    continuation itself.)"""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fine_tune.data import (
        PROMPT_FORMATS,
        alpaca_messages,
        render_segments,
        sharegpt_messages,
        tokenize_segments,
    )
    from harness.store.runs import read_task_result

    code, out, err = harness("eval", "--model", str(tiny_model_dir), "--tasks", "arith_mc", "--limit", "3",
                             "--chat-template", template, "--json")
    assert code == 0, err
    samples = read_task_result(open_store(), json.loads(out)["run_id"], "arith_mc").samples
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    for sample in samples:
        assert sample.log is not None
        doc, label = sample.log["doc"], sample.log["doc"]["label"]
        context, continuation = sample.log["arguments"][label]
        assert context.endswith("ASSISTANT:")
        assert continuation == load_chat_template(template).reply_delimiter + doc["answer"]
        row = ({"conversations": [{"from": "human", "value": doc["question"]}, {"from": "gpt", "value": doc["answer"]}]}
               if recipe_format == "sharegpt" else {"instruction": doc["question"], "output": doc["answer"]})
        messages = (sharegpt_messages if recipe_format == "sharegpt" else alpaca_messages)(row)
        trained = tokenize_segments(render_segments(messages, PROMPT_FORMATS[template]), tokenizer, 512)
        positions = [i for i, label_id in enumerate(trained.labels) if label_id != -100][:-1]  # the reply, no eos
        with torch.no_grad():
            logits = model(torch.tensor([trained.input_ids])).logits[0].log_softmax(-1)
        expected = sum(float(logits[i - 1, trained.input_ids[i]]) for i in positions)
        assert sample.log["filtered_resps"][label][0] == pytest.approx(expected, abs=1e-4)
