"""Deterministic data for the `arith_*` tasks: two-digit addition, built in memory (no files, no network).

lm-eval calls `load` through `custom_dataset: !function build.load` in the task YAMLs. The same
generator feeds `fine_tune/`'s synthetic Alpaca training data, which draws from pairs NOT in the test split.
"""

from __future__ import annotations

import random
from typing import Any

SEED = 1234
N_TEST = 200
N_FEWSHOT = 20


def all_pairs() -> list[tuple[int, int]]:
    """Every (a, b) with 0 <= a, b <= 99, shuffled once with a fixed seed."""
    pairs = [(a, b) for a in range(100) for b in range(100)]
    random.Random(SEED).shuffle(pairs)
    return pairs


def split_pairs() -> dict[str, list[tuple[int, int]]]:
    """test: the held-out evaluation pairs; fewshot: few-shot examples; train: everything else."""
    pairs = all_pairs()
    return {
        "test": pairs[:N_TEST],
        "fewshot": pairs[N_TEST : N_TEST + N_FEWSHOT],
        "train": pairs[N_TEST + N_FEWSHOT :],
    }


def make_doc(a: int, b: int, rng: random.Random) -> dict[str, Any]:
    """One document: the question, the answer and four choices (the answer plus three near misses)."""
    answer = a + b
    distractors: set[int] = set()
    while len(distractors) < 3:
        candidate = answer + rng.choice([-11, -10, -2, -1, 1, 2, 10, 11])
        if candidate >= 0 and candidate != answer:
            distractors.add(candidate)
    choices = [str(c) for c in sorted(distractors | {answer})]
    return {
        "question": f"What is {a}+{b}?",
        "answer": str(answer),
        "choices": choices,
        "label": choices.index(str(answer)),
    }


def build_rows(split: str) -> list[dict[str, Any]]:
    """The rows of one split, identical on every machine."""
    rng = random.Random(f"{SEED}-{split}")
    return [make_doc(a, b, rng) for a, b in split_pairs()[split]]


def load(**_: Any) -> Any:
    """lm-eval `custom_dataset` hook: a DatasetDict with `test` and `fewshot` splits."""
    import datasets

    return datasets.DatasetDict(
        {split: datasets.Dataset.from_list(build_rows(split)) for split in ("test", "fewshot")}
    )
