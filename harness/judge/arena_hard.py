"""arena-hard-auto's scoring: five-label verdicts, a strong verdict counted as several games, and each model's
score against a baseline with a bootstrap interval (lm-sys/arena-hard-auto `show_result.py`, `utils_math.py`).

Per question two games, the baseline shown first then second; `A>>B`/`B>>A` weigh `multiplier` (3) games,
`A>B`/`A=B`/`B>A` one, anything else none. The battles are rated by Bradley-Terry (ties half a win) with the
baseline anchored at 1000, bootstrapped over games, and each rating (and its 2.5/97.5 percentiles) becomes
the predicted win rate against the baseline in percent. Judge ensembles pool several judges' games. Style
control is the arena's (`harness.arena.style`) on the same games. Pure; `harness judge results --mode
arena-hard` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from harness.errors import HarnessError
from harness.records import Battle

STRONG_WEIGHT = 3
# label -> (winner when the baseline is shown first (game 1), strong?)
LABEL_OUTCOMES = {"A>>B": ("model_a", True), "A>B": ("model_a", False), "A=B": ("tie", False),
                  "B>A": ("model_b", False), "B>>A": ("model_b", True)}
_SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}


@dataclass(frozen=True)
class ArenaHardScore:
    """One model's score: its predicted win rate (%) against the baseline, with the bootstrap interval."""

    model: str
    score: float
    lower: float | None
    upper: float | None
    games: int


def game_outcome(label: str | None, game: int, multiplier: int = STRONG_WEIGHT) -> tuple[str, int] | None:
    """(winner with the baseline as model_a, weight) of one game's label; None for no usable label.

    Game 1 shows the baseline as assistant A, game 2 as assistant B (so its label is read swapped).
    """
    if label not in LABEL_OUTCOMES:
        return None
    winner, strong = LABEL_OUTCOMES[label]
    return (winner if game == 1 else _SWAP[winner]), (multiplier if strong else 1)


def expand_weights(battles: Sequence[Battle], multiplier: int = STRONG_WEIGHT) -> list[Battle]:
    """Each battle repeated by its weight (`extra.label` strong: `multiplier`, else `extra.weight` or 1), as
    show_result's `[output] * weight`."""
    out: list[Battle] = []
    for b in battles:
        label = (b.extra or {}).get("label")
        weight = (multiplier if LABEL_OUTCOMES[label][1] else 1) if label in LABEL_OUTCOMES else int(
            (b.extra or {}).get("weight", 1))
        out.extend([b] * weight)
    return out


def _win_rate(rating: float | None, base_rating: float) -> float | None:
    """get_win_rate_column: 100 / (1 + 10^((baseline - model) / 400)), rounded to 2 places as it does."""
    if rating is None:
        return None
    return round(100.0 / (1.0 + 10 ** ((base_rating - rating) / 400.0)), 2)


def arena_hard_scores(battles: Sequence[Battle], baseline: str, rounds: int = 100, seed: int = 0,
                      multiplier: int = STRONG_WEIGHT, control: tuple[str, ...] = ()) -> list[ArenaHardScore]:
    """Scores of every model that played `baseline`, best first (the baseline itself scores 50).

    With `control` (length, markdown) the style-controlled BT ratings are used, as `--style-control`.

    Raises:
        HarnessError: no battles against the baseline.
    """
    from harness.arena.ratings import ArenaConfig, compute_ratings

    games = [b for b in battles if baseline in (b.model_a, b.model_b) and b.model_a != b.model_b]
    if not games:
        raise HarnessError(f"no battles against baseline {baseline!r}", hint="pass --baseline (the model every "
                           "arena-hard game compares with)")
    expanded = expand_weights(games, multiplier)
    config = ArenaConfig(method="bt", bootstrap=rounds, seed=seed, anchor=(baseline, 1000.0),
                         control=control)  # type: ignore[arg-type]
    report = compute_ratings(expanded, config)
    counts = {m: 0 for m in report.models}
    for b in games:
        counts[b.model_a] += 1
        counts[b.model_b] += 1
    rows = []
    for r in report.rows:
        rating, low, high = ((r.bt_controlled, r.controlled_ci_low, r.controlled_ci_high) if control
                             else (r.bt, r.ci_low, r.ci_high))
        score = _win_rate(rating, 1000.0)
        assert score is not None
        rows.append(ArenaHardScore(r.model, score, _win_rate(low, 1000.0), _win_rate(high, 1000.0), counts[r.model]))
    return sorted(rows, key=lambda s: (-s.score, s.model))


def ensemble(battles_by_judge: Mapping[str, Sequence[Battle]]) -> list[Battle]:
    """A judge ensemble: every judge's games on the same questions pooled into one battle set, each battle
    keeping its judge."""
    return [replace(b, judge=judge) for judge, items in battles_by_judge.items() for b in items]
