"""Benchmark: Bradley-Terry + a 1000-round bootstrap on 1M simulated battles over 100 models, vs two peers.

Run: .venv/bin/python bench/arena_bt.py [--battles 1000000] [--models 100] [--rounds 1000]
                                        [--peer-a-rounds 2] [--peer-b-rounds 30]

Peers, written plainly here, timed in this run on the same battles:
  (a) the 2023 Arena notebook: scikit-learn LogisticRegression(fit_intercept=False, penalty=None) on a
      per-battle design matrix (+ln10 / -ln10), battles duplicated so a tie is one win each, and a bootstrap
      that resamples battles. Only a few rounds are timed; the 1000-round time is extrapolated (printed so).
  (b) the 2024 FastChat rewrite: unique (model_a, model_b, outcome) rows with counts, scipy L-BFGS-B per
      round (gtol 1e-6, maxiter 100), multinomial bootstrap over the rows, one process. Also extrapolated
      from `--peer-b-rounds` rounds.
Every method's point ratings are put on the Elo scale with mean 1000 and compared.

The whole command (`--command`, on by default): the same battles written as a clean_battle JSON list (with
the fields an Arena dump has: question_id, judge, turn, anony, language, tstamp) in a temp folder, then
`python -m harness arena --battles FILE --bootstrap ROUNDS --json` timed as a subprocess on a new store
(wall and CPU seconds), against peer (b) from the file: its own `json.load` + arrays + fit + rounds.
`--before DIR` also times the command from another checkout (e.g. a worktree at the base commit).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from harness.arena.bradley_terry import single_threaded_blas
from harness.arena.ratings import bootstrap_bradley_terry, count_pairs, fit_bradley_terry

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


def simulate(n: int, m: int, seed: int) -> tuple[Ints, Ints, Floats, Floats]:
    """Battles from BT strengths ~ N(1000, 150) with 10% ties (half a win each), Arena-like uneven pairing."""
    rng = np.random.default_rng(seed)
    strengths = rng.normal(1000, 150, m)
    popularity = rng.dirichlet(np.full(m, 2.0))
    a = rng.choice(m, n, p=popularity)
    b = (a + 1 + rng.choice(m - 1, n)) % m
    p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
    q = np.clip((p - 0.05) / 0.9, 0, 1)
    tie = rng.random(n) < 0.1
    score = np.where(tie, 0.5, (rng.random(n) < q).astype(float))
    return a, b, score, strengths


def centred(theta: Floats, to_elo: float) -> Floats:
    elo = theta * to_elo
    return elo - elo.mean() + 1000


def ours(a: Ints, b: Ints, score: Floats, m: int, rounds: int) -> tuple[Floats, Floats, float]:
    start = time.perf_counter()
    with single_threaded_blas():  # as `rate_encoded` runs them
        counts = count_pairs(a, b, score, m)
        point = fit_bradley_terry(counts).ratings
        samples = bootstrap_bradley_terry(counts, rounds, seed=0)
    return point, samples, time.perf_counter() - start


def peer_a(a: Ints, b: Ints, score: Floats, m: int, rounds: int) -> tuple[Floats, float, float]:
    """The notebook's per-battle logistic regression; returns point ratings, fit time and per-round time."""
    from sklearn.linear_model import LogisticRegression

    def fit(ia: Ints, ib: Ints, s: Floats) -> Floats:
        n = len(ia)
        x = np.zeros((2 * n, m))
        rows = np.arange(2 * n)
        x[rows, np.concatenate([ia, ia])] = math.log(10)
        x[rows, np.concatenate([ib, ib])] = -math.log(10)
        y = np.concatenate([s == 1.0, (s == 1.0) | (s == 0.5)]).astype(float)  # a tie: one win each
        # C=inf is scikit-learn 1.8+'s spelling of penalty=None (the old one warns): the unpenalised fit
        lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6, max_iter=1000)
        lr.fit(x, y)
        return centred(lr.coef_[0], 400)  # +-ln10 columns: coefficients are log10 strengths

    start = time.perf_counter()
    point = fit(a, b, score)
    fit_time = time.perf_counter() - start
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(rounds):
        pick = rng.integers(0, len(a), len(a))
        fit(a[pick], b[pick], score[pick])
    return point, fit_time, (time.perf_counter() - start) / max(rounds, 1)


