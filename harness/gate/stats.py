"""Paired statistics for comparing two models on the same documents: the gate's arithmetic, nothing else.

Pure numpy/scipy, no I/O: exact McNemar for 0/1 metrics, a seeded vectorised paired bootstrap (or a
paired t-test) for continuous ones, a sign test for head-to-head battles, Holm's step-down correction and
the minimum detectable effect at a sample size. Effects are always `candidate - baseline`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

_BOOTSTRAP_CELLS = 1 << 22  # resample this many (replicate, doc) cells per chunk: ~32 MB of indices


@dataclass(frozen=True)
class PairedTest:
    """The outcome of one paired comparison; `effect` is the mean of `candidate - baseline`."""

    method: str  # mcnemar-exact | paired-bootstrap | paired-t | sign-test
    n: int
    baseline_mean: float
    candidate_mean: float
    effect: float
    ci_low: float
    ci_high: float
    p_value: float
    sd_diff: float  # standard deviation of the per-document differences
    counts: dict[str, int] = field(default_factory=dict)  # losses/wins (discordant pairs), ties


def _pair(baseline: ArrayLike, candidate: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if base.ndim != 1 or base.shape != cand.shape:
        raise ValueError(f"paired data needs two 1-d arrays of one length, got {base.shape} and {cand.shape}")
    if base.size == 0:
        raise ValueError("paired data is empty")
    if not (np.isfinite(base).all() and np.isfinite(cand).all()):
        raise ValueError("paired data has NaN or infinite values")
    return base, cand


def is_binary(*arrays: ArrayLike) -> bool:
    """True when every value is 0 or 1 (accuracy-like metrics, tested with McNemar)."""
    return all(np.isin(np.asarray(a, dtype=np.float64), (0.0, 1.0)).all() for a in arrays)


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(level))


def mcnemar_exact(baseline: ArrayLike, candidate: ArrayLike, alpha: float = 0.05) -> PairedTest:
    """Exact McNemar test: a two-sided binomial test (p = 1/2) on the discordant pairs.

    The effect is the difference in accuracy, with the Agresti-Min interval (one half added to each
    cell of the 2x2 table), which keeps its coverage when few pairs are discordant.
    """
    from scipy.stats import binomtest

    base, cand = _pair(baseline, candidate)
    if not is_binary(base, cand):
        raise ValueError("McNemar needs 0/1 values; use paired_bootstrap for continuous metrics")
    n = base.size
    losses = int(np.sum((base == 1) & (cand == 0)))
    wins = int(np.sum((base == 0) & (cand == 1)))
    discordant = losses + wins
    p_value = float(binomtest(wins, discordant, 0.5).pvalue) if discordant else 1.0
    b, c, m = losses + 0.5, wins + 0.5, n + 2.0
    centre = (c - b) / m
    half = _z(1 - alpha / 2) * math.sqrt(max((b + c) - (c - b) ** 2 / m, 0.0)) / m
    diff = cand - base
    return PairedTest(
        "mcnemar-exact", n, float(base.mean()), float(cand.mean()), float(diff.mean()),
        centre - half, centre + half, p_value, float(diff.std()),
        {"losses": losses, "wins": wins, "ties": n - discordant},
    )


def bootstrap_means(values: ArrayLike, n_boot: int = 10_000, seed: int = 0) -> NDArray[np.float64]:
    """Means of `n_boot` resamples (with replacement) of `values`, vectorised in bounded-memory chunks."""
    data = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, _BOOTSTRAP_CELLS // data.size)
    for start in range(0, n_boot, step):
        size = min(step, n_boot - start)
        means[start : start + size] = data[rng.integers(0, data.size, size=(size, data.size))].mean(axis=1)
    return means


def bootstrap_p_value(replicates: ArrayLike, observed: float) -> float:
    """Two-sided p-value of `observed` against zero from its bootstrap replicates (null-shifted).

    Counts replicates at least as far from the observed value as the observed value is from zero,
    with the +1 correction so that a p-value is never 0.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    extreme = int(np.sum(np.abs(reps - observed) >= abs(observed) - 1e-12))
    return min(1.0, (extreme + 1) / (reps.size + 1))


