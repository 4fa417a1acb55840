"""Arena statistics: Elo and BT against plain reference computations and published golden numbers,
bootstrap coverage, rank ranges, matrices, anchoring, style control, and the real vote files."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from harness.arena.ratings import (
    ArenaConfig,
    PairCounts,
    bootstrap_bradley_terry,
    comparison_groups,
    compute_ratings,
    count_pairs,
    encode_battles,
    fit_bradley_terry,
    mle_exists,
    online_elo,
    rank_ranges,
)
from harness.errors import HarnessError
from harness.records import Battle

LN10 = math.log(10)


def simulate(strengths: np.ndarray, n: int, seed: int, tie_rate: float = 0.1) -> list[Battle]:
    """Battles from a BT model with Elo-scale `strengths`, names m0, m1, ... A tie (either kind) happens with
    prob `tie_rate`; decided games are tilted so that model_a's expected score is still the BT probability."""
    rng = np.random.default_rng(seed)
    m = len(strengths)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1.0 / (1.0 + 10 ** ((strengths[b] - strengths[a]) / 400))
    q = np.clip((p - tie_rate / 2) / (1 - tie_rate), 0.0, 1.0)
    tie = rng.random(n) < tie_rate
    tie_kind = np.where(rng.random(n) < 0.5, "tie", "tie (bothbad)")
    winner = np.where(tie, tie_kind, np.where(rng.random(n) < q, "model_a", "model_b"))
    return [Battle(model_a=f"m{i}", model_b=f"m{j}", winner=w) for i, j, w in zip(a.tolist(), b.tolist(), winner.tolist())]


