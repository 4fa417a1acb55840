"""Shared helpers for the judge tests: a small question file, stored answers, and a scripted judge server."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.records import Generation
from harness.store import open_store
from harness.store.generations import write_generations
from tests.openai_server import Reply, chat_reply

QUESTIONS = [
    {"question_id": "q1", "category": "math", "turns": ["What is 2+2?"], "reference": ["4"]},
    {"question_id": "q2", "category": "writing", "turns": ["Write a haiku.", "Now make it rhyme."]},
    {"question_id": "q3", "category": "knowledge", "turns": ["Name a prime number."]},
]
# Each answer carries a quality marker the scripted judge reads: GOOD beats OK beats BAD.
ANSWERS = {
    "alpha": {"q1": ["GOOD 4"], "q2": ["GOOD haiku", "GOOD rhyme"], "q3": ["OK 7"]},
    "beta": {"q1": ["BAD 5"], "q2": ["OK haiku", "BAD rhyme"], "q3": ["OK 11"]},
    "gamma": {"q1": ["OK 4"], "q2": ["BAD haiku", "OK rhyme"], "q3": ["BAD 8"]},
}
RANK = {"GOOD": 3, "OK": 2, "BAD": 1}
# the project's prompts and FastChat's (`[The Start of Assistant A's Answer]`, `<|The End of Assistant A's
# Conversation with User|>`)
_ANSWER = re.compile(r"\[(?:The Start of )?Assistant ([AB])'s [aA]nswer\]\n(\w+)")
_CONVERSATION = re.compile(
    r"### Assistant ([AB]):\n(\w+)[^\n]*\n*(?:\[End of conversation with assistant [AB]\]"
    r"|<\|The End of Assistant [AB]'s Conversation with User\|>)"
)


def write_question_file(directory: Path) -> Path:
    path = directory / "mini.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


def store_answers(store_url: str, models: list[str] | None = None, question_set: str = "mini") -> None:
    store = open_store(store_url)
    rows = [
        Generation(gen_key=f"{m}-{qid}", content_key=f"c-{m}-{qid}", model=m, model_fingerprint=f"fp-{m}", question_set=question_set, question_id=qid, turns=turns, config={"test": True})
        for m, answers in ANSWERS.items()
        if models is None or m in models
        for qid, turns in answers.items()
    ]
    write_generations(store, rows)


def shown_markers(user: str) -> dict[str, str]:
    """The quality marker of the answer shown as A and as B (last turn for conversations)."""
    found = dict(_ANSWER.findall(user))
    if not found:
        found = {who: marker for who, marker in _CONVERSATION.findall(user)}
    return found


def fair_verdict(body: dict[str, Any]) -> str:
    """The verdict a fair judge gives: the better marker wins, equal markers tie."""
    user = body["messages"][-1]["content"]
    marks = shown_markers(user)
    a, b = RANK[marks["A"]], RANK[marks["B"]]
    token = "[[A]]" if a > b else "[[B]]" if b > a else "[[C]]"
    return f"Comparing the answers carefully. {token}"


class ScriptedJudge:
    """A responder that fails each distinct request per a script before answering it fairly.

    `faults` maps the n-th distinct request (0-based, in arrival order) to a list of failures to serve first.
    """

    def __init__(
        self,
        faults: dict[int, list[Reply]] | None = None,
        verdict: Callable[[dict[str, Any]], str] = fair_verdict,
    ) -> None:
        self.faults = faults or {}
        self.verdict = verdict
        self.order: dict[str, int] = {}
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, path: str, body: dict[str, Any]) -> Reply:
        key = json.dumps(body["messages"], sort_keys=True)
        with self.lock:
            index = self.order.setdefault(key, len(self.order))
            attempt = self.seen[key]
            self.seen[key] += 1
        script = self.faults.get(index, [])
        if attempt < len(script):
            return script[attempt]
        return chat_reply(self.verdict(body), prompt_tokens=100, completion_tokens=20)
