"""Benchmark: N tiny models x the smoke suite, the local executor vs the Ray executor on this machine.

Run: .venv/bin/python bench/scale_out.py [--models 3] [--limit 20] [--cpus 2] [--noops 200]

Both executors evaluate the same models on their own new SQLite store, in this run; the ratio is local wall time
over Ray wall time (above 1: Ray is faster). Ray's time includes starting the local cluster (`ray.init`), which a
long-lived cluster pays once. Scheduling overhead per unit: the driver's planning (model fingerprints, store
keys) per unit, and the round trip of `--noops` empty Ray tasks with the units' resource request (1 CPU each),
against a plain Python call. The scores of both executors are compared too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def make_models(root: Path, n: int) -> list[str]:
    from harness.eval.tiny import make_tiny_model

    return [str(make_tiny_model(root / f"m{seed}", seed=seed, hidden=64, layers=2).path) for seed in range(n)]


def timed_local(config: object, models: list[str], url: str) -> tuple[float, object]:
    from harness.eval.executors import run_locally

    start = time.perf_counter()
    report = run_locally(config, models, url)  # type: ignore[arg-type]
    return time.perf_counter() - start, report


def timed_ray(config: object, models: list[str], url: str, cpus: int, temp: Path) -> tuple[float, float, object]:
    """Wall time with and without the cluster start."""
    import ray

    from harness.eval.executors import ClusterOptions, run_on_cluster
    from harness.eval.ray_executor import run_units

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=str(temp), log_to_driver=False)
    up = time.perf_counter()
    report = run_on_cluster(config, models, ClusterOptions(), url, run_units)  # type: ignore[arg-type]
    end = time.perf_counter()
    return end - start, end - up, report


def noop_overhead(n: int) -> tuple[float, float]:
    """Seconds per empty Ray task (1 CPU, submitted and awaited in one batch) and per plain call."""
    import ray

    def nothing(i: int) -> int:
        return i

    task = ray.remote(nothing).options(num_cpus=1)
    ray.get([task.remote(i) for i in range(8)])  # workers started and warm
    start = time.perf_counter()
    ray.get([task.remote(i) for i in range(n)])
    per_task = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for i in range(n):
        nothing(i)
    return per_task, (time.perf_counter() - start) / n


def planning_per_unit(config: object, models: list[str]) -> float:
    from harness.eval.executors import plan_units

    start = time.perf_counter()
    units = plan_units(config, models)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / len(units)


def scores(report: object) -> dict[tuple[str, str, str], float | None]:
    return {(u.model, s.task, s.metric): s.value for u in report.units for s in u.scores}  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--noops", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import ray

    from harness.eval.config import EvalConfig

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["HARNESS_CACHE"] = str(root / "cache")
        models = make_models(root, args.models)
        config = EvalConfig(model=models[0], suite="smoke", limit=args.limit)
        plan_s = planning_per_unit(config, models)
        local_s, local = timed_local(config, models, f"sqlite:///{root / 'local.db'}")
        ray_s, ray_run_s, on_ray = timed_ray(config, models, f"sqlite:///{root / 'ray.db'}", args.cpus, root / "ray")
        per_task, per_call = noop_overhead(args.noops)
        ray.shutdown()
    units = len(on_ray.units)  # type: ignore[attr-defined]
    print(f"{args.models} tiny models x smoke (limit {args.limit}) = {units} units, Ray on {args.cpus} CPUs")
    print(f"local executor: {local_s:.1f} s; ray executor: {ray_s:.1f} s ({ray_run_s:.1f} s after ray.init)")
    print(f"ratio local/ray: {local_s / ray_s:.2f} (with ray.init), {local_s / ray_run_s:.2f} (cluster already up)")
    print(f"scores identical: {scores(local) == scores(on_ray)} ({len(scores(local))} scores)")
    print(f"driver planning per unit: {plan_s * 1000:.0f} ms")
    print(f"empty Ray task (1 CPU): {per_task * 1000:.2f} ms each over {args.noops}, "
          f"plain call {per_call * 1e6:.2f} us: {per_task / per_call:.0f}x")


if __name__ == "__main__":
    main()