def elo_reference(battles: list[Battle], k: float = 4, scale: float = 400, base: float = 10,
                  init: float = 1000) -> dict[str, float]:
    """The 2023 Arena notebook's loop, written out plainly."""
    rating: dict[str, float] = defaultdict(lambda: init)
    for b in battles:
        ra, rb = rating[b.model_a], rating[b.model_b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = {"model_a": 1.0, "model_b": 0.0}.get(b.winner, 0.5)
        rating[b.model_a] += k * (sa - ea)
        rating[b.model_b] += k * (1 - sa - eb)
    return dict(rating)


def bt_reference(battles: list[Battle]) -> dict[str, float]:
    """Per-battle BT likelihood (ties half a win) minimised by scipy, on the Elo scale, mean 1000."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    index = {m: k for k, m in enumerate(models)}
    a = np.array([index[b.model_a] for b in battles])
    bb = np.array([index[b.model_b] for b in battles])
    y = np.array([{"model_a": 1.0, "model_b": 0.0}.get(b.winner, 0.5) for b in battles])

    def nll(t: np.ndarray) -> tuple[float, np.ndarray]:
        d = t[a] - t[bb]
        r = y - expit(d)
        g = np.zeros(len(models))
        np.add.at(g, a, -r)
        np.add.at(g, bb, r)
        return float(-(y * log_expit(d) + (1 - y) * log_expit(-d)).sum()), g

    res = minimize(nll, np.zeros(len(models)), jac=True, method="BFGS",
                   options={"gtol": 1e-12, "maxiter": 10000})
    elo = res.x * 400 / LN10
    return dict(zip(models, elo - elo.mean() + 1000))


STRENGTHS = np.array([1200.0, 1100.0, 1050.0, 1000.0, 950.0, 800.0])


def test_online_elo_matches_the_notebook_loop() -> None:
    battles = simulate(STRENGTHS, 3000, seed=1)
    report = compute_ratings(battles, ArenaConfig(method="elo"))
    reference = elo_reference(battles)
    assert {r.model for r in report.rows} == set(reference)
    for row in report.rows:
        assert row.elo == pytest.approx(reference[row.model], abs=1e-6)
        assert row.bt is None and row.ci_low is None
    assert [r.model for r in report.rows] == sorted(reference, key=lambda m: -reference[m])


def test_online_elo_depends_on_order_and_scores_ties_half() -> None:
    a, b = np.array([0, 0]), np.array([1, 1])
    first = online_elo(a, b, np.array([1.0, 0.0]), 2)
    second = online_elo(a, b, np.array([0.0, 1.0]), 2)
    assert first[0] != pytest.approx(second[0])  # same outcomes, other order, other ratings
    tie = online_elo(np.array([0]), np.array([1]), np.array([0.5]), 2)
    assert tie.tolist() == [1000.0, 1000.0]  # equal ratings, a tie: expected 0.5, no change
    win = online_elo(np.array([0]), np.array([1]), np.array([1.0]), 2)
    assert win.tolist() == [1002.0, 998.0]  # K=4 times (1 - 0.5)


def test_bradley_terry_matches_per_battle_likelihood() -> None:
    battles = simulate(STRENGTHS, 2500, seed=2)
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=0))
    reference = bt_reference(battles)
    for row in report.rows:
        assert row.bt == pytest.approx(reference[row.model], abs=1e-6)
    assert np.mean([r.bt for r in report.rows]) == pytest.approx(1000.0, abs=1e-9)


def test_bradley_terry_golden_two_models() -> None:
    # 3 wins, 1 loss, 2 ties: a scores 4 of 6, so 10^(d/400) = 4/2 and d = 400 log10(2).
    battles = [Battle(model_a="a", model_b="b", winner=w) for w in ["model_a"] * 3 + ["model_b", "tie", "tie (bothbad)"]]
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=0))
    d = 400 * math.log10(2)
    assert report.row("a").bt == pytest.approx(1000 + d / 2, abs=1e-9)
    assert report.row("b").bt == pytest.approx(1000 - d / 2, abs=1e-9)
    flipped = [Battle(model_a="b", model_b="a", winner={"model_a": "model_b", "model_b": "model_a"}.get(b.winner, b.winner))
               for b in battles]
    again = compute_ratings(flipped, ArenaConfig(method="bt", bootstrap=0))
    assert again.row("a").bt == pytest.approx(report.row("a").bt, abs=1e-9)  # sides do not matter to BT


def test_bt_recovers_known_strengths_within_its_cis() -> None:
    battles = simulate(STRENGTHS, 6000, seed=3)
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=300, seed=3))
    truth = dict(zip([f"m{k}" for k in range(len(STRENGTHS))], STRENGTHS - STRENGTHS.mean() + 1000))
    inside = [r.ci_low <= truth[r.model] <= r.ci_high for r in report.rows]  # type: ignore[operator]
    assert sum(inside) >= len(inside) - 1
    assert max(abs(r.bt - truth[r.model]) for r in report.rows) < 40  # type: ignore[operator]
    assert [r.model for r in report.rows] == [f"m{k}" for k in range(len(STRENGTHS))]


def test_bootstrap_cis_cover_the_truth_at_about_the_nominal_rate() -> None:
    strengths = np.array([1100.0, 1040.0, 1000.0, 980.0, 900.0])
    centred = strengths - strengths.mean() + 1000
    covered, total = 0, 0
    for seed in range(40):
        battles = simulate(strengths, 800, seed=100 + seed)
        report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=200, seed=seed))
        for row in report.rows:
            true = centred[int(row.model[1:])]
            covered += row.ci_low <= true <= row.ci_high  # type: ignore[operator]
            total += 1
    assert 0.88 <= covered / total <= 0.99


def test_multinomial_bootstrap_matches_resampling_battles() -> None:
    battles = simulate(STRENGTHS, 1500, seed=4)
    enc = encode_battles(battles)
    counts = count_pairs(enc.a, enc.b, enc.score, len(enc.models))
    fast = bootstrap_bradley_terry(counts, 400, seed=0)
    rng = np.random.default_rng(1)
    slow = []
    for _ in range(150):
        pick = rng.integers(0, len(battles), len(battles))
        resampled = count_pairs(enc.a[pick], enc.b[pick], enc.score[pick], len(enc.models))
        slow.append(fit_bradley_terry(resampled).ratings)
    ratio = fast.std(axis=0) / np.std(slow, axis=0)
    assert np.all((ratio > 0.75) & (ratio < 1.3))
    assert np.allclose(fast.mean(axis=1), 1000.0)


def test_bootstrap_is_seeded() -> None:
    battles = simulate(STRENGTHS, 500, seed=5)
    first = compute_ratings(battles, ArenaConfig(bootstrap=50, seed=7))
    second = compute_ratings(battles, ArenaConfig(bootstrap=50, seed=7))
    third = compute_ratings(battles, ArenaConfig(bootstrap=50, seed=8))
    assert first.bootstrap is not None and second.bootstrap is not None and third.bootstrap is not None
    assert np.array_equal(first.bootstrap, second.bootstrap)
    assert not np.array_equal(first.bootstrap, third.bootstrap)


def test_rank_ranges_follow_the_arena_rule() -> None:
    low = np.array([1100.0, 1090.0, 1000.0, 850.0])
    high = np.array([1200.0, 1150.0, 1095.0, 900.0])
    best, worst = rank_ranges(low, high)
    # model 2's upper bound 1095 is below model 0's lower bound 1100 but not model 1's 1090
    assert best.tolist() == [1, 1, 2, 4]
    assert worst.tolist() == [2, 3, 3, 4]


def test_matrices_are_consistent() -> None:
    battles = [Battle(model_a="a", model_b="b", winner="model_a"), Battle(model_a="b", model_b="a", winner="model_a"), Battle(model_a="a", model_b="b", winner="tie"),
               Battle(model_a="a", model_b="c", winner="model_b")]
    report = compute_ratings(battles, ArenaConfig(bootstrap=0))
    assert report.models == ("a", "b", "c")
    assert report.counts.tolist() == [[0, 3, 1], [3, 0, 0], [1, 0, 0]]
    assert report.observed[0, 1] == pytest.approx(1.5 / 3) and report.observed[1, 0] == pytest.approx(1.5 / 3)
    assert report.observed[2, 0] == 1.0
    assert math.isnan(report.observed[1, 2]) and math.isnan(report.observed[0, 0])
    assert report.predicted is not None
    off = ~np.eye(3, dtype=bool)
    assert np.allclose((report.predicted + report.predicted.T)[off], 1.0)
    bt = {r.model: r.bt for r in report.rows}
    expected = 1 / (1 + 10 ** ((bt["b"] - bt["c"]) / 400))  # type: ignore[operator]
    assert report.predicted[2, 1] == pytest.approx(expected)
    assert {r.model: r.battles for r in report.rows} == {"a": 4, "b": 3, "c": 1}


def test_anchor_pins_one_model_and_keeps_differences() -> None:
    battles = simulate(STRENGTHS, 1000, seed=6)
    free = compute_ratings(battles, ArenaConfig(bootstrap=100))
    pinned = compute_ratings(battles, ArenaConfig(bootstrap=100, anchor=("m3", 1114.0)))
    assert pinned.row("m3").bt == pytest.approx(1114.0) and pinned.row("m3").elo == pytest.approx(1114.0)
    assert pinned.row("m3").ci_low == pytest.approx(1114.0)
    assert pinned.row("m3").ci_high == pytest.approx(1114.0)
    for model in ("m0", "m5"):
        shift = pinned.row(model).bt - free.row(model).bt  # type: ignore[operator]
        assert shift == pytest.approx(1114.0 - free.row("m3").bt)  # type: ignore[operator]
    with pytest.raises(HarnessError, match="anchor model 'nobody'"):
        compute_ratings(battles, ArenaConfig(anchor=("nobody", 1000.0)))


def test_difference_has_a_bootstrap_ci_for_the_gate() -> None:
    battles = simulate(STRENGTHS, 3000, seed=7)
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=300))
    strong = report.difference("m0", "m5")
    point = report.row("m0").bt - report.row("m5").bt  # type: ignore[operator]
    assert strong.difference == pytest.approx(point)
    assert strong.ci_low is not None and strong.ci_high is not None
    assert 0 < strong.ci_low < strong.difference < strong.ci_high
    assert strong.p_not_better == 0.0
    assert report.difference("m5", "m0").p_not_better == 1.0
    near = compute_ratings(simulate(np.array([1000.0, 1005.0, 900.0]), 600, seed=11),
                           ArenaConfig(method="bt", bootstrap=300))
    close = near.difference("m0", "m1")
    assert close.p_not_better is not None and 0.05 < close.p_not_better < 0.95
    assert close.ci_low is not None and close.ci_high is not None and close.ci_low < 0 < close.ci_high


def test_missing_mle_falls_back_to_a_ridge_with_a_warning() -> None:
    battles = [Battle(model_a="a", model_b="b", winner="model_a")] * 5 + [Battle(model_a="b", model_b="c", winner="model_a"), Battle(model_a="c", model_b="b", winner="model_a")]
    report = compute_ratings(battles, ArenaConfig(bootstrap=20))
    assert any("does not exist" in w for w in report.warnings)
    bt = {r.model: r.bt for r in report.rows}
    assert all(math.isfinite(v) for v in bt.values())  # type: ignore[arg-type]
    assert bt["a"] > bt["b"] + 400 and bt["a"] > bt["c"] + 400  # type: ignore[operator]
    encoded = encode_battles(battles)
    counts = count_pairs(encoded.a, encoded.b, encoded.score, 3)
    assert not fit_bradley_terry(counts).mle_exists
    two_groups = [Battle(model_a="a", model_b="b", winner="model_a"), Battle(model_a="b", model_b="a", winner="model_a"), Battle(model_a="c", model_b="d", winner="tie")]
    apart = compute_ratings(two_groups, ArenaConfig(bootstrap=10))
    assert any("2 groups of models" in w for w in apart.warnings)


def test_compute_ratings_rejects_bad_input() -> None:
    with pytest.raises(HarnessError, match="no battles"):
        compute_ratings([], ArenaConfig())
    with pytest.raises(HarnessError, match="not one of"):
        compute_ratings([Battle(model_a="a", model_b="b", winner="draw")], ArenaConfig())
    with pytest.raises(HarnessError, match="same model"):
        compute_ratings([Battle(model_a="a", model_b="a", winner="tie")], ArenaConfig())


def test_report_json_has_the_documented_shape() -> None:
    report = compute_ratings(simulate(STRENGTHS, 400, seed=8), ArenaConfig(bootstrap=30))
    document = json.loads(json.dumps(report.to_json()))  # strict JSON: NaN became null
    assert document["battles"] == 400 and document["battle_set"].startswith("sha256:")
    for row in document["models"]:
        assert {"model", "elo", "bt", "ci_low", "ci_high", "rank_low", "rank_high", "battles"} <= set(row)
        assert row["rank_low"] <= row["rank_high"]
    bts = [row["bt"] for row in document["models"]]
    assert bts == sorted(bts, reverse=True)
    assert document["matrices"]["counts"][0][0] == 0 and document["matrices"]["observed"][0][0] is None


def test_battle_set_fingerprint_follows_content_and_order() -> None:
    battles = simulate(STRENGTHS, 50, seed=9)
    same = compute_ratings(list(battles), ArenaConfig(bootstrap=0)).battle_set
    assert same == compute_ratings(battles, ArenaConfig(bootstrap=0, method="elo")).battle_set
    assert same != compute_ratings(battles[::-1], ArenaConfig(bootstrap=0)).battle_set


def _style_battles(n: int, seed: int) -> list[Battle]:
    """Equal skills; the judge prefers the longer answer. m0 writes long answers, m2 short ones."""
    rng = np.random.default_rng(seed)
    mean_len = [400, 250, 100]
    battles = []
    for _ in range(n):
        i, j = rng.choice(3, 2, replace=False)
        la, lb = (max(1, int(rng.normal(mean_len[k], 60))) for k in (i, j))
        p = 1 / (1 + math.exp(-3.0 * (la - lb) / (la + lb + 1)))
        winner = "model_a" if rng.random() < p else "model_b"
        extra = {"len_a": la, "len_b": lb, "md_a": 0, "md_b": 0}
        battles.append(Battle(model_a=f"m{i}", model_b=f"m{j}", winner=winner, extra=extra))
    return battles


def test_length_control_removes_a_length_bias() -> None:
    battles = _style_battles(3000, seed=10)
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=60, control=("length",)))
    raw = {r.model: r.bt for r in report.rows}
    controlled = {r.model: r.bt_controlled for r in report.rows}
    assert raw["m0"] - raw["m2"] > 150  # type: ignore[operator]
    assert abs(controlled["m0"] - controlled["m2"]) < 60  # type: ignore[operator]
    assert report.style is not None and report.style.features == ("length",)
    assert report.style.coefficients[0] > 0.5
    low, high = report.row("m0").controlled_ci_low, report.row("m0").controlled_ci_high
    assert low is not None and high is not None
    assert low < report.row("m0").bt_controlled < high  # type: ignore[operator]


def test_style_control_uses_fastchat_conv_metadata_and_requires_it() -> None:
    from harness.answer_style import style_metadata
    from harness.arena.style import style_covariates

    meta = style_metadata("# Title\n- one\n- two\n**bold** text", "plain answer")
    assert meta["header_count_a"] == 1 and meta["list_count_a"] == 2 and meta["bold_count_a"] == 1
    assert meta["header_count_b"] == 0 and meta["sum_assistant_b_tokens"] == 2
    battles = [Battle(model_a="x", model_b="y", winner="model_a",
                      extra={"conv_metadata": style_metadata("a " * k, "b **c** " * (5 - k))})
               for k in range(5)]
    features, names = style_covariates(battles, ("length", "markdown"))
    assert names == ("length", "bold")  # headers and lists never vary: dropped
    assert np.allclose(features.mean(axis=0), 0.0) and np.allclose(features.std(axis=0), 1.0)
    with pytest.raises(HarnessError, match="no answer counts"):
        compute_ratings([Battle(model_a="x", model_b="y", winner="model_a")], ArenaConfig(control=("length",)))


def test_evalica_golden_elo_and_bt_on_llmfao(shared_data: Path) -> None:
    """evalica's published expected scores on the LLMFAO crowd votes (Elo in file order; BT strengths
    normalised to sum 1)."""
    from harness.formats import read_file as load_battles

    battles = load_battles(shared_data / "llmfao" / "crowd-comparisons.csv").battles
    assert len(battles) == 8931
    golden: dict[str, dict[str, float]] = defaultdict(dict)
    with (shared_data / "llmfao" / "llmfao-golden.csv").open() as fh:
        for row in csv.DictReader(fh):
            golden[row["algorithm"]][row["item"]] = float(row["score"])
    report = compute_ratings(battles, ArenaConfig(bootstrap=0))
    strengths = {r.model: 10 ** (r.bt / 400) for r in report.rows}  # type: ignore[operator]
    total = sum(strengths.values())
    assert len(report.rows) == len(golden["elo"]) == 59
    for row in report.rows:
        assert row.elo == pytest.approx(golden["elo"][row.model], abs=1e-6)
        assert strengths[row.model] / total == pytest.approx(golden["bradley_terry"][row.model], rel=1e-6)


def test_real_vote_files_convert_and_fit(shared_data: Path) -> None:
    from harness.formats import read_file as load_battles

    human = load_battles(shared_data / "prd_vicuna80_pairwise" / "ratings-human")
    assert len(human.battles) == 7040 and human.skipped == 0
    report = compute_ratings(human.battles, ArenaConfig(bootstrap=100))
    assert {r.model for r in report.rows[:2]} == {"gpt4", "claude"}
    assert not report.warnings
    reviews = load_battles(shared_data / "vicuna80_fastchat_eval")
    assert len(reviews.battles) == 1040
    controlled = compute_ratings(reviews.battles, ArenaConfig(bootstrap=50, control=("length", "markdown")))
    assert controlled.rows[-1].model == "llama-13b:v1"
    assert controlled.style is not None and controlled.style.features[0] == "length"


def test_fast_bootstrap_equals_exact_fits_on_the_same_draws() -> None:
    """The chord-step solver gives each round's exact MLE: refit the same multinomial draws one by one."""
    from harness.arena.bradley_terry import batch_rounds, batch_streams, resample_cells
    from harness.arena.ratings import PairCounts

    battles = simulate(STRENGTHS, 300, seed=12)
    enc = encode_battles(battles)
    counts = count_pairs(enc.a, enc.b, enc.score, len(enc.models))
    fast = bootstrap_bradley_terry(counts, 40, seed=5)
    cells = np.concatenate([counts.wins_i, counts.wins_j, counts.ties])
    assert batch_rounds(len(counts.i)) >= 40  # one batch: its generator draws all 40 rounds
    draws = resample_cells(np.random.default_rng(batch_streams(5, 1)[0]), cells, 40)
    p = len(counts.i)
    for row, draw in zip(fast, draws):
        resampled = PairCounts(counts.n_models, counts.i, counts.j, draw[:p], draw[p:2 * p], draw[2 * p:])
        assert np.allclose(row, fit_bradley_terry(resampled).ratings, atol=1e-5)