def paired_bootstrap(
    baseline: ArrayLike, candidate: ArrayLike, alpha: float = 0.05, n_boot: int = 10_000, seed: int = 0
) -> PairedTest:
    """Paired bootstrap on per-document differences: percentile CI and a null-shifted two-sided p-value."""
    base, cand = _pair(baseline, candidate)
    diff = cand - base
    effect = float(diff.mean())
    if np.ptp(diff) <= 1e-12:  # no spread: every resample equals the observed mean
        low = high = effect
        p_value = 1.0 if abs(effect) <= 1e-12 else 1 / (n_boot + 1)
    else:
        means = bootstrap_means(diff, n_boot, seed)
        low, high = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
        p_value = bootstrap_p_value(means, effect)
    return PairedTest(
        "paired-bootstrap", base.size, float(base.mean()), float(cand.mean()), effect, low, high,
        p_value, float(diff.std(ddof=1)) if base.size > 1 else 0.0,
    )


def paired_t(baseline: ArrayLike, candidate: ArrayLike, alpha: float = 0.05) -> PairedTest:
    """Paired t-test on per-document differences (scipy's `ttest_rel`), with the matching t interval."""
    from scipy.stats import t as t_dist
    from scipy.stats import ttest_rel

    base, cand = _pair(baseline, candidate)
    diff = cand - base
    effect, n = float(diff.mean()), base.size
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    if sd == 0.0:
        return PairedTest("paired-t", n, float(base.mean()), float(cand.mean()), effect, effect, effect,
                          1.0 if effect == 0 else 0.0, 0.0)
    half = float(t_dist.ppf(1 - alpha / 2, n - 1)) * sd / math.sqrt(n)
    p_value = float(ttest_rel(cand, base).pvalue)
    return PairedTest("paired-t", n, float(base.mean()), float(cand.mean()), effect,
                      effect - half, effect + half, p_value, sd)


def sign_test(wins: int, losses: int, ties: int = 0, alpha: float = 0.05) -> PairedTest:
    """Head-to-head battles: win rate (ties count one half) against 1/2, exact binomial on decisive games.

    `baseline_mean` is fixed at 0.5 and `effect` is `win_rate - 0.5`; the interval is a normal one on the
    per-battle scores (1, 1/2, 0).
    """
    from scipy.stats import binomtest

    n = wins + losses + ties
    if n == 0:
        raise ValueError("no battles")
    scores = np.concatenate([np.ones(wins), np.full(ties, 0.5), np.zeros(losses)])
    rate = float(scores.mean())
    sd = float(scores.std(ddof=1)) if n > 1 else 0.0
    half = _z(1 - alpha / 2) * sd / math.sqrt(n)
    p_value = float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    return PairedTest("sign-test", n, 0.5, rate, rate - 0.5, rate - 0.5 - half, rate - 0.5 + half, p_value,
                      sd, {"wins": wins, "losses": losses, "ties": ties})


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given); reject where adjusted p < alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(x) for x in adjusted]


def minimum_detectable_effect(n: int, sd_diff: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean change a two-sided paired test at `alpha` detects with `power` (normal approx.)."""
    if n <= 0:
        return math.inf
    return (_z(1 - alpha / 2) + _z(power)) * sd_diff / math.sqrt(n)


def mcnemar_mde(n: int, discordant_rate: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable accuracy difference for McNemar at `n` documents.

    Uses the observed discordance rate, but never less than the difference itself (a drop of d flips at
    least a fraction d of documents), which gives the floor `(z_a + z_b)^2 / n` when nothing flipped.
    """
    if n <= 0:
        return math.inf
    k = _z(1 - alpha / 2) + _z(power)
    return min(1.0, max(k * math.sqrt(discordant_rate / n), k * k / n))


def unpaired_z_test(baseline: ArrayLike, candidate: ArrayLike) -> float:
    """The two-sided p-value of lm-eval's model comparator: a z-test that ignores the pairing.

    Kept as a reference point only (docs and tests show what it misses); the gate never uses it.
    """
    from scipy.stats import norm

    base, cand = _pair(baseline, candidate)
    se = math.sqrt(base.var(ddof=1) / base.size + cand.var(ddof=1) / cand.size)
    if se == 0.0:
        return 1.0 if base.mean() == cand.mean() else 0.0
    return float(2 * norm.sf(abs(cand.mean() - base.mean()) / se))
