"""Judge statistics: win/loss/tie and win rates and MT-bench-style mean grades (agreement: `judge.agreement`).

Counting follows FastChat: `show_result.py` (a pair is a tie when either game is a tie or the two answer
orders disagree; error rows are dropped; win_rate_adjusted = (win + 0.5 tie) / n). Pure functions over records, plus two readers that fetch them from the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from harness.judge.agreement import (  # noqa: F401  (re-exported: agreement used to live here)
    AgreementCount,
    PositionStats,
    agreement_report,
    count_agreement,
    position_stats,
    votes_by_turn,
)
from harness.judge.grades import SingleResult, question_categories, single_results  # noqa: F401  (re-exported)
from harness.records import Battle
from harness.store import Store
from harness.store.battles import read_battles
from harness.store.judgments import read_judgments

RESULT_MODES = ("pairwise-all", "pairwise-baseline", "single", "alpaca-eval", "score-totals", "arena-hard")


@dataclass(frozen=True)
class PairwiseResult:
    """One model's record over the pairs it played."""

    model: str
    win: int
    loss: int
    tie: int
    n: int
    win_rate: float
    loss_rate: float
    win_rate_adjusted: float


def pairwise_results(
    battles: Iterable[Battle], baseline: str | None = None, models: list[str] | None = None
) -> list[PairwiseResult]:
    """Win/loss/tie per model, best win_rate_adjusted first; with a baseline, only its pairs, without its row."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    allowed = None if models is None else set(models) | ({baseline} if baseline else set())
    for b in battles:
        if allowed is not None and not (b.model_a in allowed and b.model_b in allowed):
            continue
        if baseline is not None and baseline not in (b.model_a, b.model_b):
            continue
        if b.winner in ("model_a", "model_b"):
            winner, loser = (b.model_a, b.model_b) if b.winner == "model_a" else (b.model_b, b.model_a)
            counts[winner][0] += 1
            counts[loser][1] += 1
        else:
            counts[b.model_a][2] += 1
            counts[b.model_b][2] += 1
    rows = []
    for model, (win, loss, tie) in counts.items():
        if model == baseline:
            continue
        n = win + loss + tie
        rows.append(PairwiseResult(model, win, loss, tie, n, win / n, loss / n, (win + 0.5 * tie) / n))
    return sorted(rows, key=lambda r: (-r.win_rate_adjusted, r.model))


@dataclass(frozen=True)
class ScoreTotal:
    """Summed 1-10 scores of one model pair over the questions both were scored on (the Vicuna-80 blog table)."""

    model_a: str
    model_b: str
    total_a: float
    total_b: float
    n: int


def score_totals(battles: Iterable[Battle]) -> list[ScoreTotal]:
    """Per model pair (as stored, model_a first), the sums of the battles' `score_a` and `score_b` (kept by the
    Vicuna-80 review import); battles without both scores are left out."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for b in battles:
        extra = b.extra or {}
        if extra.get("score_a") is None or extra.get("score_b") is None:
            continue
        entry = sums[(b.model_a, b.model_b)]
        entry[0] += float(extra["score_a"])
        entry[1] += float(extra["score_b"])
        entry[2] += 1
    return [ScoreTotal(a, b, ta, tb, int(n)) for (a, b), (ta, tb, n) in sums.items()]


