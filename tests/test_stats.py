"""Golden numbers for the paired statistics behind `harness gate`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.gate import stats


def _pairs(both: int, losses: int, wins: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 arrays with the given 2x2 table (baseline right/candidate right ...)."""
    base = np.array([1] * both + [1] * losses + [0] * wins + [0] * neither, dtype=float)
    cand = np.array([1] * both + [0] * losses + [1] * wins + [0] * neither, dtype=float)
    return base, cand


def test_mcnemar_exact_golden_p_value() -> None:
    # 10 docs lost, 2 gained: p = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096.
    base, cand = _pairs(both=30, losses=10, wins=2, neither=8)
    result = stats.mcnemar_exact(base, cand)
    assert result.p_value == pytest.approx(158 / 4096, rel=1e-12)
    assert result.counts == {"losses": 10, "wins": 2, "ties": 38}
    assert result.effect == pytest.approx(-8 / 50)
    assert result.method == "mcnemar-exact"


def test_issue_example_unpaired_misses_what_paired_finds() -> None:
    # n=220: baseline right on 181, candidate on 166; 22 docs lost and 7 gained.
    base, cand = _pairs(both=159, losses=22, wins=7, neither=32)
    assert base.sum() == 181 and cand.sum() == 166 and base.size == 220
    unpaired = stats.unpaired_z_test(base, cand)
    paired = stats.mcnemar_exact(base, cand)
    assert round(unpaired, 3) == 0.079  # lm-eval's comparator: not significant at 0.05
    assert round(paired.p_value, 3) == 0.008  # exact McNemar: clearly significant
    assert paired.p_value == pytest.approx(0.0081300586, rel=1e-6)


def test_mcnemar_agresti_min_interval_golden() -> None:
    base, cand = _pairs(both=159, losses=22, wins=7, neither=32)
    result = stats.mcnemar_exact(base, cand, alpha=0.05)
    # (7.5 - 22.5) / 222 ± 1.959964 * sqrt(30 - 15^2/222) / 222
    half = 1.959963985 * math.sqrt(30 - 225 / 222) / 222
    assert result.ci_low == pytest.approx(-15 / 222 - half, rel=1e-8)
    assert result.ci_high == pytest.approx(-15 / 222 + half, rel=1e-8)
    assert result.ci_high < 0


def test_mcnemar_identical_runs_p_one() -> None:
    base, cand = _pairs(both=40, losses=0, wins=0, neither=10)
    result = stats.mcnemar_exact(base, cand)
    assert result.p_value == 1.0 and result.effect == 0.0
    assert result.ci_low < 0 < result.ci_high


def test_mcnemar_refuses_continuous_values() -> None:
    with pytest.raises(ValueError, match="0/1"):
        stats.mcnemar_exact([0.5, 1.0], [1.0, 0.0])


