"""Benchmark: `harness eval` vs the `lm_eval` CLI doing the same work, and a store hit vs the first run.

Run: .venv/bin/python bench/eval_overhead.py [--repeats 2] [--limit 200] [--before DIR]
Prints ratios measured in this run (absolute seconds are printed too, but mean little on a noisy machine).
Also `harness --help` (median of 5; target <= 0.2 s), and the floor under a store hit: a script that
imports what any hit must (typer, SQLAlchemy and its SQLite dialect, rich's console and table, PyYAML) and
runs a one-option typer command, nothing of harness; first run / floor is the most a hit could reach. Every harness command runs as `python -m harness`
from this checkout; `--before DIR` runs the same --help and store-hit measurements from another checkout
(e.g. a worktree at the base commit) in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**env, "PYTHONPATH": str(cwd)}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=cwd)
    return time.perf_counter() - start


def harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


FLOOR = """
import rich.console, rich.table, sqlalchemy, sqlalchemy.dialects.sqlite, typer, yaml

app = typer.Typer()


@app.command()
def main(x: int = 0) -> None:
    pass


app(["--x", "1"], standalone_mode=False)
"""


def help_time(env: dict[str, str], cwd: Path) -> float:
    return statistics.median(timed(harness("--help"), env, cwd) for _ in range(5))


def index_times() -> tuple[float, float]:
    from lm_eval.tasks import TaskManager

    start = time.perf_counter()
    TaskManager(include_path=str(ROOT / "tasks"), include_defaults=False)
    local = time.perf_counter() - start
    start = time.perf_counter()
    TaskManager(include_path=str(ROOT / "tasks"), include_defaults=True)
    return local, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--before", help="also time --help and the store hit from this checkout")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HARNESS_CACHE": str(work / "cache")}
    model = work / "tiny"
    subprocess.run(harness("tiny-model", str(model)), check=True, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    common = ["--limit", str(args.limit), "--device", "cpu", "--batch_size", "16"]
    lm_eval_cmd = [str(BIN / "lm_eval"), "run", "--model", "hf", "--model_args", f"pretrained={model}",
                   "--tasks", "arith_mc", "arith_gen", "--include_path", str(ROOT / "tasks"), *common]
    firsts, hits, peers, before_hits, floors = [], [], [], [], []  # seconds
    for i in range(args.repeats):
        store = f"sqlite:///{work / f'store{i}.db'}"
        harness_cmd = harness("-q", "eval", "--model", str(model), "--suite", "smoke", "--limit", str(args.limit),
                              "--batch-size", "16", "--store", store)
        peers.append(timed(lm_eval_cmd, env))
        firsts.append(timed(harness_cmd, env))
        hits.append(timed(harness_cmd, env))
        floors.append(timed([sys.executable, "-c", FLOOR], env))
        if args.before:
            before_hits.append(timed(harness_cmd, env, Path(args.before)))
    local, full = index_times()
    peer, first, hit = statistics.median(peers), statistics.median(firsts), statistics.median(hits)
    print(f"tiny model, smoke suite (arith_mc + arith_gen, {args.limit} docs each), median of {args.repeats}")
    print(f"  lm_eval CLI          {peer:7.2f} s")
    print(f"  harness eval (first) {first:7.2f} s   ratio harness/lm_eval = {first / peer:.2f} (target <= 1.0)")
    print(f"  harness eval (store) {hit:7.2f} s   speed-up over first  = {first / hit:.1f}x (target >= 20x)")
    floor = statistics.median(floors)
    print(f"  import floor         {floor:7.2f} s   (typer + SQLAlchemy + rich + PyYAML, no harness): a hit could "
          f"be at most {first / floor:.1f}x; this one is {hit - floor:+.2f} s over it")
    start_up = help_time(env, ROOT)
    print(f"  harness --help       {start_up:7.2f} s   (target <= 0.2 s)")
    if args.before:
        old_help, old_hit = help_time(env, Path(args.before)), statistics.median(before_hits)
        print(f"  from {args.before}: --help {old_help:.2f} s ({old_help / start_up:.1f}x this one); store hit "
              f"{old_hit:.2f} s = {first / old_hit:.1f}x faster than the first run (this one {first / hit:.1f}x)")
    print(f"  task indexing: local only {local * 1000:.1f} ms vs with lm-eval's bundled tasks {full:.2f} s "
          f"({full / max(local, 1e-9):.0f}x)")


if __name__ == "__main__":
    main()
