"""Arena ratings: online Elo and Bradley-Terry with bootstrap CIs, rank ranges and win-rate matrices.

Pure numpy/scipy over `Battle` records, no I/O. The BT fit and its multinomial bootstrap live in
`harness.arena.bradley_terry` and the config and battle encoding in `harness.arena.battles` (both
re-exported here), style control in `harness.arena.style`.
`harness arena` (via `harness.arena.run`) reads battles, calls `compute_ratings`, stores and renders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness.arena.battles import (
    SCORE_A,
    ArenaConfig,
    EncodedBattles,
    battle_set_fingerprint,
    encode_battles,
)
from harness.arena.bradley_terry import (
    FALLBACK_RIDGE,
    BTFit,
    FloatArray,
    IntArray,
    PairCounts,
    bootstrap_bradley_terry,
    count_pairs,
    fit_bradley_terry,
    mle_exists,
    percentile_interval,
    reachable,
    single_threaded_blas,
)
from harness.arena.style import CONTROL_FEATURES, StyleFit, fit_style_control
from harness.errors import HarnessError
from harness.parallel import FORK_FROM, Forked
from harness.records import Battle, Rating

__all__ = [
    "SCORE_A", "ArenaConfig", "ArenaReport", "BTFit", "EncodedBattles", "ModelRating", "PairCounts",
    "RatingDifference", "battle_set_fingerprint", "bootstrap_bradley_terry", "compute_ratings", "count_pairs",
    "encode_battles", "fit_bradley_terry", "mle_exists", "online_elo", "predicted_win_rates", "rank_ranges",
    "rate_encoded", "win_matrices",
]


@dataclass(frozen=True)
class ModelRating:
    """One leaderboard row. `rank_low` is the best rank the CIs allow, `rank_high` the worst."""

    model: str
    elo: float | None
    bt: float | None
    ci_low: float | None
    ci_high: float | None
    rank_low: int
    rank_high: int
    battles: int
    bt_controlled: float | None = None
    controlled_ci_low: float | None = None
    controlled_ci_high: float | None = None


@dataclass(frozen=True)
class RatingDifference:
    """BT rating of `model` minus `other`, with the percentile bootstrap interval of the difference."""

    model: str
    other: str
    difference: float
    ci_low: float | None
    ci_high: float | None
    p_not_better: float | None  # share of bootstrap rounds where the difference is <= 0


@dataclass(frozen=True)
class ArenaReport:
    """Everything `compute_ratings` found. Matrices and `bootstrap` columns follow `models` (sorted names)."""

    battle_set: str
    n_battles: int
    models: tuple[str, ...]
    rows: tuple[ModelRating, ...]  # sorted by BT (Elo when BT was not fitted), best first
    bootstrap: FloatArray | None  # (rounds, models) BT ratings, each round anchored like the point fit
    predicted: FloatArray | None  # P(row beats column) from the BT ratings
    observed: FloatArray  # (wins + ties / 2) / battles of row against column; NaN where they never met
    counts: FloatArray  # battles between row and column
    style: StyleFit | None
    config: ArenaConfig
    warnings: tuple[str, ...] = ()

    def row(self, model: str) -> ModelRating:
        """The row of `model` (KeyError if it had no battles)."""
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(model)

    def difference(self, model: str, other: str) -> RatingDifference:
        """BT(model) - BT(other) with a bootstrap CI of the difference (for the gate)."""
        first, second = self.row(model).bt, self.row(other).bt
        if first is None or second is None:
            raise HarnessError("a rating difference needs the BT fit", hint="use --method bt or both")
        if self.bootstrap is None:
            return RatingDifference(model, other, first - second, None, None, None)
        x, y = self.models.index(model), self.models.index(other)
        diffs = self.bootstrap[:, x] - self.bootstrap[:, y]
        low, high = percentile_interval(diffs[:, None], self.config.ci)
        return RatingDifference(model, other, first - second, float(low[0]), float(high[0]),
                                float(np.mean(diffs <= 0)))

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: battles, battle_set, models rows, matrices, style coefficients, warnings."""
        document: dict[str, Any] = {
            "battles": self.n_battles,
            "battle_set": self.battle_set,
            "config": self.config.model_dump(mode="json"),
            "models": [dict(vars(row)) for row in self.rows],
            "matrices": {
                "models": list(self.models),
                "counts": _json_matrix(self.counts),
                "observed": _json_matrix(self.observed),
                "predicted": None if self.predicted is None else _json_matrix(self.predicted),
            },
            "warnings": list(self.warnings),
        }
        if self.style is not None:
            document["style"] = {"features": list(self.style.features),
                                 "coefficients": [float(c) for c in self.style.coefficients]}
        return document


def _json_matrix(matrix: FloatArray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else float(v) for v in row] for row in matrix.tolist()]


