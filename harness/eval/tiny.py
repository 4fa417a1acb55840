"""A tiny LLaMA-architecture model and a BPE tokenizer trained on the spot: the demo's and tests' base model.

Nothing is downloaded. `harness tiny-model OUT_DIR --seed S` writes a standard Hugging Face directory
(safetensors, config, tokenizer) that every backend and recipe loads like a hub checkpoint.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from harness.eval.templates import ALPACA_PREAMBLE, ALPACA_PREAMBLE_INPUT, VICUNA_SYSTEM
from harness.quiet import quiet_hugging_face

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|pad|>"]
_WORDS = (
    "the a an of to and in is it that for on with as was be by this are or at from what which how why who "
    "when where you your can will would should could please write give explain list name describe answer "
    "question response instruction input task number numbers sum plus minus times result reverse word words "
    "letter letters sentence capital city country color yes no true false good bad first second third last "
    "user assistant system chat helpful detailed polite curious artificial intelligence provides context "
    "completes request appropriately paired further below describes"
).split()


@dataclass(frozen=True)
class TinyModel:
    """Where a tiny model was written and how many parameters it has."""

    path: Path
    n_params: int


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = [ALPACA_PREAMBLE, ALPACA_PREAMBLE_INPUT, VICUNA_SYSTEM, "### Instruction:", "### Input:", "### Response:"]
    lines += ["USER: ASSISTANT:"] * 20
    for _ in range(2000):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        lines.append(f"What is {a}+{b}? {a + b}")
        lines.append(" ".join(rng.choice(_WORDS) for _ in range(12)))
    return lines


def build_tokenizer(seed: int = 0, vocab_size: int = 512):  # type: ignore[no-untyped-def]
    """Train a byte-level BPE tokenizer with single-digit numbers (arithmetic needs them) and LLaMA specials.

    At 512 entries the template words split into pieces; from about 660 every word of the Alpaca and Vicuna
    prompts is one token (the corpus holds no more merges), which makes those prompts a third shorter.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<|pad|>"
    )


def make_tiny_model(
    out_dir: str | Path, seed: int = 0, hidden: int = 128, layers: int = 4, heads: int = 4, vocab_size: int = 512
) -> TinyModel:
    """Build a randomly initialised LLaMA model (0.92 M parameters at the defaults) and save it with its tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(seed, vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 3,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    with quiet_hugging_face():  # no "Writing model shards" bar
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
    return TinyModel(out, sum(p.numel() for p in model.parameters()))
