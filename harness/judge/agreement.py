"""Judge agreement and position consistency, counted as FastChat's `llm_judge/compute_agreement.py` counts.

Votes are keyed by question and sorted model pair per turn, winners restated for the sorted order; "with
ties" and "without ties"; a judge's vote against each human vote; human-human over every pair of votes on
the same key. `counting` says what a judge's vote is when it judged both answer orders:

- `fastchat` (default): one vote, the two orders merged by FastChat's rule (a win only when both orders
  agree, else a tie). This is what compute_agreement counts: it asserts one judge vote per key, and the
  MT-bench paper's conservative rule makes that vote from both orders.
- `per-order`: each order's verdict is a vote of its own, so each human vote is compared twice.

Pure functions over battles, plus `agreement_report`, which reads them from the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import HarnessError
from harness.records import Battle
from harness.store import Store
from harness.store.battles import read_battles

Key = tuple[str, str, str]  # (question_id, model sorted first, model sorted second)
COUNTINGS = ("fastchat", "per-order")
# Judges that are people: `--against human` compares with all of them (PRD/MT-bench experts, LLMFAO's crowd).
HUMAN_JUDGES = ("human", "crowd")


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
    """How a judge's verdict moves when the two answers swap places (pairs judged in both orders).

    consistent: the same verdict both ways; first / second: each order prefers the answer shown first /
    second; other: a tie in one order and a win in the other.
    """

    judge: str
    n: int
    consistent: int
    bias_first: int
    bias_second: int
    other: int = 0

    def to_json(self) -> dict[str, Any]:
        rate = lambda k: k / self.n if self.n else None
        return {
            **asdict(self),
            "consistency": rate(self.consistent),
            "first_position_bias": rate(self.bias_first),
            "second_position_bias": rate(self.bias_second),
            "other_rate": rate(self.other),
        }


def _revert(winner: str) -> str:
    return {"model_a": "model_b", "model_b": "model_a"}.get(winner, winner)


def _votes_of(battle: Battle, counting: str) -> list[str]:
    """The battle's votes: its winner, or with per-order counting each order's winner (model_a/b terms)."""
    extra = battle.extra or {}
    g1, g2 = extra.get("g1"), extra.get("g2")
    if counting == "per-order" and g1 is not None and g2 is not None:
        return [g for g in (g1, g2) if g != "error"]
    return [battle.winner]


def votes_by_turn(battles: Iterable[Battle], counting: str = "fastchat") -> dict[int, dict[Key, list[str]]]:
    """turn -> (question_id, sorted model pair) -> votes, restated for the sorted order."""
    data: dict[int, dict[Key, list[str]]] = defaultdict(lambda: defaultdict(list))
    for b in battles:
        turn = b.turn or 1
        for vote in _votes_of(b, counting):
            if b.model_a < b.model_b:
                data[turn][(str(b.question_id), b.model_a, b.model_b)].append(vote)
            else:
                data[turn][(str(b.question_id), b.model_b, b.model_a)].append(_revert(vote))
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
    return PositionStats(judge, n, consistent, first, second, n - consistent - first - second)


def resolve_judges(name: str, known: list[str]) -> list[str]:
    """The stored judges a name means: itself, or for `human` every human judge in the store.

    Raises:
        HarnessError: the name matches no judge in the store (the message lists them).
    """
    names = [j for j in HUMAN_JUDGES if j in known] if name == "human" else [name] if name in known else []
    if not names:
        listed = ", ".join(known) or "none"
        raise HarnessError(f"no judge {name!r} in the store (judges: {listed})",
                           hint="pass --judge/--against with one of them; 'human' means human or crowd votes")
    return names


def _battles_of(store: Store, judges: list[str]) -> list[Battle]:
    return [b for judge in judges for b in read_battles(store, judge=judge)]


def _counts(v1: dict[int, dict[Key, list[str]]], v2: dict[int, dict[Key, list[str]]] | None,
            turns: list[int], ties: bool) -> AgreementCount:
    parts = [count_agreement(v1[t], None if v2 is None else v2[t], ties) for t in turns]
    return AgreementCount(sum(p.agree for p in parts), sum(p.total for p in parts))


def _no_human_votes(judge: str, known: list[str]) -> HarnessError:
    """Nothing to compare a judge with: the hint names a judge that is here (a command that runs) or the import."""
    others = [name for name in known if name != judge]
    hint = (f"compare with a judge that is here: harness judge agreement --judge {judge} --against {others[0]}"
            if others else "import votes first: `harness judge import FILE` (e.g. PRD's ratings-human)")
    return HarnessError(f"no human votes in the store to compare {judge!r} with", hint=hint)


def agreement_report(store: Store, judge: str, against: str, counting: str = "fastchat") -> dict[str, Any]:
    """`harness judge agreement`: per turn and overall, with and without ties, plus position stats.

    Raises:
        HarnessError: an unknown counting or judge name.
    """
    from harness.store.judgments import judge_names

    if counting not in COUNTINGS:
        raise HarnessError(f"unknown --counting {counting!r}", hint=f"use one of {', '.join(COUNTINGS)}")
    known = judge_names(store)
    mine_names = resolve_judges(judge, known)
    if against == "human" and not any(j in known for j in HUMAN_JUDGES):
        raise _no_human_votes(judge, known)
    their_names = resolve_judges(against, known)
    same = mine_names == their_names
    v1 = votes_by_turn(_battles_of(store, mine_names), counting)
    v2 = None if same else votes_by_turn(_battles_of(store, their_names), counting)
    shared = sorted(set(v1) if v2 is None else set(v1) & set(v2))
    turns = [{"turn": t, "with_ties": _counts(v1, v2, [t], True).to_json(),
              "without_ties": _counts(v1, v2, [t], False).to_json()} for t in shared]
    overall = {"with_ties": _counts(v1, v2, shared, True).to_json(),
               "without_ties": _counts(v1, v2, shared, False).to_json()}
    stats = [position_stats(j, read_battles(store, judge=j)) for j in dict.fromkeys([*mine_names, *their_names])]
    position = [p.to_json() for p in stats if p.n or p.judge in mine_names]  # votes seen in one order: no row
    return {"judge": judge, "against": against, "counting": counting,
            "judges": mine_names, "against_judges": their_names,
            "turns": turns, "overall": overall, "position": position}