def online_elo(a: IntArray, b: IntArray, score: FloatArray, n_models: int, k: float = 4.0,
               scale: float = 400.0, base: float = 10.0, initial: float = 1000.0) -> FloatArray:
    """Online Elo in battle order (the 2023 Arena notebook); a's expected score is
    1 / (1 + base^((rb - ra) / scale)) and both ratings move by k times the surprise."""
    ratings = [initial] * n_models
    for ia, ib, s in zip(a.tolist(), b.tolist(), score.tolist()):
        expected = 1.0 / (1.0 + base ** ((ratings[ib] - ratings[ia]) / scale))
        update = k * (s - expected)
        ratings[ia] += update
        ratings[ib] -= update
    return np.asarray(ratings, dtype=np.float64)


def rank_ranges(low: FloatArray, high: FloatArray) -> tuple[IntArray, IntArray]:
    """Rank ranges from CIs (the Arena's "rank (UB)"): best = 1 + models whose lower bound exceeds this
    model's upper bound; worst = M - models whose upper bound is below this model's lower bound."""
    best = 1 + (low[None, :] > high[:, None]).sum(axis=1)
    worst = len(low) - (high[None, :] < low[:, None]).sum(axis=1)
    return best.astype(np.int64), worst.astype(np.int64)


def win_matrices(counts: PairCounts) -> tuple[FloatArray, FloatArray]:
    """Battle counts and observed win rates ((wins + ties / 2) / battles, NaN where a pair never met)."""
    m = counts.n_models
    n = np.zeros((m, m))
    won = np.zeros((m, m))
    n[counts.i, counts.j] = n[counts.j, counts.i] = counts.total
    won[counts.i, counts.j] = counts.wins_i + counts.ties / 2
    won[counts.j, counts.i] = counts.wins_j + counts.ties / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.where(n > 0, won / n, np.nan)
    return n, observed


def predicted_win_rates(ratings: FloatArray, base: float = 10.0, scale: float = 400.0) -> FloatArray:
    """P(row beats column) = 1 / (1 + base^((r_col - r_row) / scale)); NaN on the diagonal."""
    matrix = 1.0 / (1.0 + base ** ((ratings[None, :] - ratings[:, None]) / scale))
    np.fill_diagonal(matrix, np.nan)
    return matrix


def compute_ratings(battles: Sequence[Battle], config: ArenaConfig) -> ArenaReport:
    """Rate a battle set: online Elo and/or BT with bootstrap CIs, rank ranges, matrices and style control.

    Raises:
        HarnessError: no battles, an unknown anchor model, a bad winner, or style control without metadata.
    """
    if not battles:
        raise HarnessError("no battles to rate", hint="check --battles / --from-store and --category")
    return rate_encoded(encode_battles(battles), battle_set_fingerprint(battles), config, lambda: battles)


def rate_encoded(encoded: EncodedBattles, battle_set: str | Callable[[], str], config: ArenaConfig,
                 records: Callable[[], Sequence[Battle]]) -> ArenaReport:
    """`compute_ratings` on battles already encoded (a column-wise file); `records` gives the Battle records
    only style control needs (their `extra`), and is called only then; `battle_set` may be a function that
    gives the fingerprint, called once the ratings are done (so it can be computed beside them)."""
    if not len(encoded.a):
        raise HarnessError("no battles to rate", hint="check --battles / --from-store and --category")
    with single_threaded_blas():
        return _rate(encoded, battle_set, config, records)


def _rate(encoded: EncodedBattles, battle_set: str | Callable[[], str], config: ArenaConfig,
          records: Callable[[], Sequence[Battle]]) -> ArenaReport:
    anchor = _anchor_index(encoded.models, config)
    counts = count_pairs(encoded.a, encoded.b, encoded.score, len(encoded.models))
    n, observed = win_matrices(counts)
    warnings: list[str] = []
    elo = bt = samples = None
    beside = config.method == "both" and len(encoded.a) >= FORK_FROM  # a child, while the BT fit runs here
    online = None if config.method == "bt" else Forked(
        beside, online_elo, encoded.a, encoded.b, encoded.score, len(encoded.models), config.k, config.scale,
        config.base, config.initial)
    if config.method in ("bt", "both"):
        bt, samples, notes = _fit_bt(counts, config)
        bt = _anchored(bt, anchor, config)
        samples = None if samples is None else _anchored(samples, anchor, config)
        warnings += notes
    if online is not None:
        elo = _anchored(online.result(), anchor, config)
    style = None
    if config.control and config.method == "elo":
        warnings.append("style control needs the BT fit; ignored with method 'elo'")
    elif config.control:
        style = _anchored_style(fit_style_control(records(), encoded, config), anchor, config)
        warnings += dropped_controls(config.control, style.features)
        if not style.converged:
            warnings.append("the style-controlled BT fit did not converge (a covariate may separate "
                            "the outcomes)")
    rows = _rows(encoded.models, elo, bt, samples, style, n.sum(axis=1), config)
    predicted = None if bt is None else predicted_win_rates(bt, config.base, config.scale)
    fingerprint = battle_set if isinstance(battle_set, str) else battle_set()
    return ArenaReport(fingerprint, len(encoded.a), encoded.models, rows, samples, predicted, observed, n,
                       style, config, tuple(warnings))


