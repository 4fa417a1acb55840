"""Judge statistics: win/loss/tie and win rates, MT-bench-style mean grades, agreement and position bias.

Counting follows FastChat: `show_result.py` (a pair is a tie when either game is a tie or the two answer
orders disagree; error rows are dropped; win_rate_adjusted = (win + 0.5 tie) / n) and
`compute_agreement.py` (votes keyed by question and sorted model pair per turn; "with ties" and "without
ties"; a judge's vote against each human vote; human-human over pairs of votes on the same key).
Pure functions over records, plus two readers that fetch them from the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import HarnessError
from harness.records import Battle, Judgment
from harness.store import Store
from harness.store.battles import read_battles
from harness.store.judgments import read_judgments

Key = tuple[str, str, str]  # (question_id, model sorted first, model sorted second)


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


@dataclass(frozen=True)
class SingleResult:
    """One model's mean 1-10 grade per turn and overall (MT-bench score)."""

    model: str
    turns: dict[int, float]
    score: float
    n: int


@dataclass(frozen=True)
class AgreementCount:
    """Agreeing votes out of compared votes."""

    agree: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.agree / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        return {"agree": self.agree, "total": self.total, "ratio": self.ratio}


@dataclass(frozen=True)
class PositionStats:
    """How a judge's verdict moves when the two answers swap places (pairs judged in both orders)."""

    judge: str
    n: int
    consistent: int
    bias_first: int
    bias_second: int

    def to_json(self) -> dict[str, Any]:
        rate = lambda k: k / self.n if self.n else None
        return {
            **asdict(self),
            "consistency": rate(self.consistent),
            "first_position_bias": rate(self.bias_first),
            "second_position_bias": rate(self.bias_second),
        }


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


def single_results(judgments: Iterable[Judgment], models: list[str] | None = None) -> list[SingleResult]:
    """Mean grade per model per turn and over all turns; errors (no score) are dropped, as FastChat drops -1."""
    scores: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for j in judgments:
        if j.mode != "single" or j.status != "ok" or j.score is None or j.score < 0:
            continue
        if models is None or j.model_a in models:
            scores[j.model_a][j.turn].append(float(j.score))
    rows = []
    for model, by_turn in scores.items():
        every = [s for turn_scores in by_turn.values() for s in turn_scores]
        turns = {t: sum(v) / len(v) for t, v in sorted(by_turn.items())}
        rows.append(SingleResult(model, turns, sum(every) / len(every), len(every)))
    return sorted(rows, key=lambda r: (-r.score, r.model))


