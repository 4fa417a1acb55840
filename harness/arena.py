"""Arena ratings: online Elo and Bradley-Terry with bootstrap confidence intervals, rank ranges and win-rate matrices.

Pure numpy/scipy over `Battle` records, no I/O. Bradley-Terry is the unpenalised maximum-likelihood fit on
aggregated pair counts (ties are half a win each), solved by batched Newton steps so that a 1,000-round
multinomial bootstrap is one vectorised computation. `harness arena` reads battles, calls `compute_ratings`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from harness.config import Frozen
from harness.errors import HarnessError
from harness.store.battles import Battle

if TYPE_CHECKING:
    from harness.arena_style import StyleFit

Method = Literal["bt", "elo", "both"]
Control = Literal["length", "markdown"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

SCORE_A = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
FALLBACK_RIDGE = 1e-3  # L2 weight used only when the unpenalised MLE does not exist (a model never lost, ...)
_MAX_NEWTON = 100
_NEWTON_TOL = 1e-11  # largest step, natural (log-odds) units
_MAX_CHORD = 60
_CHORD_TOL = 1e-9  # bootstrap rounds: 2e-7 Elo points
_CELLS_PER_CHUNK = 4_000_000  # bootstrap rounds per chunk * max(models^2, cells): ~32 MB arrays


class ArenaConfig(Frozen):
    """How `harness arena` rates a battle set."""

    method: Method = "both"
    """bt: Bradley-Terry with bootstrap CIs; elo: online Elo only; both."""
    bootstrap: int = Field(1000, ge=0)
    """Bootstrap rounds for the BT confidence intervals (0: none)."""
    seed: int = 0
    """Seed of the bootstrap's random generator."""
    anchor: tuple[str, float] | None = None
    """(model, rating): shift every rating so this model has this rating; default: BT mean 1000."""
    control: tuple[Control, ...] = ()
    """Style covariates for a controlled BT fit beside the raw one: length and/or markdown."""
    k: float = Field(4.0, gt=0)
    """Online Elo step size."""
    scale: float = Field(400.0, gt=0)
    """Elo points per factor `base` of odds."""
    base: float = Field(10.0, gt=1)
    """Odds base of the Elo scale."""
    initial: float = 1000.0
    """Online Elo start rating, and the BT mean when there is no anchor."""
    ci: float = Field(0.95, gt=0, lt=1)
    """Coverage of the percentile bootstrap intervals."""


@dataclass(frozen=True)
class EncodedBattles:
    """Battles as arrays: model indices into `models` (sorted names) and model_a's score (1, 0.5 or 0)."""

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    score: FloatArray


@dataclass(frozen=True)
class PairCounts:
    """Outcomes aggregated per unordered pair i < j (side a/b does not matter to BT); ties count separately."""

    n_models: int
    i: IntArray
    j: IntArray
    wins_i: FloatArray
    wins_j: FloatArray
    ties: FloatArray

    @property
    def total(self) -> FloatArray:
        return self.wins_i + self.wins_j + self.ties


@dataclass(frozen=True)
class BTFit:
    """A Bradley-Terry fit on the Elo scale; `mle_exists` is False when the fallback ridge was needed."""

    ratings: FloatArray
    mle_exists: bool
    converged: bool


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


def encode_battles(battles: Sequence[Battle]) -> EncodedBattles:
    """Map model names to indices (sorted names) and winners to model_a's score; raises on a bad winner."""
    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    index = {name: k for k, name in enumerate(models)}
    try:
        score = np.fromiter((SCORE_A[b.winner] for b in battles), np.float64, len(battles))
    except KeyError as exc:
        raise HarnessError(f"battle winner {exc.args[0]!r} is not one of {sorted(SCORE_A)}") from None
    a = np.fromiter((index[b.model_a] for b in battles), np.int64, len(battles))
    b = np.fromiter((index[b.model_b] for b in battles), np.int64, len(battles))
    if np.any(a == b):
        raise HarnessError(f"battle {int(np.argmax(a == b))} has the same model on both sides")
    return EncodedBattles(tuple(models), a, b, score)


def battle_set_fingerprint(battles: Sequence[Battle]) -> str:
    """Content hash of the ordered (model_a, model_b, winner) triples: the key ratings are stored under."""
    digest = hashlib.sha256()
    for b in battles:
        digest.update(f"{b.model_a}\x1f{b.model_b}\x1f{b.winner}\x1e".encode())
    return "sha256:" + digest.hexdigest()


