"""Answer style counts in FastChat's `conv_metadata` convention: tokens, markdown headers, list items, bold.

The judge (`harness.judge.run.make_battle`) and the readers in `harness.formats` write them on a battle's
`extra["conv_metadata"]` with `style_metadata(answer_a, answer_b)`; the arena's style control reads them
back with `side_counts(extra)`. Pure regex counting, no I/O.
"""

from __future__ import annotations

import re
from typing import Any

# FastChat clean_battle `conv_metadata` keys; `{}` is a or b. Header/list/bold may be dicts of sub-counts.
METADATA_KEYS = {"length": "sum_assistant_{}_tokens", "headers": "header_count_{}",
                 "lists": "list_count_{}", "bold": "bold_count_{}"}
MARKDOWN = ("headers", "lists", "bold")
_COUNTERS = {
    "length": re.compile(r"\w+|[^\w\s]"),
    "headers": re.compile(r"^#{1,6}\s", re.MULTILINE),
    "lists": re.compile(r"^\s*(?:[-*+]|\d+[.)])\s", re.MULTILINE),
    "bold": re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),
}


def style_metadata(answer_a: str, answer_b: str) -> dict[str, int]:
    """FastChat-style `conv_metadata` for two answers: word/punctuation tokens, markdown headers, list
    items and bold spans of each."""
    return {METADATA_KEYS[name].format(side): len(pattern.findall(text))
            for side, text in (("a", answer_a), ("b", answer_b)) for name, pattern in _COUNTERS.items()}


def _count(value: Any) -> float:
    return float(sum(value.values()) if isinstance(value, dict) else value)


def side_counts(extra: dict[str, Any]) -> dict[str, tuple[float, float]] | None:
    """(a, b) style counts of one battle: length, headers, lists, bold and markdown (their sum) from
    `conv_metadata`; None when absent.

    Battles stored before the judge wrote `conv_metadata` carry `len_a/len_b/md_a/md_b` (characters and
    markdown elements); those are read as length and markdown so old stores keep their style control.
    """
    meta = extra.get("conv_metadata")
    try:
        if isinstance(meta, dict):
            out = {name: (_count(meta[key.format("a")]), _count(meta[key.format("b")]))
                   for name, key in METADATA_KEYS.items()}
            out["markdown"] = (sum(out[k][0] for k in MARKDOWN), sum(out[k][1] for k in MARKDOWN))
            return out
        if "len_a" in extra and "len_b" in extra:
            out = {"length": (_count(extra["len_a"]), _count(extra["len_b"]))}
            if "md_a" in extra and "md_b" in extra:
                out["markdown"] = (_count(extra["md_a"]), _count(extra["md_b"]))
            return out
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None
