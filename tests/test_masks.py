"""Loss masks from character offsets: the ids are the whole rendered string's ids on a byte-level BPE tokenizer
and on SentencePiece-style ones, and exactly the replies (with their eos) are trained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fine_tune.data import (
    IGNORE_INDEX,
    PROMPT_FORMATS,
    Segment,
    alpaca_messages,
    load_data,
    render_segments,
    render_text,
    sharegpt_messages,
    tokenize_segments,
)
from harness.eval.templates import ALPACA_PREAMBLE, ALPACA_PREAMBLE_INPUT, VICUNA_SYSTEM, render_alpaca_prompt
from tests.sp_tokenizer import build_sentencepiece_style

CORPUS = [ALPACA_PREAMBLE, ALPACA_PREAMBLE_INPUT, VICUNA_SYSTEM,
          *(f"USER: What is {a}+{b}? ASSISTANT: {a + b}\n\n### Instruction:\nAdd them.\n\n### Response:\n{a * b}"
            for a in range(30) for b in range(0, 30, 7))]


@pytest.fixture(scope="module", params=["byte-level", "sentencepiece-first", "sentencepiece-always"])
def tokenizer(request: pytest.FixtureRequest, tiny_model_dir: Path) -> Any:
    if request.param == "byte-level":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(tiny_model_dir)
    return build_sentencepiece_style(CORPUS, vocab_size=600, prepend_scheme=request.param.split("-")[1])


def _conversation(*texts: str, system: str | None = None) -> dict[str, Any]:
    turns = [{"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(texts)]
    return {"conversations": ([{"from": "system", "value": system}] if system else []) + turns}


EXAMPLES = {
    "alpaca": ("alpaca", alpaca_messages({"instruction": "What is 12+34?", "output": "46"})),
    "alpaca-input": ("alpaca", alpaca_messages({"instruction": "Add them.", "input": "12 and 34", "output": "46"})),
    "alpaca-empty-output": ("alpaca", alpaca_messages({"instruction": "Say nothing.", "output": ""})),
    "vicuna": ("vicuna", sharegpt_messages(_conversation("What is 2+3?", "5", "And 4+4?", "8 is the sum."))),
    "vicuna-system": ("vicuna", sharegpt_messages(_conversation("Hi", "Hello there!", system="Be brief."))),
}


def _trained_text(tokenizer: Any, text: str, ids: list[int], labels: list[int]) -> list[str]:
    """The characters under each run of trained tokens (offsets of the whole string)."""
    spans = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True).offset_mapping
    spans = [(0, 0)] * (len(ids) - len(spans)) + list(spans)
    runs: list[list[tuple[int, int]]] = []
    for i, label in enumerate(labels):
        if label == IGNORE_INDEX:
            continue
        if runs and labels[i - 1] != IGNORE_INDEX:
            runs[-1].append(spans[i])
        else:
            runs.append([spans[i]])
    return [text[run[0][0]:run[-1][1]] for run in runs]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_ids_are_the_whole_string_and_only_replies_are_trained(tokenizer: Any, name: str) -> None:
    fmt, messages = EXAMPLES[name]
    segments = render_segments(messages, PROMPT_FORMATS[fmt])
    text = render_text(segments, tokenizer.eos_token)
    example = tokenize_segments(segments, tokenizer, max_length=4096)
    assert example.input_ids == list(tokenizer(text).input_ids)
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(example.input_ids, example.labels))
    replies = [s.text + tokenizer.eos_token for s in segments if s.trained]
    trained = _trained_text(tokenizer, text, example.input_ids, example.labels)
    assert len(trained) == len(replies)
    for got, reply in zip(trained, replies):  # the reply, plus at most the tail of a token it shares with the prompt
        assert got.endswith(reply) and len(got) - len(reply) <= 2, (got, reply)
    assert example.labels.count(tokenizer.eos_token_id) == len(replies)


def test_segment_by_segment_tokenization_differs_on_sentencepiece() -> None:
    """The bug class behind FastChat's "tokenization mismatch": an extra "▁" before each reply."""
    tokenizer = build_sentencepiece_style(CORPUS, vocab_size=600)
    row = {"instruction": "What is 12+34?", "output": "46"}
    segments = render_segments(alpaca_messages(row), PROMPT_FORMATS["alpaca"])
    piecewise = ([tokenizer.bos_token_id] + tokenizer(render_alpaca_prompt(row["instruction"]), add_special_tokens=False).input_ids
                 + tokenizer("46", add_special_tokens=False).input_ids + [tokenizer.eos_token_id])
    whole = tokenizer(render_text(segments, tokenizer.eos_token)).input_ids
    assert piecewise != whole
    assert tokenize_segments(segments, tokenizer, 512).input_ids == whole
    assert len(piecewise) == len(whole) + 1 and tokenizer.convert_ids_to_tokens(piecewise)[-4] == "▁"


def test_train_on_inputs_trains_every_token(tokenizer: Any) -> None:
    segments = render_segments(EXAMPLES["alpaca-input"][1], PROMPT_FORMATS["alpaca"])
    masked = tokenize_segments(segments, tokenizer, 512)
    full = tokenize_segments(segments, tokenizer, 512, train_on_inputs=True)
    assert full.input_ids == masked.input_ids and full.labels == full.input_ids
    assert sum(label != IGNORE_INDEX for label in masked.labels) < len(full.labels)


def test_eos_text_that_is_no_token_is_refused() -> None:
    from harness.errors import HarnessError

    tokenizer = build_sentencepiece_style(CORPUS, vocab_size=600)
    tokenizer.eos_token = "<|end|>"  # a string the tokenizer does not know as a token
    with pytest.raises(HarnessError, match="eos text"):
        tokenize_segments([Segment("q", False), Segment("a", True)], tokenizer, 64)


def _texts(path: Path, fmt: str) -> list[str]:
    rows = json.loads(path.read_text())
    if fmt == "alpaca":
        return [" ".join(str(v) for v in row.values()) for row in rows]
    return [turn["value"] for row in rows for turn in row["conversations"]]


@pytest.mark.parametrize("file, fmt, template", [
    ("alpaca/alpaca_data_sample.json", "alpaca", "alpaca"),
    ("sharegpt/dummy_conversation.json", "sharegpt", "vicuna"),
])
def test_real_files_tokenize_as_whole_strings_on_sentencepiece(shared_data: Path, file: str, fmt: str,
                                                                template: str) -> None:
    path = shared_data / file
    tokenizer = build_sentencepiece_style(CORPUS + _texts(path, fmt), vocab_size=4000)
    examples = load_data(path, fmt).examples
    equal = 0
    for example in examples:
        segments = render_segments(example.messages, PROMPT_FORMATS[template])
        tokenized = tokenize_segments(segments, tokenizer, max_length=1_000_000)
        equal += tokenized.input_ids == list(tokenizer(render_text(segments, tokenizer.eos_token)).input_ids)
    assert equal == len(examples) > 400
