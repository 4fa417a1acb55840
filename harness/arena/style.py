"""Style control for arena ratings: Bradley-Terry with answer-length and markdown covariates.

A battle carries the answers' style counts in `extra` (FastChat's `conv_metadata`, written by the judge
and the readers with `harness.answer_style.style_metadata`). Each covariate is (a - b) / (a + b + 1) of a
count, standardised, as in the Arena's style control; the fit is unpenalised and its bootstrap resamples
battles. Called by `harness.arena.ratings.compute_ratings`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.answer_style import MARKDOWN, side_counts
from harness.arena.battles import ArenaConfig, EncodedBattles
from harness.arena.bradley_terry import (
    FALLBACK_RIDGE,
    FloatArray,
    PairCounts,
    batched_newton,
    count_pairs,
    mle_exists,
    percentile_interval,
    scatter_rows,
)
from harness.errors import HarnessError
from harness.records import Battle

CONTROL_FEATURES = {"length": ("length",), "markdown": MARKDOWN}
_CELLS_PER_CHUNK = 4_000_000


@dataclass(frozen=True)
class StyleFit:
    """Style-controlled BT ratings (Elo scale, `models` order) and the covariates' log-odds weights."""

    ratings: FloatArray
    ci_low: FloatArray | None
    ci_high: FloatArray | None
    features: tuple[str, ...]
    coefficients: FloatArray
    samples: FloatArray | None  # (rounds, models)
    mle_exists: bool
    converged: bool = True


def style_covariates(battles: Sequence[Battle], control: Sequence[str]) -> tuple[FloatArray, tuple[str, ...]]:
    """Standardised covariates (battles x features): (a - b) / (a + b + 1) of each count, as the Arena does.

    `markdown` means headers, lists and bold separately when every battle has them, else their sum.
    Covariates that never vary are dropped (their weight is not identifiable).

    Raises:
        HarnessError: a battle has no counts for a requested covariate.
    """
    per_battle = [side_counts(b.extra) for b in battles]
    full = all(c is not None and "headers" in c for c in per_battle)
    names = tuple(n for group in control for n in (CONTROL_FEATURES[group] if full or group == "length"
                                                   else ("markdown",)))
    raw = np.empty((len(battles), len(names)))
    for row, counts in enumerate(per_battle):
        missing = [n for n in names if counts is None or n not in counts]
        if missing:
            battle = battles[row]
            raise HarnessError(
                f"battle {row} ({battle.model_a} vs {battle.model_b}) has no answer counts for "
                f"{missing[0]!r} control",
                hint="style control needs extra.conv_metadata (harness.answer_style.style_metadata)",
            )
        assert counts is not None
        for col, name in enumerate(names):
            x, y = counts[name]
            raw[row, col] = (x - y) / (x + y + 1.0)
    spread = raw.std(axis=0)
    keep = spread > 0
    standardised = (raw[:, keep] - raw[:, keep].mean(axis=0)) / spread[keep]
    return standardised, tuple(n for n, k in zip(names, keep) if k)


def fit_style_control(battles: Sequence[Battle], encoded: EncodedBattles, config: ArenaConfig) -> StyleFit:
    """Ratings (mean `config.initial`) and covariate weights of BT with `config.control` covariates, with
    `config.bootstrap` battle-resampling rounds."""
    features, names = style_covariates(battles, config.control)
    n_models, n = len(encoded.models), len(encoded.a)
    start = np.zeros(n_models + len(names))
    exists, params, converged = _fit_rounds(encoded, features, np.ones((1, n)), start)
    to_elo = config.scale / math.log(config.base)
    ratings = params[0, :n_models] * to_elo
    samples = low = high = None
    if config.bootstrap:
        rng = np.random.default_rng(config.seed)
        chunk = max(1, min(config.bootstrap, _CELLS_PER_CHUNK // max(n, n_models ** 2)))
        boot = []
        for first in range(0, config.bootstrap, chunk):
            size = min(chunk, config.bootstrap - first)
            draws = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(size)]
            weights = np.stack(draws).astype(np.float64)
            boot.append(_fit_rounds(encoded, features, weights, params[0])[1][:, :n_models] * to_elo)
        samples = np.concatenate(boot)
        samples = samples - samples.mean(axis=1, keepdims=True) + config.initial
        low, high = percentile_interval(samples, config.ci)
    return StyleFit(ratings - ratings.mean() + config.initial, low, high, names, params[0, n_models:],
                    samples, bool(exists[0]), bool(converged[0]))


def _fit_rounds(encoded: EncodedBattles, features: FloatArray, weights: FloatArray,
                start: FloatArray) -> tuple[NDArray[np.bool_], FloatArray, NDArray[np.bool_]]:
    """Fit each row of battle weights; rows whose raw BT MLE does not exist get the fallback ridge."""
    m = len(encoded.models)
    exists = np.array([mle_exists(*_weighted_counts(encoded, w, m)) for w in weights])
    ridge = np.where(exists, 0.0, FALLBACK_RIDGE)
    params, converged = _fit_weighted(encoded, features, weights, ridge, np.tile(start, (len(weights), 1)))
    return exists, params, converged


def _weighted_counts(encoded: EncodedBattles, weights: FloatArray,
                     m: int) -> tuple[PairCounts, FloatArray, FloatArray]:
    counts = count_pairs(encoded.a, encoded.b, encoded.score, m, weights)
    return counts, counts.wins_i + counts.ties / 2, counts.total


def _fit_weighted(encoded: EncodedBattles, features: FloatArray, weights: FloatArray, ridge: FloatArray,
                  start: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Newton on B weighted per-battle logistic problems: logit = theta_a - theta_b + features @ beta."""
    from scipy.special import expit, log_expit

    a, b, y = encoded.a, encoded.b, encoded.score
    m, k = len(encoded.models), features.shape[1]
    gauge = np.where(ridge == 0.0, 1.0 / m, 0.0)[:, None, None]
    ridge_col = ridge[:, None]
    diag = np.arange(m)

    def logits(x: FloatArray) -> FloatArray:
        return x[:, a] - x[:, b] + x[:, m:] @ features.T

    def objective(x: FloatArray) -> FloatArray:
        z = logits(x)
        loglik = (weights * (y * log_expit(z) + (1.0 - y) * log_expit(-z))).sum(axis=1)
        return -loglik + 0.5 * ridge * (x ** 2).sum(axis=1)

    def derivatives(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = expit(logits(x))
        residual, v = weights * (y - p), weights * p * (1.0 - p)
        rating_grad = scatter_rows(residual, a, m) - scatter_rows(residual, b, m)
        grad = np.concatenate([rating_grad, residual @ features], axis=1)
        hess = np.zeros((len(x), m + k, m + k))
        pair = scatter_rows(v, a * m + b, m * m).reshape(len(x), m, m)
        hess[:, :m, :m] = gauge - pair - pair.transpose(0, 2, 1)
        hess[:, diag, diag] += scatter_rows(v, a, m) + scatter_rows(v, b, m)
        for col in range(k):
            cross = scatter_rows(v * features[:, col], a, m) - scatter_rows(v * features[:, col], b, m)
            hess[:, :m, m + col] = hess[:, m + col, :m] = cross
        hess[:, m:, m:] = np.einsum("bn,nk,nl->bkl", v, features, features)
        hess[:, np.arange(m + k), np.arange(m + k)] += ridge_col
        return grad - ridge_col * x, hess

    return batched_newton(start, objective, derivatives)