def dropped_controls(control: tuple[str, ...] | list[str], used: tuple[str, ...]) -> list[str]:
    """A warning per asked style covariate the fit had to leave out because it never varies."""
    notes = []
    for group in control:
        if not {*CONTROL_FEATURES[group], group} & set(used):
            what = "headers, lists or bold" if group == "markdown" else "a length difference"
            notes.append(f"style control: {group!r} left out: no battle's answers differ in {what}, so its "
                         "weight cannot be estimated")
    return notes


def _fit_bt(counts: PairCounts, config: ArenaConfig) -> tuple[FloatArray, FloatArray | None, list[str]]:
    fit = fit_bradley_terry(counts, config.base, config.scale, config.initial)
    notes = []
    groups = comparison_groups(counts)
    if groups > 1:
        notes.append(f"the battles form {groups} groups of models that never met each other: "
                     "BT ratings are not comparable across groups")
    elif not fit.mle_exists:
        notes.append("the BT maximum likelihood does not exist (some models never won or never lost against "
                     f"the rest): ratings use a ridge of {FALLBACK_RIDGE} and are unreliable")
    if not fit.converged:
        notes.append("the BT fit did not converge")
    samples = None
    if config.bootstrap:
        samples = bootstrap_bradley_terry(counts, config.bootstrap, config.seed, config.base, config.scale,
                                          config.initial, fit=fit)
    return fit.ratings, samples, notes


def comparison_groups(counts: PairCounts) -> int:
    """How many groups of models the battles connect (1 when every model is linked to every other)."""
    graph = np.zeros((counts.n_models,) * 2, bool)
    graph[counts.i, counts.j] = graph[counts.j, counts.i] = True
    seen, groups = np.zeros(counts.n_models, bool), 0
    for node in range(counts.n_models):
        if not seen[node]:
            groups += 1
            seen |= reachable(graph, node)
    return groups


def _anchor_index(models: tuple[str, ...], config: ArenaConfig) -> int | None:
    if config.anchor is None:
        return None
    if config.anchor[0] not in models:
        raise HarnessError(f"anchor model {config.anchor[0]!r} has no battles",
                           hint=f"pick one of: {', '.join(models[:10])}{' ...' if len(models) > 10 else ''}")
    return models.index(config.anchor[0])


def _anchored(ratings: FloatArray, anchor: int | None, config: ArenaConfig) -> FloatArray:
    """Shift each row of ratings so the anchor model gets the anchor rating (no-op without an anchor)."""
    if anchor is None or config.anchor is None:
        return ratings
    return ratings + (config.anchor[1] - ratings[..., anchor:anchor + 1])


def _anchored_style(style: StyleFit, anchor: int | None, config: ArenaConfig) -> StyleFit:
    if anchor is None or style.samples is None:
        return replace(style, ratings=_anchored(style.ratings, anchor, config))
    samples = _anchored(style.samples, anchor, config)
    low, high = percentile_interval(samples, config.ci)
    return replace(style, ratings=_anchored(style.ratings, anchor, config), samples=samples, ci_low=low,
                   ci_high=high)


def _rows(models: tuple[str, ...], elo: FloatArray | None, bt: FloatArray | None, samples: FloatArray | None,
          style: StyleFit | None, battles: FloatArray, config: ArenaConfig) -> tuple[ModelRating, ...]:
    main = bt if bt is not None else elo
    assert main is not None
    low, high = (None, None) if samples is None else percentile_interval(samples, config.ci)
    best, worst = rank_ranges(main, main) if low is None or high is None else rank_ranges(low, high)

    def value(array: FloatArray | None, k: int) -> float | None:
        return None if array is None else float(array[k])

    rows = [ModelRating(name, value(elo, k), value(bt, k), value(low, k), value(high, k), int(best[k]),
                        int(worst[k]), int(battles[k]),
                        value(style.ratings if style else None, k), value(style.ci_low if style else None, k),
                        value(style.ci_high if style else None, k))
            for k, name in enumerate(models)]
    order = np.argsort(-main, kind="stable")
    return tuple(rows[k] for k in order)


def ratings_from_report(report: ArenaReport, source: str, category: str | None = None) -> list[Rating]:
    """The `ratings` rows of a report: one per model and method (bt, elo, bt-controlled), keyed by battle set.

    `harness arena` stores them; the leaderboard builds the same rows when it fits ratings on the fly.
    """
    params = {**report.config.model_dump(mode="json"), "source": source, "category": category,
              "battles": report.n_battles}
    out: list[Rating] = []
    for row in report.rows:
        fits = (("bt", row.bt, row.ci_low, row.ci_high, (row.rank_low, row.rank_high)),
                ("elo", row.elo, None, None, (None, None)),
                ("bt-controlled", row.bt_controlled, row.controlled_ci_low, row.controlled_ci_high, (None, None)))
        out += [Rating(battle_set=report.battle_set, method=method, model=row.model, rating=rating, ci_low=low,
                       ci_high=high, rank_low=ranks[0], rank_high=ranks[1], n_battles=row.battles, params=params)
                for method, rating, low, high, ranks in fits if rating is not None]
    return out
