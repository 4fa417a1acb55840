"""Benchmark: `harness eval` vs the `lm_eval` CLI doing the same work, and a store hit vs the first run.

Run: .venv/bin/python bench/eval_overhead.py [--repeats 2] [--limit 200]
Prints ratios measured in this run (absolute seconds are printed too, but mean little on a noisy machine).
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


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


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
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HARNESS_CACHE": str(work / "cache")}
    model = work / "tiny"
    subprocess.run([str(BIN / "harness"), "tiny-model", str(model)], check=True, env=env, stdout=subprocess.DEVNULL)
    common = ["--limit", str(args.limit), "--device", "cpu", "--batch_size", "16"]
    lm_eval_cmd = [str(BIN / "lm_eval"), "run", "--model", "hf", "--model_args", f"pretrained={model}",
                   "--tasks", "arith_mc", "arith_gen", "--include_path", str(ROOT / "tasks"), *common]
    firsts, hits, peers = [], [], []
    for i in range(args.repeats):
        store = f"sqlite:///{work / f'store{i}.db'}"
        harness_cmd = [str(BIN / "harness"), "-q", "eval", "--model", str(model), "--suite", "smoke",
                       "--limit", str(args.limit), "--batch-size", "16", "--store", store]
        peers.append(timed(lm_eval_cmd, env))
        firsts.append(timed(harness_cmd, env))
        hits.append(timed(harness_cmd, env))
    local, full = index_times()
    peer, first, hit = statistics.median(peers), statistics.median(firsts), statistics.median(hits)
    print(f"tiny model, smoke suite (arith_mc + arith_gen, {args.limit} docs each), median of {args.repeats}")
    print(f"  lm_eval CLI          {peer:7.2f} s")
    print(f"  harness eval (first) {first:7.2f} s   ratio harness/lm_eval = {first / peer:.2f} (target <= 1.0)")
    print(f"  harness eval (store) {hit:7.2f} s   speed-up over first  = {first / hit:.1f}x (target >= 20x)")
    print(f"  task indexing: local only {local * 1000:.1f} ms vs with lm-eval's bundled tasks {full:.2f} s "
          f"({full / max(local, 1e-9):.0f}x)")


if __name__ == "__main__":
    main()
