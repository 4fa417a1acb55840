"""A SentencePiece-style (LLaMA-like) tokenizer built with `tokenizers`: Metaspace pre-tokenizer with the "▁"
prefix, digits split one by one and newlines kept apart (as LLaMA's split_digits and byte-fallback newline),
BPE with byte fallback, `<s>` added in front. Nothing is downloaded; it is trained on the given texts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal


def build_sentencepiece_style(texts: Iterable[str], vocab_size: int = 2000,
                              prepend_scheme: Literal["first", "always"] = "first") -> Any:
    """A fast tokenizer with LLaMA's special tokens and SentencePiece's whitespace rules."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Split("\n", behavior="isolated"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=prepend_scheme)
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + byte_tokens, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                             special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
