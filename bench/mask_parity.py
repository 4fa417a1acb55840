"""Masks on real data: token ids from `tokenize_segments` (render once, tokenize once, mask from offsets) vs the
whole rendered string's ids, next to the old segment-by-segment tokenization, on a SentencePiece-style tokenizer.

Run: .venv/bin/python bench/mask_parity.py [--data-dir ../shared/data]
Prints, per file and "▁" prepend scheme: examples whose ids equal whole-string tokenization, with offsets and
segment by segment. The tokenizer is built with `tokenizers` (Metaspace, "▁" prefix)
and trained on each file's own text, as in tests/test_masks.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fine_tune.data import PROMPT_FORMATS, Segment, load_data, render_segments, render_text, tokenize_segments
from tests.sp_tokenizer import build_sentencepiece_style
from tests.test_masks import CORPUS, _texts

FILES = (("alpaca/alpaca_data_sample.json", "alpaca", "alpaca"), ("sharegpt/dummy_conversation.json", "sharegpt", "vicuna"))


def segment_by_segment(segments: list[Segment], tokenizer: Any) -> list[int]:
    """The previous method: each segment tokenized on its own, bos in front, the eos id after each reply."""
    ids = [tokenizer.bos_token_id]
    for segment in segments:
        ids += tokenizer(segment.text, add_special_tokens=False).input_ids
        ids += [tokenizer.eos_token_id] if segment.trained else []
    return ids


def measure(path: Path, fmt: str, template: str, scheme: str) -> dict[str, Any]:
    tokenizer = build_sentencepiece_style(CORPUS + _texts(path, fmt), vocab_size=4000, prepend_scheme=scheme)
    examples = load_data(path, fmt).examples
    offsets = pieces = 0
    for example in examples:
        segments = render_segments(example.messages, PROMPT_FORMATS[template])
        whole = list(tokenizer(render_text(segments, tokenizer.eos_token)).input_ids)
        offsets += tokenize_segments(segments, tokenizer, max_length=10**6).input_ids == whole
        pieces += segment_by_segment(segments, tokenizer) == whole
    return {"file": str(path.relative_to(path.parent.parent)), "prepend_scheme": scheme, "examples": len(examples),
            "equal_offsets": offsets, "equal_segment_by_segment": pieces}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    for file, fmt, template in FILES:
        for scheme in ("first", "always"):
            print(json.dumps(measure(Path(args.data_dir) / file, fmt, template, scheme)))


if __name__ == "__main__":
    main()
