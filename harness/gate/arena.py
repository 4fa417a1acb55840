"""The gate's arena checks: candidate-vs-baseline win rate from direct battles, and their BT rating difference.

`harness gate` adds them to the same Holm family as the task checks when the store has battles (from
`harness judge` or an import) between the two runs' model names. Pure statistics over the battles of the
chosen source as columns (the BT fit) and the records of the direct battles (clustered by question);
`decide` reads both from the store.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import HarnessError
from harness.gate import stats
from harness.gate.checks import GateConfig, Pending
from harness.records import Battle

if TYPE_CHECKING:
    from harness.formats.columns import BattleTable


def _battle_clusters(direct: list[Battle], candidate: str) -> list[list[float]]:
    """The candidate's score per battle (1, 1/2, 0), grouped by question and turn (both answer orders)."""
    from harness.arena.battles import SCORE_A

    clusters: dict[tuple[Any, ...], list[float]] = {}
    for k, b in enumerate(direct):
        score = SCORE_A.get(b.winner)
        if score is None:
            raise HarnessError(f"battle winner {b.winner!r} is not one of {sorted(SCORE_A)}")
        key = (b.question_set, b.question_id, b.turn) if b.question_id is not None else ("battle", k)
        clusters.setdefault(key, []).append(score if b.model_a == candidate else 1.0 - score)
    return list(clusters.values())


def win_rate_check(direct: list[Battle], candidate: str, config: GateConfig) -> Pending:
    """Candidate-vs-baseline win rate from direct battles: a sign test, or a bootstrap over questions when
    a question was judged more than once (both answer orders are not independent)."""
    clusters = _battle_clusters(direct, candidate)
    flat = [s for c in clusters for s in c]
    counts = {"wins": flat.count(1.0), "losses": flat.count(0.0), "ties": flat.count(0.5)}
    if all(len(c) == 1 for c in clusters):
        test = stats.sign_test(counts["wins"], counts["losses"], counts["ties"], config.alpha)
    else:
        per_question = np.array([np.mean(c) for c in clusters])
        test = stats.paired_bootstrap(np.full(per_question.size, 0.5), per_question, config.alpha,
                                      config.n_bootstrap, config.seed)
        test = replace(test, method="question-bootstrap", counts=counts)
    return Pending("arena: win rate", "arena", "win_rate", "direct battles", "higher", test,
                   config.max_drop, test.sd_diff)


def rating_check(table: BattleTable, candidate: str, baseline: str, config: GateConfig) -> Pending:
    """BT rating difference (candidate - baseline) over every battle of the source, with its bootstrap CI."""
    from harness.arena.ratings import ArenaConfig
    from harness.arena.tables import rate_table

    rounds = 1000
    arena_config = ArenaConfig.model_validate({"method": "bt", "bootstrap": rounds, "seed": config.seed,
                                               "ci": 1 - config.alpha})
    report = rate_table(table, arena_config)
    diff = report.difference(candidate, baseline)
    below = diff.p_not_better if diff.p_not_better is not None else 0.5
    p_value = min(1.0, 2 * (min(below, 1 - below) * rounds + 1) / (rounds + 1))
    ends = [table.models.index(candidate), table.models.index(baseline)]
    n = int(np.count_nonzero(np.isin(table.a, ends) | np.isin(table.b, ends)))
    cand_bt, base_bt = report.row(candidate).bt, report.row(baseline).bt
    low = diff.ci_low if diff.ci_low is not None else math.nan
    high = diff.ci_high if diff.ci_high is not None else math.nan
    test = stats.PairedTest("bt-bootstrap", n, float(base_bt or 0.0), float(cand_bt or 0.0), diff.difference,
                            low, high, p_value, math.nan)
    return Pending("arena: BT rating", "arena", "bt_rating", "all battles", "higher", test,
                   config.max_rating_drop, None)


def arena_checks(table: BattleTable, direct: list[Battle], candidate: str, baseline: str,
                 config: GateConfig) -> tuple[list[Pending], list[str]]:
    """Win-rate and rating checks when `table` (every stored battle of the source) has both models (else none,
    with a note); `direct` are its battles between the two, in battle order."""
    if candidate == baseline:
        return [], []
    if not {candidate, baseline} <= set(table.models):
        note = f"arena: no battles for both {candidate} and {baseline}; not gated"
        return [], [note] if len(table) else []
    checks = [win_rate_check(direct, candidate, config)] if direct else []
    checks.append(rating_check(table, candidate, baseline, config))
    return checks, [f"arena: {len(direct)} direct battle(s), {len(table)} in the BT fit"]