def test_bootstrap_batches_give_the_same_ratings_on_any_number_of_threads() -> None:
    """Each batch of rounds has its own generator: one thread, two and three give the same array, and the
    batches are not copies of each other."""
    from harness.arena.bradley_terry import batch_rounds

    strengths = np.linspace(800.0, 1200.0, 40)
    enc = encode_battles(simulate(strengths, 12_000, seed=21))
    counts = count_pairs(enc.a, enc.b, enc.score, len(enc.models))
    step = batch_rounds(len(counts.i))
    rounds = 2 * step + 7  # three batches, the last one short
    one = bootstrap_bradley_terry(counts, rounds, seed=3, workers=1)
    assert np.array_equal(one, bootstrap_bradley_terry(counts, rounds, seed=3, workers=2))
    assert np.array_equal(one, bootstrap_bradley_terry(counts, rounds, seed=3, workers=3))
    assert not np.array_equal(one[:7], one[step:step + 7]) and not np.array_equal(one[:7], one[-7:])
    assert np.isfinite(one).all() and np.allclose(one.mean(axis=1), 1000.0)


def test_pair_sums_equal_the_signed_incidence_product_in_any_pair_order() -> None:
    from harness.arena.bradley_terry import _PairSums
    from harness.arena.ratings import PairCounts

    rng = np.random.default_rng(2)
    i, j = np.triu_indices(7, 1)
    for order in (np.arange(len(i)), rng.permutation(len(i))):
        keep = order[:15]  # six pairs never met; in the second order, pairs are not sorted by i
        incidence = np.zeros((len(keep), 7))
        incidence[np.arange(len(keep)), i[keep]] = 1.0
        incidence[np.arange(len(keep)), j[keep]] = -1.0
        z = rng.normal(size=(len(keep), 4))
        pairs = PairCounts(7, i[keep], j[keep], *np.ones((3, len(keep))))
        assert np.allclose(_PairSums(pairs).net(z), incidence.T @ z)


