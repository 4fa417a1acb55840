"""The offline judge: a deterministic reference-matching judge for CI and the demo, used when no endpoint is set.

It is NOT an LLM. It judges only turns that have a reference answer: an answer matches when it states the
reference's numbers first, in order (arithmetic), or contains the reference text (normalised). Its name,
`offline:reference-match`, is what judgments and battles record, so nothing mistakes it for an LLM judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OFFLINE_JUDGE = "offline:reference-match"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NON_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class OfflineVerdict:
    """The offline judge's verdict in presented order, its winner label and a text explaining it."""

    verdict: str  # A | B | tie
    winner_label: str | None  # tie (bothbad) when neither answer matches, else None
    text: str


def _normalise(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


def matches_reference(answer: str, reference: str) -> bool:
    """True when `answer` agrees with `reference`: same leading numbers if the reference has any, else contains it."""
    wanted = _NUMBER.findall(reference)
    if wanted:
        given = _NUMBER.findall(answer)[: len(wanted)]
        return len(given) == len(wanted) and all(float(g) == float(w) for g, w in zip(given, wanted))
    ref = _normalise(reference)
    return bool(ref) and ref in _normalise(answer)


def judge_pair(reference: str, answer_a: str, answer_b: str) -> OfflineVerdict:
    """Compare two answers shown as A and B against the reference; the text ends in the verdict token."""
    a, b = matches_reference(answer_a, reference), matches_reference(answer_b, reference)
    if a and not b:
        verdict, token, label = "A", "[[A]]", None
    elif b and not a:
        verdict, token, label = "B", "[[B]]", None
    else:
        verdict, token, label = "tie", "[[C]]", None if a else "tie (bothbad)"
    text = (
        f"offline reference-matching judge (not an LLM): reference {reference!r}; "
        f"A {'matches' if a else 'does not match'}; B {'matches' if b else 'does not match'}. {token}"
    )
    return OfflineVerdict(verdict, label, text)


def grade_answer(reference: str, answer: str) -> tuple[float, str]:
    """A single-answer grade: 10 when the answer matches the reference, else 1; with its explanation."""
    ok = matches_reference(answer, reference)
    score = 10.0 if ok else 1.0
    return score, (
        f"offline reference-matching judge (not an LLM): reference {reference!r}; "
        f"the answer {'matches' if ok else 'does not match'}. [[{score:g}]]"
    )