def _revert(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def votes_by_turn(battles: Iterable[Battle]) -> dict[int, dict[Key, list[str]]]:
    """turn -> (question_id, sorted model pair) -> winners, with winners restated for the sorted order."""
    data: dict[int, dict[Key, list[str]]] = defaultdict(lambda: defaultdict(list))
    for b in battles:
        turn = b.turn or 1
        if b.model_a < b.model_b:
            data[turn][(str(b.question_id), b.model_a, b.model_b)].append(b.winner)
        else:
            data[turn][(str(b.question_id), b.model_b, b.model_a)].append(_revert(b.winner))
    return data


def _tie(vote: str) -> bool:
    return "tie" in vote


def _equal(v1: str, v2: str) -> bool:
    return (_tie(v1) and _tie(v2)) or v1 == v2


def count_agreement(
    votes1: dict[Key, list[str]], votes2: dict[Key, list[str]] | None, with_ties: bool
) -> AgreementCount:
    """FastChat's counting; `votes2=None` compares the votes of one judge (humans) with each other."""
    banned = lambda v: not with_ties and _tie(v)
    agree = total = 0
    for key, first in votes1.items():
        if votes2 is None:
            pairs = [(first[i], first[j]) for i in range(len(first)) for j in range(i + 1, len(first))]
        else:
            pairs = [(v1, v2) for v1 in first for v2 in votes2.get(key, [])]
        for v1, v2 in pairs:
            if banned(v1) or banned(v2):
                continue
            total += 1
            agree += _equal(v1, v2)
    return AgreementCount(agree, total)


def position_stats(judge: str, battles: Iterable[Battle]) -> PositionStats:
    """Consistency and position bias over battles whose `extra` keeps both orders' winners (g1: a first)."""
    n = consistent = first = second = 0
    for b in battles:
        g1, g2 = (b.extra or {}).get("g1"), (b.extra or {}).get("g2")
        if g1 is None or g2 is None or "error" in (g1, g2):
            continue
        n += 1
        consistent += g1 == g2 or (_tie(g1) and _tie(g2))
        first += g1 == "model_a" and g2 == "model_b"
        second += g1 == "model_b" and g2 == "model_a"
    return PositionStats(judge, n, consistent, first, second)


def _nothing_to_compare(store: Store, judge: str, against: str, missing: str) -> HarnessError:
    """The error for an agreement with one side absent, naming the judges that are there."""
    from harness.store.judgments import judge_names

    others = [n for n in judge_names(store) if n not in (missing, judge)]
    what = "human votes" if missing == "human" else f"battles judged by {missing!r}"
    if missing == judge or not others:
        hint = (f"judges with battles here: {', '.join(others)}" if others
                else "import votes first: `harness judge import FILE` (e.g. PRD's ratings-human)")
    else:
        hint = f"compare with a judge that is here: harness judge agreement --judge {judge} --against {others[0]}"
    return HarnessError(f"no {what} in the store to compare {judge!r} with" if missing == against
                        else f"no {what} in the store", hint=hint)


def agreement_report(store: Store, judge: str, against: str) -> dict[str, Any]:
    """`harness judge agreement`: per turn and overall, with and without ties, plus position stats.

    Raises:
        HarnessError: the store has no battles of `judge`, or none of `against` (human votes for "human").
    """
    mine = read_battles(store, judge=judge)
    if not mine:
        raise _nothing_to_compare(store, judge, against, judge)
    theirs = mine if against == judge else read_battles(store, judge=against)
    if not theirs:
        raise _nothing_to_compare(store, judge, against, against)
    v1, v2 = votes_by_turn(mine), votes_by_turn(theirs)
    same = against == judge
    turns = []
    for turn in sorted(set(v1) & set(v2)):
        other = None if same else v2[turn]
        turns.append(
            {
                "turn": turn,
                "with_ties": count_agreement(v1[turn], other, True).to_json(),
                "without_ties": count_agreement(v1[turn], other, False).to_json(),
            }
        )
    overall = {}
    for label, ties in (("with_ties", True), ("without_ties", False)):
        parts = [count_agreement(v1[t], None if same else v2[t], ties) for t in set(v1) & set(v2)]
        overall[label] = AgreementCount(sum(p.agree for p in parts), sum(p.total for p in parts)).to_json()
    return {
        "judge": judge,
        "against": against,
        "turns": turns,
        "overall": overall,
        "position": [
            position_stats(j, read_battles(store, judge=j)).to_json() for j in dict.fromkeys([judge, against])
        ],
    }


def results_for_run(
    store: Store,
    judge: str,
    mode: str,
    question_set: str | None = None,
    models: list[str] | None = None,
    baseline: str | None = None,
) -> list[dict[str, Any]]:
    """Result rows (as dicts) of one judge: pairwise win rates, or mean grades for mode single."""
    if mode == "single":
        rows = [
            j
            for j in read_judgments(store, judge=judge, mode="single")
            if question_set is None or j.question_set == question_set
        ]
        return [asdict(r) for r in single_results(rows, models)]
    battles = [
        b for b in read_battles(store, judge=judge) if question_set is None or b.question_set == question_set
    ]
    return [
        asdict(r)
        for r in pairwise_results(battles, baseline if mode == "pairwise-baseline" else None, models)
    ]


def results_report(
    store: Store,
    judge: str | None = None,
    mode: str = "pairwise-all",
    baseline: str | None = None,
    question_set: str | None = None,
) -> dict[str, Any]:
    """`harness judge results`: result rows per judge (every judge in the store when `judge` is None)."""
    from harness.store.judgments import judge_names, judge_usage

    if mode == "pairwise-baseline" and not baseline:
        raise HarnessError("--mode pairwise-baseline needs --baseline MODEL")
    judges = [judge] if judge else judge_names(store)
    report = []
    for name in judges:
        rows = results_for_run(store, name, mode, question_set, None, baseline)
        if rows or judge:
            report.append({"judge": name, "results": rows, "usage": judge_usage(store, name)})
    return {"mode": mode, "baseline": baseline, "question_set": question_set, "judges": report,
            "stored": stored_counts(store)}


def stored_counts(store: Store) -> dict[str, int]:
    """How many judgments of each mode (`pairwise`, `single`) and how many battles the store holds."""
    from harness.store.judgments import count_by_mode

    return count_by_mode(store)
