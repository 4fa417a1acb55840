"""Alpaca and Vicuna v1.1 chat templates render the published prompt strings exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.eval.templates import BUILTIN_TEMPLATES, load_chat_template, render_alpaca_prompt

ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nName a colour.\n\n### Response:\n"
)
VICUNA_TWO_TURNS = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: Hi ASSISTANT: Hello!</s>USER: Name a colour. "
    "ASSISTANT:"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def render(tokenizer, name: str, messages: list[dict[str, str]], generation: bool = True) -> str:
    tokenizer.chat_template = BUILTIN_TEMPLATES[name]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def test_alpaca_template_renders_the_stanford_prompt(tokenizer) -> None:
    text = render(tokenizer, "alpaca", [{"role": "user", "content": "Name a colour."}])
    assert text == ALPACA_NO_INPUT == render_alpaca_prompt("Name a colour.")


def test_alpaca_with_input_prompt() -> None:
    text = render_alpaca_prompt("Add the numbers.", "2 and 3")
    assert text.startswith("Below is an instruction that describes a task, paired with an input")
    assert text.endswith("### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n")


def test_vicuna_template_matches_fastchat_v1_1(tokenizer) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "Name a colour."}]
    assert render(tokenizer, "vicuna", messages) == VICUNA_TWO_TURNS


def test_vicuna_system_message_replaces_default(tokenizer) -> None:
    text = render(tokenizer, "vicuna", [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}])
    assert text == "Be terse. USER: Hi ASSISTANT:"


def test_template_hash_and_lookup(tmp_path: Path) -> None:
    assert load_chat_template("alpaca").hash != load_chat_template("vicuna").hash
    custom = tmp_path / "mine.jinja"
    custom.write_text("{{ messages[0]['content'] }}")
    assert load_chat_template(str(custom)).name == "mine"
    with pytest.raises(HarnessError, match="unknown chat template"):
        load_chat_template("chatml")