def test_style_control_with_judge_counts_anchor_and_elo_only() -> None:
    battles = [Battle(model_a=b.model_a, model_b=b.model_b, winner=b.winner, extra={**b.extra, "md_a": k % 3, "md_b": k % 2})
               for k, b in enumerate(_style_battles(600, seed=13))]
    config = ArenaConfig(bootstrap=20, control=("length", "markdown"), anchor=("m1", 1200.0))
    report = compute_ratings(battles, config)
    assert report.style is not None and report.style.features == ("length", "markdown")
    row = report.row("m1")
    assert row.bt_controlled == pytest.approx(1200.0) and row.controlled_ci_low == pytest.approx(1200.0)
    assert row.bt == pytest.approx(1200.0)
    elo_only = compute_ratings(battles, ArenaConfig(method="elo", control=("length",)))
    assert elo_only.style is None and any("ignored" in w for w in elo_only.warnings)


def test_bootstrap_rounds_without_an_mle_stay_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    """a lost once in 11 games against b: rounds that do not redraw that loss have no MLE (exact Newton
    with the ridge)."""
    from harness.arena import bradley_terry

    exact: list[int] = []
    original = bradley_terry._exact_rounds

    def spy(*args: object) -> None:
        exact.append(len(args[4]))  # type: ignore[arg-type]
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bradley_terry, "_exact_rounds", spy)
    battles = [Battle(model_a="a", model_b="b", winner="model_a")] * 10 + [Battle(model_a="b", model_b="a", winner="model_a")] + \
        [Battle(model_a="b", model_b="c", winner="model_a")] * 6 + [Battle(model_a="c", model_b="b", winner="model_a")] * 4 + [Battle(model_a="a", model_b="c", winner="tie")]
    report = compute_ratings(battles, ArenaConfig(bootstrap=200))
    assert not report.warnings  # the full data has an MLE
    assert report.bootstrap is not None and np.isfinite(report.bootstrap).all()
    assert 20 < sum(exact) < 100  # about e^-1 of the rounds miss the single loss
    top = report.row("a")
    assert top.ci_high - top.bt > 3 * (top.bt - top.ci_low)  # type: ignore[operator]


