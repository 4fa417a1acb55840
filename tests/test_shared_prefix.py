"""Shared-prefix batches (`fine_tune/shared_prefix.py`): where a batch is split, and that training with the split
is training without it (same losses, same weights) on a byte-level and on a SentencePiece-style tokenizer."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch

from fine_tune.shared_prefix import IGNORE_INDEX, MIN_PREFIX, split_point, why_not
from harness.eval.templates import ALPACA_PREAMBLE, VICUNA_SYSTEM
from tests.sp_tokenizer import build_sentencepiece_style

X = IGNORE_INDEX


def _batch(rows: list[list[int]], labelled_from: list[int], pad: int = 0) -> tuple[torch.Tensor, ...]:
    width = max(map(len, rows))
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = ids.clone()
    for k, start in enumerate(labelled_from):
        labels[k, :start] = X
    labels[mask == 0] = X
    return ids, mask, labels


def test_the_split_ends_before_the_first_difference_and_the_first_label() -> None:
    shared = list(range(1, 13))  # 12 tokens every row starts with
    ids, mask, labels = _batch([shared + [50, 51, 52], shared + [60, 61], shared + [70, 71, 72, 73]], [14, 13, 15])
    assert split_point(ids, mask, labels) == 12  # all 12 shared; labels start at 13 or later
    # a label on the first token after the prefix: that token is predicted from the prefix, so the prefix is shorter
    ids, mask, labels = _batch([shared + [50, 51], shared + [60, 61]], [12, 13])
    assert split_point(ids, mask, labels) == 11
    # a label inside the shared tokens (train_on_inputs): the split stops before it
    ids, mask, labels = _batch([shared + [50], shared + [60]], [MIN_PREFIX + 2, 13])
    assert split_point(ids, mask, labels) == MIN_PREFIX + 1


def test_rows_of_very_unequal_length_run_as_two_buckets() -> None:
    from fine_tune.shared_prefix import length_buckets

    mask = torch.tensor([[1] * n + [0] * (10 - n) for n in [4, 4, 10, 4, 9, 4]])
    assert [b.tolist() for b in length_buckets(mask)] == [[0, 1, 3, 5], [2, 4]]  # 4 x 4 + 2 x 10 = 36 of 60 cells
    nearly_equal = torch.tensor([[1] * n + [0] * (10 - n) for n in [9, 9, 10, 10]])
    assert [b.tolist() for b in length_buckets(nearly_equal)] == [[0, 1, 2, 3]]  # 38 of 40: not worth a split
    assert [b.tolist() for b in length_buckets(mask[:1])] == [[0]]


def test_no_split_when_it_would_not_be_exact_or_worth_it() -> None:
    ids, mask, labels = _batch([[1, 2, 3, 4, 9], [1, 2, 3, 4, 8]], [4, 4])
    assert split_point(ids, mask, labels) == 0  # shorter than MIN_PREFIX
    ids, mask, labels = _batch([list(range(1, 20))], [15])
    assert split_point(ids, mask, labels) == 0  # a batch of one has nothing to share
    left = torch.tensor([[0, 0] + list(range(1, 15)), [0] + list(range(1, 16))])
    left_mask = (left != 0).long()
    assert split_point(left, left_mask, torch.full_like(left, X)) == 0  # left padding: the rows differ at once
    # a token that is the same id in both rows but padding in one of them is not shared
    ids, mask, labels = _batch([list(range(1, 13)), list(range(1, 10))], [12, 9], pad=10)
    assert ids[1, 9] == ids[0, 9] and mask[1, 9] == 0
    assert split_point(ids, mask, labels) == 9


def test_dropout_packing_checkpointing_and_several_processes_turn_it_off() -> None:
    from types import SimpleNamespace

    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)
    model = LlamaForCausalLM(config)
    args = SimpleNamespace(gradient_checkpointing=False, packing=False, padding_free=False)
    assert why_not(model, args, 1) is None
    assert "process" in (why_not(model, args, 2) or "")
    assert why_not(model, SimpleNamespace(**{**vars(args), "gradient_checkpointing": True}), 1) == "gradient checkpointing"
    assert why_not(model, SimpleNamespace(**{**vars(args), "packing": True}), 1) == "packing"
    config.attention_dropout = 0.1
    assert why_not(LlamaForCausalLM(config), args, 1) == "attention dropout"


def _sentencepiece_base(out: Path) -> Path:
    """A tiny LLaMA whose tokenizer is SentencePiece-style ("▁" words), saved like a hub checkpoint."""
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = [ALPACA_PREAMBLE, VICUNA_SYSTEM, "### Instruction: ### Response: USER: ASSISTANT:"] * 5
    texts += [f"What is {a}+{b}? {a + b}" for a in range(0, 100, 7) for b in range(0, 100, 9)]
    tokenizer = build_sentencepiece_style(texts, vocab_size=400)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def _data(tmp_path: Path) -> dict[str, Path]:
    sums = [(a, b) for a in range(3, 90, 11) for b in range(5, 95, 11)]  # 72: more than 4 steps x 16
    alpaca = [{"instruction": f"What is {a}+{b}?", "input": "", "output": str(a + b)} for a, b in sums]
    sharegpt = [{"id": f"c{k}", "conversations": [
        {"from": "human", "value": f"What is {a}+{b}?"}, {"from": "gpt", "value": str(a + b)},
        *([{"from": "human", "value": f"And {b}+{a}?"}, {"from": "gpt", "value": str(a + b)},
           {"from": "human", "value": f"And {a}+{a}?"}, {"from": "gpt", "value": str(a + a)}] if k % 3 == 2 else [])]}
        for k, (a, b) in enumerate(sums)]
    paths = {"alpaca": tmp_path / "alpaca.json", "vicuna": tmp_path / "sharegpt.json"}
    paths["alpaca"].write_text(json.dumps(alpaca))
    paths["vicuna"].write_text(json.dumps(sharegpt))
    return paths


def _train(base: Path, recipe: str, data: Path, out: Path, shared: bool, **extra: Any) -> tuple[list[float], dict[str, Any]]:
    from safetensors.torch import load_file

    from fine_tune.config import FinetuneRequest
    from fine_tune.sft import run_finetune

    overrides = {"max_steps": 4, "learning_rate": 3e-3, "global_batch_size": 16, "per_device_batch_size": 8,
                 "max_length": 128, "logging_steps": 1, "gradient_checkpointing": False, "shared_prefix": shared,
                 "save_steps": 100, **extra}
    result = run_finetune(FinetuneRequest(recipe=recipe, base=str(base), data=str(data), out=str(out),
                                          overrides=overrides, name=out.name))
    return [point["loss"] for point in result.card["loss_curve"]], load_file(out / "model.safetensors")


@pytest.mark.parametrize("tokenizer", ["byte-level", "sentencepiece"])
@pytest.mark.parametrize("recipe", ["alpaca", "vicuna"])
def test_training_with_the_split_is_training_without_it(tmp_path: Path, tiny_model_dir: Path, tokenizer: str,
                                                        recipe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four steps (two accumulated batches each) with and without shared prefixes from the same base and seed:
    the same losses and the same weights, and the split really happened on every batch (Vicuna's batches of one-
    and two-turn conversations also in two length buckets)."""
    from fine_tune import shared_prefix

    base = tiny_model_dir if tokenizer == "byte-level" else _sentencepiece_base(tmp_path / "sp-base")
    data = _data(tmp_path)[recipe]
    splits: list[int] = []
    real = shared_prefix.split_point
    monkeypatch.setattr(shared_prefix, "split_point", lambda *a: splits.append(real(*a)) or splits[-1])
    with_split, weights = _train(base, recipe, data, tmp_path / "shared", True)
    assert min(splits) >= MIN_PREFIX
    # 4 steps x 2 micro-batches; Alpaca's rows are all about as long, Vicuna's are run as two buckets
    assert len(splits) == 8 if recipe == "alpaca" else len(splits) > 8
    asked = len(splits)
    without, reference = _train(base, recipe, data, tmp_path / "whole", False)
    assert len(splits) == asked  # the whole-batch run never asked
    assert with_split == pytest.approx(without, rel=1e-4)
    assert with_split[-1] < with_split[0]  # it trained
    for name, tensor in reference.items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-4, atol=1e-5)


def test_lora_dropout_trains_without_the_split_and_says_why(tmp_path: Path, tiny_model_dir: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    data = _data(tmp_path)["alpaca"]
    with caplog.at_level(logging.WARNING, logger="fine_tune.shared_prefix"):
        losses, _ = _train(tiny_model_dir, "alpaca-lora", data, tmp_path / "lora", True, max_steps=2)
    assert len(losses) == 2
    assert "shared_prefix is off for this run: dropout" in caplog.text


def test_identity_leaves_shared_prefix_out_while_it_is_off() -> None:
    """Fine-tunes stored before the key existed keep their identity; turning it on is a different run."""
    from fine_tune.config import load_recipe
    from fine_tune.data import TrainingData
    from fine_tune.sft import run_identity
    from harness.fingerprint import content_hash

    data = TrainingData(examples=[], files=[], sha256="x", n_bytes=0, n_records=0, n_skipped=0)
    off, on = load_recipe("alpaca"), load_recipe("alpaca", {"shared_prefix": True})
    settings = off.model_dump(mode="json")
    settings.pop("shared_prefix")
    assert run_identity(off, "b", data) == content_hash({"recipe": settings, "base": "b", "data": "x"})
    assert run_identity(on, "b", data) != run_identity(off, "b", data)