def count_pairs(a: IntArray, b: IntArray, score: FloatArray, n_models: int,
                weights: FloatArray | None = None) -> PairCounts:
    """Aggregate battles (each counted `weights` times, default once) into wins/ties per unordered pair that met."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * n_models + hi
    lo_won = np.where(a == lo, score, 1.0 - score)  # lo's score: 1, 0.5 or 0
    size = n_models * n_models
    w = np.ones(len(a)) if weights is None else weights
    ties = _float(np.bincount(key, weights=w * (score == 0.5), minlength=size))
    wins_lo = _float(np.bincount(key, weights=w * (lo_won == 1.0), minlength=size))
    total = _float(np.bincount(key, weights=w, minlength=size))
    met = np.flatnonzero(total)
    return PairCounts(n_models, met // n_models, met % n_models, wins_lo[met],
                      total[met] - wins_lo[met] - ties[met], ties[met])


def online_elo(a: IntArray, b: IntArray, score: FloatArray, n_models: int, k: float = 4.0,
               scale: float = 400.0, base: float = 10.0, initial: float = 1000.0) -> FloatArray:
    """Online Elo in battle order (the 2023 Arena notebook): expected score 1 / (1 + base^((rb - ra)/scale))."""
    ratings = [initial] * n_models
    for ia, ib, s in zip(a.tolist(), b.tolist(), score.tolist()):
        expected = 1.0 / (1.0 + base ** ((ratings[ib] - ratings[ia]) / scale))
        update = k * (s - expected)
        ratings[ia] += update
        ratings[ib] -= update
    return np.asarray(ratings, dtype=np.float64)


def fit_bradley_terry(counts: PairCounts, base: float = 10.0, scale: float = 400.0,
                      center: float = 1000.0) -> BTFit:
    """Unpenalised BT maximum likelihood on pair counts, on the Elo scale (scale * log_base strengths), mean `center`.

    When the MLE does not exist (some group of models never scored against the rest), a tiny ridge
    (`FALLBACK_RIDGE`) keeps the ratings finite and `mle_exists` is False.
    """
    exists = mle_exists(counts, counts.wins_i + counts.ties / 2, counts.total)
    wins = (counts.wins_i + counts.ties / 2)[None, :]
    ridge = np.array([0.0 if exists else FALLBACK_RIDGE])
    theta, converged = _newton_bt(counts, wins, counts.total[None, :], ridge, np.zeros((1, counts.n_models)))
    return BTFit(_to_elo(theta[0], base, scale, center), exists, bool(converged[0]))


def bootstrap_bradley_terry(counts: PairCounts, rounds: int, seed: int = 0, base: float = 10.0,
                            scale: float = 400.0, center: float = 1000.0) -> FloatArray:
    """BT ratings on `rounds` multinomial resamples of the battles, shape (rounds, models), each round mean `center`.

    Resampling battles with replacement only changes how often each (pair, outcome) cell occurs, so each
    round draws the cell counts from one multinomial and all rounds are solved together: Newton steps with
    the full-data Hessian (rounds start at the full-data fit), then exact Newton for any round left over.
    """
    cells = np.concatenate([counts.wins_i, counts.wins_j, counts.ties])
    n_pairs, n_total = len(counts.i), int(cells.sum())
    fit = fit_bradley_terry(counts, base, scale, center)
    theta0 = (fit.ratings - center) * math.log(base) / scale
    hessian = _bt_derivatives(counts, (counts.wins_i + counts.ties / 2)[None], counts.total[None],
                              np.array([0.0 if fit.mle_exists else FALLBACK_RIDGE]))(theta0[None])[1][0]
    inverse = np.linalg.inv(hessian)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(rounds, _CELLS_PER_CHUNK // max(counts.n_models ** 2, len(cells))))
    out = np.empty((rounds, counts.n_models))
    for first in range(0, rounds, chunk):
        size = min(chunk, rounds - first)
        drawn = rng.multinomial(n_total, cells / n_total, size=size).astype(np.float64)
        wins_i, wins_j, ties = drawn[:, :n_pairs], drawn[:, n_pairs:2 * n_pairs], drawn[:, 2 * n_pairs:]
        wins, total = wins_i + ties / 2, wins_i + wins_j + ties
        theta, done = _chord_bt(counts, wins, total, np.tile(theta0, (size, 1)), inverse)
        if not done.all():
            rest = ~done
            ridge = np.array([0.0 if mle_exists(counts, w, t) else FALLBACK_RIDGE
                              for w, t in zip(wins[rest], total[rest])])
            theta[rest], _ = _newton_bt(counts, wins[rest], total[rest], ridge, np.tile(theta0, (rest.sum(), 1)))
        out[first:first + size] = _to_elo(theta, base, scale, center)
    return out


def _chord_bt(counts: PairCounts, wins: FloatArray, total: FloatArray, theta: FloatArray,
              inverse: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Fixed-Hessian Newton (chord) steps for many BT problems near one solution; cheap, linearly convergent."""
    from scipy.special import expit

    done = np.zeros(len(theta), dtype=bool)
    live = np.arange(len(theta))
    for _ in range(_MAX_CHORD):
        sub = theta[live]
        residual = wins[live] - total[live] * expit(sub[:, counts.i] - sub[:, counts.j])
        grad = scatter_rows(residual, counts.i, counts.n_models) - scatter_rows(residual, counts.j, counts.n_models)
        step = grad @ inverse
        theta[live] = sub + step
        size = np.abs(step).max(axis=1)
        finished = size < _CHORD_TOL
        done[live[finished]] = True
        live = live[~finished & np.isfinite(size)]
        if not len(live):
            break
    done &= np.isfinite(theta).all(axis=1)
    return theta, done