def results_for_run(
    store: Store,
    judge: str,
    mode: str,
    question_set: str | None = None,
    models: list[str] | None = None,
    baseline: str | None = None,
    difficulty: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Result rows (as dicts) of one judge: pairwise win rates, mean grades (single) or AlpacaEval's columns."""
    if mode == "single":
        rows = [
            j
            for j in read_judgments(store, judge=judge, mode="single")
            if question_set is None or j.question_set == question_set
        ]
        categories = question_categories(j.question_set for j in rows)
        return [asdict(r) for r in single_results(rows, models, categories)]
    battles = [
        b for b in read_battles(store, judge=judge) if question_set is None or b.question_set == question_set
    ]
    if mode == "score-totals":
        return [asdict(r) for r in score_totals(battles)]
    if mode == "alpaca-eval":
        from harness.judge.alpaca_eval import alpaca_eval_rows

        return [asdict(r) for r in alpaca_eval_rows(battles, baseline, difficulty)]
    return [
        asdict(r)
        for r in pairwise_results(battles, baseline if mode == "pairwise-baseline" else None, models)
    ]


def results_report(
    store: Store,
    judge: str | list[str] | None = None,
    mode: str = "pairwise-all",
    baseline: str | None = None,
    question_set: str | None = None,
    difficulty_file: str | None = None,
    control: tuple[str, ...] = (),
) -> dict[str, Any]:
    """`harness judge results`: result rows per judge (every judge in the store when `judge` is None);
    in arena-hard mode several judges are one ensemble.

    Raises:
        HarnessError: an unknown mode or judge, or a mode's missing --baseline.
    """
    from harness.errors import HarnessError
    from harness.store.judgments import judge_names, judge_usage

    if mode not in RESULT_MODES:
        raise HarnessError(f"unknown --mode {mode!r}", hint=f"use one of {', '.join(RESULT_MODES)}")
    if mode in ("pairwise-baseline", "arena-hard") and not baseline:
        raise HarnessError(f"--mode {mode} needs --baseline MODEL")
    named = [judge] if isinstance(judge, str) else list(judge or [])
    known = judge_names(store)
    if named:
        from harness.judge.agreement import resolve_judges

        for name in named:
            if name != "human":
                resolve_judges(name, known)  # an unknown name is an error listing the store's judges
    judges = named or known
    if mode == "arena-hard":
        if not named and len(judges) > 1:
            raise HarnessError(f"the store has {len(judges)} judges: {', '.join(judges)}",
                               hint="name one with --judge, or repeat --judge for an ensemble")
        return _arena_hard_report(store, judges, baseline or "", question_set, control)
    difficulty = lc_note = None
    if mode == "alpaca-eval":
        from harness.judge.alpaca_eval import lc_method_note, read_instruction_difficulty

        difficulty = read_instruction_difficulty(difficulty_file) if difficulty_file else None
        lc_note = lc_method_note(difficulty is not None)
    report = []
    for name in judges:
        try:
            rows = results_for_run(store, name, mode, question_set, None, baseline, difficulty)
        except HarnessError:
            if named or mode != "alpaca-eval":
                raise
            continue  # a judge whose battles have no one baseline is not an AlpacaEval annotator: not listed
        if rows or named:
            report.append({"judge": name, "results": rows, "usage": judge_usage(store, name)})
    doc = {"mode": mode, "baseline": baseline, "question_set": question_set, "judges": report,
           "stored": stored_counts(store)}
    return {**doc, "length_control": lc_note} if lc_note else doc


def _arena_hard_report(store: Store, judges: list[str], baseline: str, question_set: str | None,
                       control: tuple[str, ...]) -> dict[str, Any]:
    """arena-hard scores of one judge, or of several pooled (an ensemble)."""
    from harness.judge.arena_hard import arena_hard_scores, ensemble

    by_judge = {j: [b for b in read_battles(store, judge=j) if question_set in (None, b.question_set)]
                for j in judges}
    rows = [asdict(r) for r in arena_hard_scores(ensemble(by_judge), baseline, control=control)]
    entry = {"judge": " + ".join(judges), "judges": judges, "results": rows}
    return {"mode": "arena-hard", "baseline": baseline, "question_set": question_set, "control": list(control),
            "judges": [entry]}


def stored_counts(store: Store) -> dict[str, int]:
    """How many judgments of each mode (`pairwise`, `single`) and how many battles the store holds."""
    from harness.store.judgments import count_by_mode

    return count_by_mode(store)
