"""Which judge's battles a computation uses: battles from different sources (human votes, a crowd, each judge
model) are never mixed unless the user names them.

A battle's source is its `judge` (`human`, `crowd`, or the judge model's name; `unspecified` when a file named
none), except that a Chatbot Arena voter is the crowd: FastChat's `clean_battle_data.py` names each voter
`arena_user_<n>`, so a dump has thousands of judges that are one source, as LLMFAO's crowd workers are (its
reader names them `crowd`); the voter stays in the battle's `judge`. `select_sources` keeps the named sources,
or, with none named, requires that there is only one. Pure; `harness arena --from-store`, `harness gate` and
the leaderboard call it with their `--judge` values, and the store's views name sources the same way in SQL
and pandas (`harness.store.views.battle_source_column`, `harness.store.battle_blocks.judge_sources`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError
from harness.records import Battle

UNSPECIFIED = "unspecified"
CROWD = "crowd"
VOTER_PREFIX = "arena_user_"  # a Chatbot Arena voter's judge name (FastChat's clean_battle_data.py)
_LISTED = 10  # sources an error names before it counts the rest (a judge per rater)


def source_of(judge: str | None) -> str:
    """The source of a judge's battles: the judge, `crowd` for a Chatbot Arena voter, `unspecified` for none."""
    if not judge:
        return UNSPECIFIED
    return CROWD if judge.startswith(VOTER_PREFIX) else judge


def battle_source(battle: Battle) -> str:
    """The source of one battle: who judged it."""
    return source_of(battle.judge)


def sources_of(battles: Sequence[Battle]) -> list[str]:
    """Every source among `battles`, sorted."""
    return sorted({battle_source(b) for b in battles})


def select_sources(battles: Sequence[Battle], names: Sequence[str] | None = None) -> list[Battle]:
    """The battles of the named sources, or of the only source when none is named.

    Raises:
        HarnessError: a named source with no battles, or several sources and none named (both list them).
    """
    wanted = _wanted(sources_of(battles), names)
    return list(battles) if wanted is None else [b for b in battles if battle_source(b) in wanted]


def source_mask(judges: Sequence[str | None], names: Sequence[str] | None = None) -> NDArray[np.bool_] | None:
    """`select_sources` on battles given as their judges (a column): which battles it keeps, None for all.

    Raises:
        HarnessError: as `select_sources`.
    """
    named = {judge: source_of(judge) for judge in set(judges)}
    wanted = _wanted(sorted(set(named.values())), names)
    if wanted is None:
        return None
    kept = {judge for judge, source in named.items() if source in wanted}
    return np.fromiter(map(kept.__contains__, judges), bool, len(judges))


def _wanted(found: list[str], names: Sequence[str] | None) -> set[str] | None:
    """The sources to keep among `found` (None: all, there being one), or the error saying why none can be."""
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise HarnessError(f"no battles judged by {', '.join(map(repr, unknown))} (sources: "
                               f"{listed(found) or 'none'})", hint="pass --judge with one of the sources")
        return set(names)
    if len(found) > 1:
        raise HarnessError(f"the battles come from {len(found)} sources: {listed(found)}",
                           hint="pick one with --judge NAME (repeat --judge to pool several on purpose)")
    return None


def listed(names: Sequence[str]) -> str:
    """The first names, comma-separated, and how many more there are."""
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} and {len(names) - _LISTED} more"