def _to_elo(theta: FloatArray, base: float, scale: float, center: float) -> FloatArray:
    elo = theta * (scale / math.log(base))
    return elo - elo.mean(axis=-1, keepdims=True) + center


def mle_exists(counts: PairCounts, wins: FloatArray, total: FloatArray) -> bool:
    """The BT MLE is finite iff the "scored against" digraph (i -> j when i won or tied against j) is strongly connected."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    forward, backward = wins > 0, (total - wins) > 0
    rows = np.concatenate([counts.i[forward], counts.j[backward]])
    cols = np.concatenate([counts.j[forward], counts.i[backward]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(counts.n_models,) * 2)
    n_components, _ = connected_components(graph, directed=True, connection="strong")
    return bool(n_components == 1)


def _bt_objective(theta: FloatArray, counts: PairCounts, wins: FloatArray, total: FloatArray,
                  ridge: FloatArray) -> FloatArray:
    from scipy.special import log_expit

    d = theta[:, counts.i] - theta[:, counts.j]
    loglik = (wins * log_expit(d) + (total - wins) * log_expit(-d)).sum(axis=1)
    return -loglik + 0.5 * ridge * (theta ** 2).sum(axis=1)


def _bt_derivatives(counts: PairCounts, wins: FloatArray, total: FloatArray,
                    ridge: FloatArray) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
    """Gradient of the log-likelihood and the negative Hessian (a weighted graph Laplacian) for B BT problems.

    The Laplacian's constant null space is closed by adding 11'/M where there is no ridge: the gradient then
    sums to zero, so a Newton step keeps the mean.
    """
    from scipy.special import expit

    n_models, (i, j) = counts.n_models, (counts.i, counts.j)
    diag = np.arange(n_models)
    gauge = np.where(ridge == 0.0, 1.0 / n_models, 0.0)[:, None, None]

    def derivatives(theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = expit(theta[:, i] - theta[:, j])
        residual, weight = wins - total * p, total * p * (1.0 - p)
        grad = scatter_rows(residual, i, n_models) - scatter_rows(residual, j, n_models) - ridge[:, None] * theta
        hess = np.zeros((len(theta), n_models, n_models)) + gauge
        hess[:, i, j] -= weight
        hess[:, j, i] -= weight
        hess[:, diag, diag] += scatter_rows(weight, i, n_models) + scatter_rows(weight, j, n_models) + ridge[:, None]
        return grad, hess

    return derivatives


def _newton_bt(counts: PairCounts, wins: FloatArray, total: FloatArray, ridge: FloatArray,
               theta: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Damped Newton on B BT problems sharing the pair list (rows of `wins`/`total`)."""
    return batched_newton(theta, lambda x: _bt_objective(x, counts, wins, total, ridge),
                          _bt_derivatives(counts, wins, total, ridge))


def batched_newton(x: FloatArray, objective: Callable[[FloatArray], FloatArray],
                   derivatives: Callable[[FloatArray], tuple[FloatArray, FloatArray]]) -> tuple[FloatArray, BoolArray]:
    """Minimise B convex problems at once (rows of `x`): Newton steps H^-1 g, each halved until it does not
    increase its problem's objective. Returns the solutions and which rows converged (step < tolerance)."""
    done = np.zeros(len(x), dtype=bool)
    current = objective(x)
    for _ in range(_MAX_NEWTON):
        grad, hess = derivatives(x)
        step = _float(np.linalg.solve(hess, grad[:, :, None])[:, :, 0])
        step[done] = 0.0
        x, current = _line_search(x, step, current, objective)
        done |= np.abs(step).max(axis=1) < _NEWTON_TOL
        if done.all():
            break
    return x, done