def peer_b(a: Ints, b: Ints, score: Floats, m: int,
           rounds: int) -> tuple[Floats, Floats, float, float]:
    """FastChat 2024: counts of unique (a, b, outcome) rows, L-BFGS-B per round, multinomial bootstrap."""
    from scipy.optimize import minimize
    from scipy.special import expit

    start = time.perf_counter()
    schedule = np.column_stack([a, b, (score * 2).astype(np.int64)])
    rows, counts = np.unique(schedule, return_counts=True, axis=0)
    matchups, outcomes = rows[:, :2], rows[:, 2] / 2.0
    alpha = math.log(10)

    def loss_and_grad(r: Floats, weights: Floats) -> tuple[float, Floats]:
        probs = expit(alpha * (r[matchups[:, 0]] - r[matchups[:, 1]]))
        loss = -((np.log(probs) * outcomes + np.log(1 - probs) * (1 - outcomes)) * weights).sum()
        g = -alpha * (outcomes - probs) * weights
        grad = np.zeros(m)
        np.add.at(grad, matchups[:, 0], g)
        np.add.at(grad, matchups[:, 1], -g)
        return float(loss), grad

    def fit(weights: Floats) -> Floats:
        res = minimize(loss_and_grad, np.zeros(m), args=(weights,), jac=True, method="L-BFGS-B",
                       options={"maxiter": 100, "gtol": 1e-6})
        return centred(res.x, 400)

    point = fit(counts.astype(float))
    fit_time = time.perf_counter() - start
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    draws = rng.multinomial(len(a), counts / counts.sum(), size=rounds).astype(float) / len(a)
    samples = np.array([fit(w) for w in draws])
    return point, samples, fit_time, (time.perf_counter() - start) / max(rounds, 1)


WINNER = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}


def write_clean_battles(path: Path, a: Ints, b: Ints, score: Floats) -> None:
    names = [f"model-{k:03d}" for k in range(int(max(a.max(), b.max())) + 1)]
    rows = [{"question_id": f"q{k}", "model_a": names[x], "model_b": names[y], "winner": WINNER[s],
             "judge": f"arena_user_{k % 5000}", "turn": 1, "anony": True, "language": "English",
             "tstamp": 1.7e9 + k}
            for k, (x, y, s) in enumerate(zip(a.tolist(), b.tolist(), score.tolist()))]
    path.write_text(json.dumps(rows))