def test_style_controlled_fit_matches_a_plain_likelihood_fit() -> None:
    """Controlled ratings and covariate weights equal scipy's minimiser of the per-battle likelihood."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    from harness.arena.style import style_covariates

    battles = [Battle(model_a=b.model_a, model_b=b.model_b, winner="tie" if k % 7 == 0 else b.winner, extra=b.extra)
               for k, b in enumerate(_style_battles(800, seed=14))]
    report = compute_ratings(battles, ArenaConfig(method="bt", bootstrap=0, control=("length",)))
    enc = encode_battles(battles)
    x, _ = style_covariates(battles, ("length",))
    m = len(enc.models)

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[enc.a] - params[enc.b] + x @ params[m:]
        r = enc.score - expit(z)
        g = np.zeros(len(params))
        np.add.at(g, enc.a, -r)
        np.add.at(g, enc.b, r)
        g[m:] = -(x.T @ r)
        return float(-(enc.score * log_expit(z) + (1 - enc.score) * log_expit(-z)).sum()), g

    res = minimize(nll, np.zeros(m + 1), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    elo = res.x[:m] * 400 / LN10
    expected = dict(zip(enc.models, elo - elo.mean() + 1000))
    for row in report.rows:
        assert row.bt_controlled == pytest.approx(expected[row.model], abs=1e-5)
    assert report.style is not None and report.style.coefficients[0] == pytest.approx(res.x[m], abs=1e-7)


def test_resampled_cells_are_multinomial() -> None:
    """Poisson counts made to total n (battles added or removed at random) have the multinomial's moments."""
    from harness.arena.bradley_terry import resample_cells

    cells = np.array([3.0, 0.0, 5.0, 2.0, 40.0])
    n, p = cells.sum(), cells / cells.sum()
    draws = resample_cells(np.random.default_rng(0), cells, 100_000)
    assert np.all(draws.sum(axis=1) == n) and np.all(draws[:, 1] == 0) and np.all(draws >= 0)
    assert np.allclose(draws.mean(axis=0), cells, atol=0.05)
    expected = n * (np.diag(p) - np.outer(p, p))  # the multinomial covariance
    assert np.allclose(np.cov(draws.T), expected, atol=0.06 * expected.max())
    assert np.array_equal(resample_cells(np.random.default_rng(3), cells, 5),
                          resample_cells(np.random.default_rng(3), cells, 5))


