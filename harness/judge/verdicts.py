"""Strict verdict parsers: a judge's text becomes exactly one verdict, or a `VerdictError` that is retried.

Each parser is a small factory returning a closure with one job (the shape of Inspect's `scorer/_match.py`).
Unlike FastChat's `if "[[A]]" in text ... elif "[[B]]"`, which lets the first token checked win, an output
naming no verdict or two different ones is an error, never silently a verdict or a tie.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from harness.errors import UnparseableReply

PAIRWISE_TOKENS = {"A": "[[A]]", "B": "[[B]]", "tie": "[[C]]"}
_GRADE = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


class VerdictError(UnparseableReply):
    """The judge's output holds no verdict, or more than one."""


def pairwise_verdict(tokens: dict[str, str] | None = None) -> Callable[[str], str]:
    """A parser returning `A`, `B` or `tie` when exactly one kind of verdict token occurs in the text.

    The same token repeated (an explanation that restates the final verdict) still counts as one verdict.
    """
    table = dict(tokens or PAIRWISE_TOKENS)

    def parse(text: str) -> str:
        found = [verdict for verdict, token in table.items() if token in text]
        if len(found) != 1:
            named = ", ".join(table[v] for v in found) or "none of " + ", ".join(table.values())
            raise VerdictError(f"expected exactly one verdict, found {named}")
        return found[0]

    return parse


def single_grade(low: float = 1, high: float = 10) -> Callable[[str], float]:
    """A parser returning the grade of a `[[N]]` rating; two different ratings or one out of range is an error."""

    def parse(text: str) -> float:
        grades = {float(m) for m in _GRADE.findall(text)}
        if len(grades) != 1:
            raise VerdictError(f"expected exactly one [[rating]], found {sorted(grades) or 'none'}")
        grade = grades.pop()
        if not low <= grade <= high:
            raise VerdictError(f"rating {grade:g} is outside {low:g}-{high:g}")
        return grade

    return parse


def two_scores(tie_delta: float = 0.1) -> Callable[[str], str]:
    """A parser for the Vicuna-80 review format: first line `s1 s2`; returns A, B or tie (|s1-s2| <= delta)."""

    def parse(text: str) -> str:
        first = text.strip().splitlines()[0] if text.strip() else ""
        parts = first.replace(",", " ").split()
        try:
            s1, s2 = (float(p) for p in parts)
        except ValueError:
            raise VerdictError(f"expected a first line 'score1 score2', got {first[:60]!r}") from None
        if abs(s1 - s2) <= tie_delta:
            return "tie"
        return "A" if s1 > s2 else "B"

    return parse


# A prompt's `output_format` names its parser (judge prompts are data; this maps them to code).
PAIRWISE_PARSERS: dict[str, Callable[[], Callable[[str], str]]] = {
    "[[A]]": pairwise_verdict,
    "score1 score2": two_scores,
}
SINGLE_PARSERS: dict[str, Callable[[], Callable[[str], float]]] = {"[[rating]]": single_grade}


# arena-hard-auto's five labels (config/judge_config.yaml `regex_pattern: \[\[([AB<>=]+)\]\]`).
ARENA_HARD_LABELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
_ARENA_HARD = re.compile(r"\[\[([AB<>=]+)\]\]")


def arena_hard_label() -> Callable[[str], str]:
    """A parser returning one of arena-hard's five labels; as its `get_score`, the same label repeated counts
    once, and two different labels (or none, or one outside the five) is an error."""

    def parse(text: str) -> str:
        found = sorted({m for m in _ARENA_HARD.findall(text) if m})
        if len(found) != 1 or found[0] not in ARENA_HARD_LABELS:
            shown = ", ".join(f"[[{m}]]" for m in found) or "none"
            raise VerdictError(f"expected exactly one of {', '.join(ARENA_HARD_LABELS)} in [[...]], found {shown}")
        return found[0]

    return parse