def _line_search(x: FloatArray, step: FloatArray, current: FloatArray,
                 objective: Callable[[FloatArray], FloatArray]) -> tuple[FloatArray, FloatArray]:
    t = np.ones(len(x))
    for _ in range(40):
        candidate = x + t[:, None] * step
        value = objective(candidate)
        worse = value > current + 1e-12 * (1.0 + np.abs(current))
        if not worse.any():
            return candidate, value
        t[worse] /= 2
    candidate[worse], value[worse] = x[worse], current[worse]
    return candidate, value


def scatter_rows(values: FloatArray, index: IntArray, n_models: int) -> FloatArray:
    """Row-wise bincount: out[b, m] = sum of values[b, p] over pairs p with index[p] == m."""
    rows = values.shape[0]
    flat = (np.arange(rows)[:, None] * n_models + index[None, :]).ravel()
    return _float(np.bincount(flat, weights=values.ravel(), minlength=rows * n_models).reshape(rows, n_models))


def _float(array: Any) -> FloatArray:
    return np.asarray(array, dtype=np.float64)


def percentile_interval(samples: FloatArray, ci: float) -> tuple[FloatArray, FloatArray]:
    tail = (1.0 - ci) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high


def rank_ranges(low: FloatArray, high: FloatArray) -> tuple[IntArray, IntArray]:
    """Best rank = 1 + models whose lower bound exceeds this upper bound; worst = M - models whose upper bound is below this lower bound."""
    best = 1 + (low[None, :] > high[:, None]).sum(axis=1)
    worst = len(low) - (high[None, :] < low[:, None]).sum(axis=1)
    return best.astype(np.int64), worst.astype(np.int64)


def win_matrices(counts: PairCounts) -> tuple[FloatArray, FloatArray]:
    """Battle-count matrix and observed win-rate matrix (wins + ties / 2 over battles), NaN where pairs never met."""
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
    encoded = encode_battles(battles)
    anchor = _anchor_index(encoded.models, config)
    counts = count_pairs(encoded.a, encoded.b, encoded.score, len(encoded.models))
    n, observed = win_matrices(counts)
    warnings: list[str] = []
    elo = bt = samples = None
    if config.method in ("elo", "both"):
        elo = online_elo(encoded.a, encoded.b, encoded.score, len(encoded.models), config.k, config.scale,
                         config.base, config.initial)
        elo = _anchored(elo, anchor, config)
    if config.method in ("bt", "both"):
        bt, samples, notes = _fit_bt(counts, config)
        bt = _anchored(bt, anchor, config)
        samples = None if samples is None else _anchored(samples, anchor, config)
        warnings += notes
    style = None
    if config.control and config.method == "elo":
        warnings.append("style control needs the BT fit; ignored with method 'elo'")
    elif config.control:
        from harness.arena_style import fit_style_control

        style = _anchored_style(fit_style_control(battles, encoded, config), anchor, config)
        if not style.converged:
            warnings.append("the style-controlled BT fit did not converge (a covariate may separate the outcomes)")
    rows = _rows(encoded.models, elo, bt, samples, style, n.sum(axis=1), config)
    predicted = None if bt is None else predicted_win_rates(bt, config.base, config.scale)
    return ArenaReport(battle_set_fingerprint(battles), len(battles), encoded.models, rows, samples, predicted,
                       observed, n, style, config, tuple(warnings))


def _fit_bt(counts: PairCounts, config: ArenaConfig) -> tuple[FloatArray, FloatArray | None, list[str]]:
    fit = fit_bradley_terry(counts, config.base, config.scale, config.initial)
    notes = [] if fit.mle_exists else [
        ("the BT maximum likelihood does not exist (some models never won or never lost against the rest); "
         f"ratings use a ridge of {FALLBACK_RIDGE} and are unreliable")]
    if not fit.converged:
        notes.append("the BT fit did not converge")
    samples = None
    if config.bootstrap:
        samples = bootstrap_bradley_terry(counts, config.bootstrap, config.seed, config.base, config.scale,
                                          config.initial)
    return fit.ratings, samples, notes


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
    from dataclasses import replace

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