def test_mle_existence_and_groups_agree_with_scipys_connected_components() -> None:
    """The numpy reachability search gives what scipy.sparse.csgraph gives, on random small graphs."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(0)
    for _ in range(500):
        m = int(rng.integers(1, 9))
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m) if rng.random() < 0.4]
        i, j = (np.array([p[k] for p in pairs], np.int64) for k in (0, 1))
        wins_i, wins_j, ties = (rng.integers(0, 3, len(pairs)).astype(float) for _ in range(3))
        counts = PairCounts(m, i, j, wins_i, wins_j, ties)
        wins, total = wins_i + ties / 2, counts.total
        forward, backward = wins > 0, (total - wins) > 0
        rows, cols = np.concatenate([i[forward], j[backward]]), np.concatenate([j[forward], i[backward]])
        strong = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m))
        assert mle_exists(counts, wins, total) == (connected_components(strong, connection="strong")[0] == 1)
        weak = coo_matrix((np.ones(len(i)), (i, j)), shape=(m, m))
        assert comparison_groups(counts) == connected_components(weak, directed=False)[0]


def test_expit_and_log_expit_agree_with_scipys() -> None:
    """Within 2 units in the last place (the same formulas; another CPU's `exp` may round differently), and the
    same at the extremes (0, 1, -inf, infinities)."""
    from scipy.special import expit as scipy_expit
    from scipy.special import log_expit as scipy_log_expit

    from harness.arena.bradley_terry import expit, log_expit

    x = np.concatenate([np.random.default_rng(0).normal(0, 30, 200_000),
                        [0.0, -0.0, 37.0, -37.0, 710.0, -710.0, 1e308, -1e308, np.inf, -np.inf]])
    np.testing.assert_array_max_ulp(expit(x), scipy_expit(x), maxulp=2)
    finite = np.isfinite(scipy_log_expit(x))
    np.testing.assert_array_max_ulp(log_expit(x)[finite], scipy_log_expit(x)[finite], maxulp=2)
    assert np.array_equal(log_expit(x)[~finite], scipy_log_expit(x)[~finite])
