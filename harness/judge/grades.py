"""MT-bench-style grades: mean 1-10 scores per model, per turn, overall and per question category.

FastChat's show_result counting over single-grade judgments; pure but for `question_categories`, which reads the
question files. Apart from `results` so the leaderboard's MT-bench column needs nothing else of the judge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.records import Judgment


@dataclass(frozen=True)
class SingleResult:
    """One model's mean 1-10 grade per turn and overall (MT-bench score)."""

    model: str
    turns: dict[int, float]
    score: float
    n: int
    categories: dict[str, float] = field(default_factory=dict)  # mean grade per question category


def single_results(judgments: Iterable[Judgment], models: list[str] | None = None,
                   categories: dict[tuple[str, str], str] | None = None) -> list[SingleResult]:
    """Mean grade per model per turn and over all turns (FastChat's show_result: the average is over every
    graded turn), and per question category where `categories` ((question set, id) -> category) knows it;
    errors (no score) are dropped, as FastChat drops -1."""
    scores: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for j in judgments:
        if j.mode != "single" or j.status != "ok" or j.score is None or j.score < 0:
            continue
        if models is None or j.model_a in models:
            scores[j.model_a][j.turn].append(float(j.score))
            category = (categories or {}).get((j.question_set, j.question_id))
            if category:
                by_category[j.model_a][category].append(float(j.score))
    rows = []
    for model, by_turn in scores.items():
        every = [s for turn_scores in by_turn.values() for s in turn_scores]
        turns = {t: sum(v) / len(v) for t, v in sorted(by_turn.items())}
        cats = {c: sum(v) / len(v) for c, v in sorted(by_category[model].items())}
        rows.append(SingleResult(model, turns, sum(every) / len(every), len(every), cats))
    return sorted(rows, key=lambda r: (-r.score, r.model))


def question_categories(question_sets: Iterable[str]) -> dict[tuple[str, str], str]:
    """(question set, question id) -> category for the sets that resolve (built-in names or question files);
    sets that do not resolve (an imported file's set) contribute nothing."""
    from harness.errors import HarnessError
    from harness.formats.questions import load_questions

    found: dict[tuple[str, str], str] = {}
    for name in set(question_sets):
        try:
            qset = load_questions(name)
        except HarnessError:
            continue
        found.update({(name, q.question_id): q.category for q in qset.questions if q.category})
    return found