def time_command(checkout: Path, battles: Path, store: Path, rounds: int) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of the whole `harness arena` command run from `checkout`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(checkout), "HARNESS_STORE": str(store)}
    subprocess.run([sys.executable, "-m", "harness", "-q", "arena", "--battles", str(battles), "--bootstrap",
                    str(rounds), "--json"], check=True, cwd=checkout, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peer_from_file(battles: Path, m: int, rounds: int, peer_rounds: int) -> tuple[float, float]:
    """Peer (b) from the file: its own json.load and arrays, then its fit and (extrapolated) rounds."""
    start, cpu = time.perf_counter(), time.process_time()
    with battles.open() as fh:
        rows = json.load(fh)
    names = {f"model-{k:03d}": k for k in range(m)}
    a = np.array([names[r["model_a"]] for r in rows])
    b = np.array([names[r["model_b"]] for r in rows])
    score = np.array([{"model_a": 1.0, "model_b": 0.0}.get(r["winner"], 0.5) for r in rows])
    del rows
    load, load_cpu = time.perf_counter() - start, time.process_time() - cpu
    cpu = time.process_time()
    _, _, fit, per_round = peer_b(a, b, score, m, peer_rounds)
    fit_cpu = (time.process_time() - cpu) * (fit + per_round * rounds) / (fit + per_round * peer_rounds)
    return load + fit + per_round * rounds, load_cpu + fit_cpu


def command(args: argparse.Namespace, a: Ints, b: Ints, score: Floats) -> None:
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="bench-arena-") as tmp:
        battles = Path(tmp) / "clean_battle.json"
        write_clean_battles(battles, a, b, score)
        size = battles.stat().st_size / 1e6
        wall, cpu = time_command(root, battles, Path(tmp) / "store.db", args.rounds)
        print(f"harness arena --battles FILE ({size:.0f} MB) --bootstrap {args.rounds}, whole command: "
              f"{wall:6.2f} s wall, {cpu:6.2f} s CPU (target < 5 s)")
        if args.before:
            old_wall, old_cpu = time_command(Path(args.before), battles, Path(tmp) / "before.db", args.rounds)
            print(f"  the same command from {args.before}: {old_wall:6.2f} s wall, {old_cpu:6.2f} s CPU "
                  f"-> {old_wall / wall:.1f}x wall, {old_cpu / cpu:.1f}x CPU")
        peer, peer_cpu = peer_from_file(battles, args.models, args.rounds, args.peer_b_rounds)
        print(f"  peer (b) from the file (json.load + arrays + L-BFGS-B, {args.rounds} rounds extrapolated): "
              f"{peer:6.1f} s wall, {peer_cpu:6.1f} s CPU -> {peer / wall:.1f}x wall, {peer_cpu / cpu:.1f}x CPU "
              "(target >= 10x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--peer-a-rounds", type=int, default=2)
    parser.add_argument("--peer-b-rounds", type=int, default=30)
    parser.add_argument("--no-kernel", action="store_true", help="only the whole-command comparison")
    parser.add_argument("--no-command", action="store_true", help="only the kernel comparison")
    parser.add_argument("--before", help="also time the command from this checkout (e.g. the base commit)")
    args = parser.parse_args()
    a, b, score, _ = simulate(args.battles, args.models, seed=0)
    n, m, rounds = args.battles, args.models, args.rounds
    print(f"{n:,} battles, {m} models, {rounds} bootstrap rounds (2 shared cores; other jobs may be running; "
          f"load average {os.getloadavg()[0]:.1f})")
    if not args.no_command:
        command(args, a, b, score)
    if args.no_kernel:
        return

    point, samples, ours_time = ours(a, b, score, m, rounds)
    spread = np.median(samples.std(0))
    print(f"harness   BT + {rounds} rounds: {ours_time:7.2f} s   (median bootstrap SD {spread:.2f} Elo)")

    b_point, b_samples, b_fit, b_round = peer_b(a, b, score, m, args.peer_b_rounds)
    b_total = b_fit + b_round * rounds
    print(f"peer (b)  counts + L-BFGS-B: fit {b_fit:.2f} s, {b_round:.3f} s/round over {args.peer_b_rounds}"
          " rounds"
          f" -> {b_total:8.1f} s for {rounds} (extrapolated; bootstrap SD {np.median(b_samples.std(0)):.2f})")

    a_point, a_fit, a_round = peer_a(a, b, score, m, args.peer_a_rounds)
    a_total = a_fit + a_round * rounds
    print(f"peer (a)  per-battle sklearn LR: fit {a_fit:.2f} s, {a_round:.2f} s/round over"
          f" {args.peer_a_rounds}"
          f" rounds -> {a_total:9.1f} s for {rounds} (extrapolated)")

    print(f"speed-up vs (a): {a_total / ours_time:8.1f}x  (target >= 50x)")
    print(f"speed-up vs (b): {b_total / ours_time:8.1f}x  (target >= 10x)")
    print(f"largest point-rating difference vs (a): {np.abs(point - a_point).max():.4f} Elo, "
          f"vs (b): {np.abs(point - b_point).max():.4f} Elo  (target < 0.5)")


if __name__ == "__main__":
    main()
