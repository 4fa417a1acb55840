"""Bradley-Terry maximum likelihood on aggregated pair counts, and its vectorised multinomial bootstrap.

Pure numpy/scipy, no I/O. Ties count as half a win for each side; ratings are on the Elo scale
(scale * log_base strengths). Batched Newton solves many BT problems at once; `harness.arena.ratings` builds on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.parallel import in_threads

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

FALLBACK_RIDGE = 1e-3  # L2 weight used only when the unpenalised MLE does not exist (a model never lost, ...)
_MAX_NEWTON = 100
_NEWTON_TOL = 1e-11  # largest step, natural (log-odds) units
_MAX_CHORD = 60
_CHORD_TOL = 1e-9  # bootstrap rounds: 2e-7 Elo points
_CELLS_PER_CHUNK = 4_000_000  # rounds x models^2 of the Hessians in one exact Newton batch: ~32 MB
_CHORD_CELLS = 1 << 17  # rounds x pairs per chord solve: ~1 MB arrays stay in cache (2x faster than 32 MB)


@dataclass(frozen=True)
class PairCounts:
    """Outcomes per unordered pair i < j (the side, a or b, does not matter to BT); ties kept apart."""

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


def count_pairs(a: IntArray, b: IntArray, score: FloatArray, n_models: int,
                weights: FloatArray | None = None) -> PairCounts:
    """Aggregate battles (each counted `weights` times, default once) per unordered pair that met."""
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


def fit_bradley_terry(counts: PairCounts, base: float = 10.0, scale: float = 400.0,
                      center: float = 1000.0) -> BTFit:
    """Unpenalised BT maximum likelihood on pair counts, on the Elo scale (scale * log_base strengths),
    with mean `center`.

    When the MLE does not exist (some group of models never scored against the rest), a tiny ridge
    (`FALLBACK_RIDGE`) keeps the ratings finite and `mle_exists` is False.
    """
    exists = mle_exists(counts, counts.wins_i + counts.ties / 2, counts.total)
    wins = (counts.wins_i + counts.ties / 2)[None, :]
    ridge = np.array([0.0 if exists else FALLBACK_RIDGE])
    theta, converged = _newton_bt(counts, wins, counts.total[None, :], ridge, np.zeros((1, counts.n_models)))
    return BTFit(_to_elo(theta[0], base, scale, center), exists, bool(converged[0]))


def bootstrap_bradley_terry(counts: PairCounts, rounds: int, seed: int = 0, base: float = 10.0,
                            scale: float = 400.0, center: float = 1000.0,
                            fit: BTFit | None = None, workers: int | None = None) -> FloatArray:
    """BT ratings on `rounds` multinomial resamples of the battles, (rounds, models), each with mean `center`.

    Resampling battles with replacement only changes how often each (pair, outcome) cell occurs, so each
    round draws the cell counts from one multinomial (`resample_cells`) and rounds are solved together, a
    cache-sized batch at a time: Newton steps with the full-data Hessian (rounds start at the full-data fit,
    `fit` when the caller has it), then exact Newton for any round left over. Each batch draws from its own
    generator (`batch_streams`), so the batches run on `workers` threads (default: one per usable CPU; numpy
    releases the GIL in the draws and the array arithmetic) and give the same ratings on any number of them.
    """
    cells = np.concatenate([counts.wins_i, counts.wins_j, counts.ties])
    n_pairs = len(counts.i)
    fit = fit or fit_bradley_terry(counts, base, scale, center)
    theta0 = (fit.ratings - center) * math.log(base) / scale
    hessian = _bt_derivatives(counts, (counts.wins_i + counts.ties / 2)[None], counts.total[None],
                              np.array([0.0 if fit.mle_exists else FALLBACK_RIDGE]))(theta0[None])[1][0]
    inverse = np.linalg.inv(hessian)
    step = batch_rounds(n_pairs)
    firsts = range(0, rounds, step)
    pairs = _PairSums(counts)  # grouped once, shared by every batch's chord steps
    out = np.empty((rounds, counts.n_models))

    def solve(first: int, stream: np.random.SeedSequence) -> None:  # one batch of rounds, into `out`
        drawn = resample_cells(np.random.default_rng(stream), cells, min(step, rounds - first))
        wins_i, wins_j, ties = drawn[:, :n_pairs], drawn[:, n_pairs:2 * n_pairs], drawn[:, 2 * n_pairs:]
        wins, total = wins_i + ties / 2, wins_i + wins_j + ties
        theta, done = _chord_bt(counts, pairs, wins, total, np.tile(theta0, (len(wins), 1)), inverse)
        _exact_rounds(counts, wins, total, theta, np.flatnonzero(~done), theta0)
        out[first:first + len(theta)] = _to_elo(theta, base, scale, center)

    in_threads(solve, list(zip(firsts, batch_streams(seed, len(firsts)))), workers)
    return out


def batch_rounds(n_pairs: int) -> int:
    """Bootstrap rounds per batch: rounds x pairs near `_CHORD_CELLS`, so a batch's arrays stay in cache."""
    return max(1, _CHORD_CELLS // n_pairs)


def batch_streams(seed: int, batches: int) -> list[np.random.SeedSequence]:
    """The seed of each bootstrap batch's generator (numpy's independent child streams of `seed`)."""
    return np.random.SeedSequence(seed).spawn(batches)


def resample_cells(rng: np.random.Generator, cells: FloatArray, rounds: int) -> FloatArray:
    """`rounds` draws of Multinomial(n, cells / n), n = sum(cells) (integer counts): how often each cell occurs
    when n battles are resampled with replacement.

    Drawn exactly, about twice as fast as numpy's multinomial (one binomial per cell): independent Poisson
    counts are, given their total T, a multinomial of T battles; each round then gets n - T more battles drawn
    by the cell shares, or loses a uniformly random T - n of its battles (a few hundred either way).
    """
    n, width = int(cells.sum().round()), len(cells)
    drawn = rng.poisson(cells, size=(rounds, width))
    totals = drawn.sum(axis=1)
    bounds = np.cumsum(cells)
    for row in np.flatnonzero(totals != n).tolist():
        missing = n - int(totals[row])
        if missing > 0:
            picks = np.searchsorted(bounds, rng.random(missing) * bounds[-1], side="right")
            drawn[row] += np.bincount(picks, minlength=width)
        else:
            gone = rng.choice(int(totals[row]), -missing, replace=False)
            drawn[row] -= np.bincount(np.searchsorted(np.cumsum(drawn[row]), gone, side="right"), minlength=width)
    return drawn.astype(np.float64)


def _exact_rounds(counts: PairCounts, wins: FloatArray, total: FloatArray, theta: FloatArray,
                  rows: IntArray, theta0: FloatArray) -> None:
    """Damped Newton (with the fallback ridge where a round's MLE does not exist) for `rows`, in place;
    batches are sized so their Hessians stay near 32 MB."""
    batch = max(1, _CELLS_PER_CHUNK // counts.n_models ** 2)
    for first in range(0, len(rows), batch):
        pick = rows[first:first + batch]
        ridge = np.array([0.0 if mle_exists(counts, wins[k], total[k]) else FALLBACK_RIDGE for k in pick])
        theta[pick], _ = _newton_bt(counts, wins[pick], total[pick], ridge, np.tile(theta0, (len(pick), 1)))


def _chord_bt(counts: PairCounts, pairs: _PairSums, wins: FloatArray, total: FloatArray, theta: FloatArray,
              inverse: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Fixed-Hessian Newton (chord) steps for many BT problems near one solution; cheap, linearly convergent.

    Works on transposed (pairs x rounds) arrays, so each step is a difference of gathered rows, one exp over
    the pair-round grid, and two sums of rows per model (`_PairSums`; scipy.sparse did the same in as long,
    and its import cost 0.1 s).
    """
    wins_t, total_t, theta_t = wins.T.copy(), total.T.copy(), theta.T.copy()
    done = np.zeros(len(theta), dtype=bool)
    for _ in range(_MAX_CHORD):
        z = theta_t[counts.i] - theta_t[counts.j]
        with np.errstate(over="ignore"):
            np.exp(np.negative(z, out=z), out=z)
        z += 1.0
        np.divide(total_t, z, out=z)
        np.subtract(wins_t, z, out=z)  # observed - expected wins per pair and round
        step = inverse @ pairs.net(z)
        step[:, done] = 0.0
        theta_t += step
        size = np.abs(step).max(axis=0)
        done |= size < _CHORD_TOL
        if (done | ~np.isfinite(size)).all():
            break
    theta = np.ascontiguousarray(theta_t.T)
    done &= np.isfinite(theta).all(axis=1)
    return theta, done


class _PairSums:
    """Per-model sums of (pairs x rounds) rows: `net(z)`[m] = sum of z over pairs whose i is m, minus the sum
    over pairs whose j is m (the transposed signed incidence matrix times z), by `np.add.reduceat` over the
    rows grouped by model (`count_pairs` gives the pairs sorted by i, so only j needs a reordering)."""

    def __init__(self, counts: PairCounts) -> None:
        self.n_models = counts.n_models
        self.i_order, self.i_models, self.i_starts = _groups(counts.i)
        self.j_order, self.j_models, self.j_starts = _groups(counts.j)

    def net(self, z: FloatArray) -> FloatArray:
        out = np.zeros((self.n_models, z.shape[1]))
        out[self.i_models] = _row_sums(z, self.i_order, self.i_starts)
        out[self.j_models] -= _row_sums(z, self.j_order, self.j_starts)
        return out


def _row_sums(z: FloatArray, order: IntArray | None, starts: IntArray) -> FloatArray:
    """Sums of the rows of `z` (taken in `order`) between consecutive `starts`."""
    return _float(np.add.reduceat(z if order is None else z[order], starts, axis=0))


def _groups(index: IntArray) -> tuple[IntArray | None, IntArray, IntArray]:
    """The order that groups equal values of `index` (None when already sorted), each value, and where its
    group starts in that order."""
    order = None if bool(np.all(index[1:] >= index[:-1])) else np.argsort(index, kind="stable")
    values, starts = np.unique(index if order is None else index[order], return_index=True)
    return order, values, starts


def single_threaded_blas() -> AbstractContextManager[object]:
    """BLAS/LAPACK on one thread: the solves here are 100x100 at most, and a threaded OpenBLAS takes ~45 ms
    for one such solve on a 2-core machine (0.1 ms on one thread), most of a point fit."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _to_elo(theta: FloatArray, base: float, scale: float, center: float) -> FloatArray:
    elo = theta * (scale / math.log(base))
    return elo - elo.mean(axis=-1, keepdims=True) + center


def mle_exists(counts: PairCounts, wins: FloatArray, total: FloatArray) -> bool:
    """Whether the BT MLE is finite: the "scored against" digraph (i -> j when i won or tied against j)
    must be strongly connected."""
    forward, backward = wins > 0, (total - wins) > 0
    graph = np.zeros((counts.n_models,) * 2, bool)
    graph[counts.i[forward], counts.j[forward]] = True
    graph[counts.j[backward], counts.i[backward]] = True
    return bool(reachable(graph, 0).all() and reachable(graph.T, 0).all())


def reachable(graph: BoolArray, start: int) -> BoolArray:
    """The nodes a path from `start` reaches along `graph` (a boolean adjacency matrix, row -> column): a
    breadth-first search a frontier at a time (numpy, rather than importing scipy's csgraph: 0.1 s)."""
    seen = np.zeros(len(graph), bool)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        frontier = graph[frontier].any(axis=0) & ~seen
        seen |= frontier
    return seen


def expit(x: FloatArray) -> FloatArray:
    """1 / (1 + e^-x), as scipy.special.expit computes it (whose import costs ~0.1 s of a fit)."""
    with np.errstate(over="ignore"):
        return _float(1.0 / (1.0 + np.exp(-x)))


def log_expit(x: FloatArray) -> FloatArray:
    """log(expit(x)) without overflow, as scipy.special.log_expit computes it: x - log1p(e^x) below 0,
    else -log1p(e^-x)."""
    with np.errstate(over="ignore"):
        return _float(np.where(x < 0, x - np.log1p(np.exp(np.minimum(x, 0))), -np.log1p(np.exp(-np.maximum(x, 0)))))


def _bt_objective(theta: FloatArray, counts: PairCounts, wins: FloatArray, total: FloatArray,
                  ridge: FloatArray) -> FloatArray:
    d = theta[:, counts.i] - theta[:, counts.j]
    loglik = (wins * log_expit(d) + (total - wins) * log_expit(-d)).sum(axis=1)
    return -loglik + 0.5 * ridge * (theta ** 2).sum(axis=1)


def _bt_derivatives(counts: PairCounts, wins: FloatArray, total: FloatArray,
                    ridge: FloatArray) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
    """Gradient of the log-likelihood and the negative Hessian (a weighted graph Laplacian) for B BT problems.

    The Laplacian's constant null space is closed by adding 11'/M where there is no ridge: the gradient then
    sums to zero, so a Newton step keeps the mean.
    """
    n_models, (i, j) = counts.n_models, (counts.i, counts.j)
    diag = np.arange(n_models)
    gauge = np.where(ridge == 0.0, 1.0 / n_models, 0.0)[:, None, None]

    def derivatives(theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = expit(theta[:, i] - theta[:, j])
        residual, weight = wins - total * p, total * p * (1.0 - p)
        grad = scatter_rows(residual, i, n_models) - scatter_rows(residual, j, n_models)
        grad -= ridge[:, None] * theta
        hess = np.zeros((len(theta), n_models, n_models)) + gauge
        hess[:, i, j] -= weight
        hess[:, j, i] -= weight
        degree = scatter_rows(weight, i, n_models) + scatter_rows(weight, j, n_models)
        hess[:, diag, diag] += degree + ridge[:, None]
        return grad, hess

    return derivatives


def _newton_bt(counts: PairCounts, wins: FloatArray, total: FloatArray, ridge: FloatArray,
               theta: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Damped Newton on B BT problems sharing the pair list (rows of `wins`/`total`)."""
    return batched_newton(theta, lambda x: _bt_objective(x, counts, wins, total, ridge),
                          _bt_derivatives(counts, wins, total, ridge))


Derivatives = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


def batched_newton(x: FloatArray, objective: Callable[[FloatArray], FloatArray],
                   derivatives: Derivatives) -> tuple[FloatArray, BoolArray]:
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
    summed = np.bincount(flat, weights=values.ravel(), minlength=rows * n_models)
    return _float(summed.reshape(rows, n_models))


def _float(array: Any) -> FloatArray:
    return np.asarray(array, dtype=np.float64)


def percentile_interval(samples: FloatArray, ci: float) -> tuple[FloatArray, FloatArray]:
    tail = (1.0 - ci) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return low, high
