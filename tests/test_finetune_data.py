"""fine_tune data: record parsing, prompt rendering (known strings, real files), loss masks token by token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fine_tune.config import load_recipe, parse_overrides, recipe_names
from fine_tune.data import (
    IGNORE_INDEX,
    PROMPT_FORMATS,
    Message,
    alpaca_messages,
    load_data,
    render_segments,
    render_text,
    sharegpt_messages,
    tokenize_segments,
)
from harness.errors import HarnessError
from harness.eval.templates import BUILTIN_TEMPLATES, VICUNA_SYSTEM, render_alpaca_prompt

VICUNA_TWO_TURNS = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions. USER: What is 2+3? ASSISTANT: 5</s>"
    "USER: And 4+4? ASSISTANT: 8</s>"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _conversation(*texts: str) -> dict[str, Any]:
    return {"conversations": [{"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(texts)]}


def _chat_template_text(tokenizer: Any, template: str, messages: list[Message]) -> str:
    tokenizer.chat_template = BUILTIN_TEMPLATES[template]
    return str(tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in messages], tokenize=False))


# --- rendering against known strings -------------------------------------------------------------------------


def test_alpaca_without_input_renders_the_stanford_prompt(tokenizer: Any) -> None:
    messages = alpaca_messages({"instruction": "What is 2+3?", "input": "", "output": "5"})
    text = render_text(render_segments(messages, PROMPT_FORMATS["alpaca"]), "</s>")
    assert text == render_alpaca_prompt("What is 2+3?") + "5</s>"
    assert text.startswith("Below is an instruction that describes a task. Write a response that appropriately "
                           "completes the request.\n\n### Instruction:\nWhat is 2+3?\n\n### Response:\n5")
    assert _chat_template_text(tokenizer, "alpaca", messages) == text


def test_alpaca_with_input_renders_the_input_block(tokenizer: Any) -> None:
    messages = alpaca_messages({"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"})
    text = render_text(render_segments(messages, PROMPT_FORMATS["alpaca"]), "</s>")
    assert text == render_alpaca_prompt("Add the numbers.", "2 and 3") + "5</s>"
    assert "### Input:\n2 and 3\n\n### Response:\n5</s>" in text
    assert _chat_template_text(tokenizer, "alpaca", messages) == text


def test_only_an_empty_input_means_no_input() -> None:
    """As stanford_alpaca's train.py: the real data's "<no input>" rows keep their input block."""
    blank = alpaca_messages({"instruction": "Name a color.", "input": "  ", "output": "Red"})
    assert blank == alpaca_messages({"instruction": "Name a color.", "output": "Red"})
    marker = alpaca_messages({"instruction": "Name a color.", "input": "<no input>", "output": "Red"})
    assert marker[1].content == "Name a color.\n\n### Input:\n<no input>"


def test_vicuna_two_turns_render_fastchat_v11(tokenizer: Any) -> None:
    messages = sharegpt_messages(_conversation("What is 2+3?", "5", "And 4+4?", "8"))
    text = render_text(render_segments(messages, PROMPT_FORMATS["vicuna"]), "</s>")
    assert text == VICUNA_TWO_TURNS
    assert _chat_template_text(tokenizer, "vicuna", messages) == text


def test_sharegpt_system_turn_replaces_default_and_leading_gpt_is_dropped() -> None:
    row = {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "gpt", "value": "Hi!"},
                             {"from": "human", "value": "Hello"}, {"from": "gpt", "value": "Hey"}]}
    text = render_text(render_segments(sharegpt_messages(row), PROMPT_FORMATS["vicuna"]), "</s>")
    assert text == "Be brief. USER: Hello ASSISTANT: Hey</s>"
    assert VICUNA_SYSTEM not in text


# --- masks, token by token -----------------------------------------------------------------------------------


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


@pytest.mark.parametrize("extra", ["", "12 and 34"])
def test_alpaca_mask_covers_exactly_the_response(tokenizer: Any, extra: str) -> None:
    row = {"instruction": "What is 12+34?", "input": extra, "output": "46"}
    segments = render_segments(alpaca_messages(row), PROMPT_FORMATS["alpaca"])
    example = tokenize_segments(segments, tokenizer, max_length=512)
    prompt = [tokenizer.bos_token_id] + _ids(tokenizer, render_alpaca_prompt(row["instruction"], extra))
    reply = _ids(tokenizer, "46") + [tokenizer.eos_token_id]
    assert example.input_ids == prompt + reply
    assert example.labels == [IGNORE_INDEX] * len(prompt) + reply
    assert tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX]) == "46</s>"
    # the masked ids are the ones the eval harness sees as its prompt
    assert example.input_ids[: len(prompt)] == list(tokenizer(render_alpaca_prompt(row["instruction"], extra)).input_ids)


def test_vicuna_multi_turn_mask_trains_only_assistant_turns(tokenizer: Any) -> None:
    segments = render_segments(sharegpt_messages(_conversation("What is 2+3?", "5", "And 4+4?", "8")),
                               PROMPT_FORMATS["vicuna"])
    example = tokenize_segments(segments, tokenizer, max_length=512)
    eos = tokenizer.eos_token_id
    first = [tokenizer.bos_token_id] + _ids(tokenizer, VICUNA_SYSTEM + " USER: What is 2+3? ASSISTANT:")
    second = _ids(tokenizer, "USER: And 4+4? ASSISTANT:")
    r1, r2 = _ids(tokenizer, " 5") + [eos], _ids(tokenizer, " 8") + [eos]
    assert example.input_ids == first + r1 + second + r2
    assert example.labels == [IGNORE_INDEX] * len(first) + r1 + [IGNORE_INDEX] * len(second) + r2
    assert example.input_ids == list(tokenizer(VICUNA_TWO_TURNS).input_ids)  # same ids as the whole string
    trained = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode([example.input_ids[i] for i in trained]) == " 5</s> 8</s>"


def test_truncation_cuts_from_the_right_and_keeps_labels_aligned(tokenizer: Any) -> None:
    segments = render_segments(alpaca_messages({"instruction": "Say it.", "output": "a b c d e f g h"}),
                               PROMPT_FORMATS["alpaca"])
    full = tokenize_segments(segments, tokenizer, max_length=4096)
    cut = tokenize_segments(segments, tokenizer, max_length=len(full.input_ids) - 3)
    assert cut.truncated and not full.truncated
    assert cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3]


# --- real published files ------------------------------------------------------------------------------------


def test_real_alpaca_files_load_and_match_golden_text(shared_data: Path) -> None:
    sample = load_data(shared_data / "alpaca" / "alpaca_data_sample.json", "alpaca")
    assert sample.n_records == len(sample.examples) == 1727 and sample.n_skipped == 0
    assert sum(ex.messages[1].content.count("\n\n### Input:\n") for ex in sample.examples) == 779
    tiny_rows = json.loads((shared_data / "alpaca" / "alpaca_tiny.json").read_text())
    tiny = load_data(shared_data / "alpaca" / "alpaca_tiny.json", "alpaca")
    for example, row in zip(tiny.examples, tiny_rows):
        assert render_text(render_segments(example.messages, PROMPT_FORMATS["alpaca"]), "") == row["text"]


def test_alpaca_lora_template_file_agrees(shared_data: Path) -> None:
    template = json.loads((shared_data / "alpaca_lora_templates" / "alpaca.json").read_text())
    assert template["prompt_no_input"].format(instruction="Hi") == render_alpaca_prompt("Hi")
    assert template["prompt_input"].format(instruction="Hi", input="x") == render_alpaca_prompt("Hi", "x")


def test_real_sharegpt_files_load(shared_data: Path, tokenizer: Any) -> None:
    folder = shared_data / "sharegpt"
    dummy = load_data(folder / "dummy_conversation.json", "sharegpt")
    assert len(dummy.examples) == 500
    assert sum(m.role == "assistant" for ex in dummy.examples for m in ex.messages) == 1000
    single = load_data(folder / "conversation.json", "sharegpt")  # one object, not a list
    assert len(single.examples) == 1 and len(single.examples[0].messages) == 12
    segments = render_segments(single.examples[0].messages, PROMPT_FORMATS["vicuna"])
    example = tokenize_segments(segments, tokenizer, max_length=100_000)
    assert example.labels.count(tokenizer.eos_token_id) == 6  # one supervised eos per gpt turn
    both = load_data(folder, "sharegpt")
    assert len(both.examples) == 501 and len(both.files) == 2


# --- malformed data ------------------------------------------------------------------------------------------


def _write(tmp_path: Path, rows: Any, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows))
    return path


def test_malformed_alpaca_record_names_file_index_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"},
                             {"instruction": "e", "input": "", "outptu": "typo"}])
    with pytest.raises(HarnessError) as err:
        load_data(path, "alpaca")
    assert str(path) in err.value.message and "record 2" in err.value.message
    assert "'output' is missing" in err.value.message and "--skip-bad" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"instruction": 3, "output": "x"}, "'instruction' must be a string"),
        ({"instruction": "  ", "output": "x"}, "'instruction' is empty"),
        ({"instruction": "x", "input": ["a"], "output": "y"}, "'input' must be a string"),
        ("just text", "record must be an object"),
    ],
)
def test_alpaca_field_problems(tmp_path: Path, record: Any, field: str) -> None:
    with pytest.raises(HarnessError, match=field):
        load_data(_write(tmp_path, [record]), "alpaca")


@pytest.mark.parametrize(
    ("turns", "field"),
    [
        ([{"from": "human", "value": "hi"}, {"from": "robot", "value": "x"}], "conversations\\[1\\].from"),
        ([{"from": "human", "value": "hi"}, {"from": "human", "value": "again"}], "alternation"),
        ([{"from": "human", "value": "hi"}, {"from": "gpt", "value": None}], "conversations\\[1\\].value"),
        ([{"from": "human", "value": "hi"}], "no gpt turn"),
        ([], "non-empty list"),
    ],
)
def test_sharegpt_field_problems(tmp_path: Path, turns: list[Any], field: str) -> None:
    with pytest.raises(HarnessError, match=field):
        load_data(_write(tmp_path, [{"conversations": turns}]), "sharegpt")


def test_skip_bad_skips_and_counts(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"instruction": "a", "output": "b"}, {"instruction": "c"}, {"output": "d"},
                             {"instruction": "e", "output": "f"}])
    data = load_data(path, "alpaca", skip_bad=True)
    assert (data.n_records, data.n_skipped, len(data.examples)) == (4, 2, 2)
    assert [ex.source for ex in data.examples] == ["data.json:0", "data.json:3"]


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('[{"instruction": "a",')
    with pytest.raises(HarnessError, match="not valid JSON"):
        load_data(tmp_path / "broken.json", "alpaca")
    (tmp_path / "rows.jsonl").write_text('{"instruction": "a", "output": "b"}\n\n{nope}\n')
    with pytest.raises(HarnessError, match="line 3"):
        load_data(tmp_path / "rows.jsonl", "alpaca")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="no .json or .jsonl"):
        load_data(tmp_path / "empty", "alpaca")
    with pytest.raises(HarnessError, match="no training data"):
        load_data(tmp_path / "missing.json", "alpaca")
    with pytest.raises(HarnessError, match="no usable"):
        load_data(_write(tmp_path, [{"x": 1}]), "alpaca", skip_bad=True)


def test_data_hash_follows_content(tmp_path: Path) -> None:
    a = load_data(_write(tmp_path, [{"instruction": "a", "output": "b"}], "a.json"), "alpaca")
    b = load_data(_write(tmp_path, [{"instruction": "a", "output": "c"}], "b.json"), "alpaca")
    again = load_data(tmp_path / "a.json", "alpaca")
    assert a.sha256 == again.sha256 != b.sha256 and a.n_bytes == (tmp_path / "a.json").stat().st_size


# --- recipes -------------------------------------------------------------------------------------------------


def test_recipes_carry_published_values() -> None:
    assert recipe_names() == ["alpaca", "alpaca-lora", "vicuna", "vicuna-lora"]
    alpaca, vicuna = load_recipe("alpaca"), load_recipe("vicuna")
    assert (alpaca.learning_rate, alpaca.num_epochs, alpaca.global_batch_size, alpaca.max_length) == (2e-5, 3, 128, 512)
    assert (alpaca.warmup, alpaca.lr_scheduler, alpaca.weight_decay, alpaca.bf16) == (0.03, "cosine", 0.0, True)
    assert alpaca.fsdp == "full_shard auto_wrap" and alpaca.fsdp_layer_cls == "LlamaDecoderLayer"
    assert (vicuna.max_length, vicuna.gradient_checkpointing, vicuna.chat_template) == (2048, True, "vicuna")
    lora = load_recipe("alpaca-lora")
    assert lora.lora is not None and (lora.lora.r, lora.lora.alpha, lora.lora.dropout) == (8, 16, 0.05)
    assert lora.lora.target_modules == ["q_proj", "v_proj"] and lora.max_length == 256 and lora.learning_rate == 3e-4


def test_overrides_apply_and_bad_ones_name_the_key() -> None:
    recipe = load_recipe("alpaca-lora", parse_overrides(["lora.r=16", "lr_scheduler=cosine", "packing=true"]))
    assert recipe.lora is not None and recipe.lora.r == 16 and recipe.lora.alpha == 16 and recipe.packing
    with pytest.raises(HarnessError, match="bad value for lr_scheduler"):
        load_recipe("alpaca", parse_overrides(["lr_scheduler=sideways"]))
    with pytest.raises(HarnessError, match="learning_rat"):
        load_recipe("alpaca", parse_overrides(["learning_rat=1"]))
    with pytest.raises(HarnessError, match="needs a lora"):
        load_recipe("alpaca", {"method": "lora"})
    with pytest.raises(HarnessError, match="expected key=value"):
        parse_overrides(["warmup"])
    with pytest.raises(HarnessError, match="unknown recipe"):
        load_recipe("llama-factory")