@pytest.mark.parametrize(
    ("base", "cand", "match"),
    [([1, 0], [1], "one length"), ([], [], "empty"), ([1.0, float("nan")], [1.0, 1.0], "NaN")],
)
def test_bad_paired_input(base: list[float], cand: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stats.paired_bootstrap(base, cand)


def test_holm_golden() -> None:
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_paired_t_matches_scipy() -> None:
    from scipy.stats import ttest_rel

    rng = np.random.default_rng(3)
    base = rng.normal(0.5, 0.2, 300)
    cand = base + rng.normal(-0.03, 0.1, 300)
    result = stats.paired_t(base, cand)
    assert result.p_value == pytest.approx(ttest_rel(cand, base).pvalue, rel=1e-12)
    assert result.ci_low < result.effect < result.ci_high
    assert result.effect == pytest.approx(float(np.mean(cand - base)))


def test_paired_bootstrap_is_seeded_and_agrees_with_t() -> None:
    rng = np.random.default_rng(7)
    base = rng.uniform(0, 1, 400)
    cand = np.clip(base + rng.normal(-0.02, 0.15, 400), 0, 1)
    first = stats.paired_bootstrap(base, cand, seed=1)
    assert stats.paired_bootstrap(base, cand, seed=1) == first
    t_test = stats.paired_t(base, cand)
    assert first.ci_low == pytest.approx(t_test.ci_low, abs=0.004)
    assert first.ci_high == pytest.approx(t_test.ci_high, abs=0.004)
    assert first.p_value == pytest.approx(t_test.p_value, abs=0.01)
    assert first.method == "paired-bootstrap"


def test_paired_bootstrap_without_spread() -> None:
    same = stats.paired_bootstrap([0.2, 0.4], [0.2, 0.4])
    assert same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    shifted = stats.paired_bootstrap([0.2, 0.4], [0.1, 0.3])
    assert shifted.p_value == pytest.approx(1 / 10_001) and shifted.effect == pytest.approx(-0.1)


def test_bootstrap_p_value_never_zero() -> None:
    assert stats.bootstrap_p_value(np.full(99, -0.5), -0.5) == pytest.approx(1 / 100)
    assert stats.bootstrap_p_value(np.zeros(99), 0.0) == 1.0


def test_bootstrap_means_chunks_match_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.arange(10, dtype=float)
    whole = stats.bootstrap_means(values, n_boot=50, seed=4)
    monkeypatch.setattr(stats, "_BOOTSTRAP_CELLS", 30)  # 3 replicates per chunk
    chunked = stats.bootstrap_means(values, n_boot=50, seed=4)
    np.testing.assert_array_equal(chunked, whole)  # chunking bounds memory without changing results
    assert abs(whole.mean() - 4.5) < 0.5


def test_sign_test_golden() -> None:
    result = stats.sign_test(wins=7, losses=3, ties=2)
    assert result.p_value == pytest.approx(0.34375)  # binomial(7 of 10), two-sided
    assert result.candidate_mean == pytest.approx(8 / 12)
    assert result.effect == pytest.approx(8 / 12 - 0.5)
    assert stats.sign_test(0, 0, 4).p_value == 1.0
    with pytest.raises(ValueError):
        stats.sign_test(0, 0, 0)


def test_minimum_detectable_effect_golden() -> None:
    k = 1.959963985 + 0.841621234
    assert stats.minimum_detectable_effect(400, 0.5) == pytest.approx(k * 0.5 / 20, rel=1e-6)
    assert stats.mcnemar_mde(500, 0.2) == pytest.approx(k * math.sqrt(0.2 / 500), rel=1e-6)
    assert stats.mcnemar_mde(500, 0.0) == pytest.approx(k * k / 500, rel=1e-6)  # nothing flipped
    assert stats.mcnemar_mde(0, 0.1) == math.inf
    assert stats.mcnemar_mde(5, 0.5) == 1.0


def test_is_binary() -> None:
    assert stats.is_binary([0, 1, 1.0], [0.0])
    assert not stats.is_binary([0, 1], [0.5])


def test_holm_matches_the_step_down_procedure() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        p = rng.uniform(0, 0.1, rng.integers(1, 8))
        alpha, m = 0.05, len(p)
        rejected, stopped = set(), False
        for rank, k in enumerate(np.argsort(p, kind="stable")):  # reject while p_(i) <= alpha / (m - i)
            stopped = stopped or p[k] > alpha / (m - rank)
            if not stopped:
                rejected.add(int(k))
        adjusted = stats.holm(p)
        assert {k for k in range(m) if adjusted[k] <= alpha} == rejected


def test_mcnemar_interval_covers_the_true_difference() -> None:
    """Agresti-Min keeps ~95% coverage for a real 5-point accuracy drop at n=200 (1,000 simulated suites)."""
    rng = np.random.default_rng(5)
    n, acc, loss, gain = 200, 0.7, 0.1, 0.0667  # expected change 0.3 * gain - 0.7 * loss = -0.05
    truth = (1 - acc) * gain - acc * loss
    covered = 0
    for _ in range(1000):
        base = (rng.random(n) < acc).astype(float)
        u = rng.random(n)
        cand = np.where(base == 1, u >= loss, u < gain).astype(float)
        result = stats.mcnemar_exact(base, cand)
        covered += result.ci_low <= truth <= result.ci_high
    assert 0.93 <= covered / 1000 <= 0.97
