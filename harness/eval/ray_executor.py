"""The Ray executor: each (model, task) unit is a Ray task that reserves its GPUs and CPUs and calls `run_eval`.

The driver submits the units `eval.executors.run_on_cluster` claimed, shows one progress line for the cluster
(done / running / queued / failed), lets Ray retry a unit whose worker died or whose evaluation failed, and on
Ctrl-C cancels every unit still queued or running. Each worker writes its unit's results to the shared store,
so the store, not the driver, holds the outcome: a re-run finds them and submits nothing. Ray is imported here
only, and only when `--executor ray` is asked for.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any, TypeVar

from harness.console import progress
from harness.errors import HarnessError, RunFailed, missing_extra
from harness.eval.config import EvalConfig
from harness.eval.evaluate import EvalOutcome, run_eval
from harness.eval.executors import ClusterOptions, Status, Unit, UnitOutcome

T = TypeVar("T")
WAIT_S = 0.5  # how often the driver looks at finished units and redraws the progress line


def evaluate_unit(config: EvalConfig, store_url: str) -> EvalOutcome:
    """The body of one Ray task: one model on one task, through the same `run_eval` as a local run."""
    return run_eval(config, store_url)


def generate_unit(config: Any, store_url: str) -> Any:
    """The body of one `harness generate` Ray task: one model's answers, through `run_generate`."""
    from harness.generate import run_generate

    return run_generate(config, store_url)


def gpus_for(config: EvalConfig, options: ClusterOptions) -> float:
    """GPUs one unit reserves: `--gpus-per-unit`, else tensor x data parallel size on cuda and none on cpu."""
    if options.gpus_per_unit is not None:
        return options.gpus_per_unit
    if not config.device.startswith("cuda"):
        return 0.0
    return float(config.tensor_parallel_size * config.data_parallel_size)


def connect(address: str | None) -> bool:
    """Join the cluster at `address`, or reuse this process's Ray session, or start a local one.

    Returns True when this call started the session (the caller shuts it down). A local cluster started here
    runs with Ray's token authentication off (RAY_AUTH_MODE=disabled unless set), so nothing is written to
    ~/.ray; it listens on this machine only.
    """
    if importlib.util.find_spec("ray") is None:
        raise missing_extra("--executor ray", "ray", "ray")
    import ray

    if ray.is_initialized():
        return False
    if address is None:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(address=address, include_dashboard=False if address is None else None, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise HarnessError(f"cannot reach the Ray cluster at {address}: {exc}",
                           hint="start it with `ray start --head`, or pass --ray-address HOST:6379") from exc
    return True


def _error_text(exc: BaseException) -> str:
    import ray

    if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause is not None:
        exc = exc.cause
    message = exc.message if isinstance(exc, HarnessError) else str(exc).strip().splitlines()[-1]
    return f"{type(exc).__name__}: {message}"


def _finished(unit: Unit, result: EvalOutcome | BaseException) -> UnitOutcome:
    if isinstance(result, BaseException):
        return UnitOutcome(unit.model, unit.task, "failed", error=_error_text(result))
    status: Status = "cached" if result.cached or unit.task in result.cached_tasks else "done"
    return UnitOutcome(unit.model, unit.task, status, result.run_id, scores=result.scores)


def _capacity(cpus: float, gpus: float) -> int:
    """How many units the cluster can run at once (for the `running` count)."""
    import ray

    total = ray.cluster_resources()
    fits = [total.get("CPU", 0.0) // cpus] if cpus else []
    fits += [total.get("GPU", 0.0) // gpus] if gpus else []
    return max(1, int(min(fits))) if fits else 1


def run_units(units: list[Unit], store_url: str, options: ClusterOptions) -> list[UnitOutcome]:
    """Run every eval unit as a Ray task and wait for all of them (see the module docstring)."""
    gpus = gpus_for(units[0].config, options)
    results = run_remote(evaluate_unit, [(u.config, store_url) for u in units], options, gpus, "eval on ray")
    return [_finished(u, r) for u, r in zip(units, results)]


def generate_on_ray(configs: list[Any], store_url: str, options: ClusterOptions) -> list[Any]:
    """`harness generate` for each model config as a Ray task (a GPU each on cuda unless `--gpus-per-unit`)."""
    device = str(configs[0].device)
    gpus = options.gpus_per_unit if options.gpus_per_unit is not None else float(device.startswith("cuda"))
    return run_remote(generate_unit, [(c, store_url) for c in configs], options, gpus, "generate on ray")


def run_remote(function: Callable[..., T], calls: list[tuple[Any, ...]], options: ClusterOptions, gpus: float,
               label: str) -> list[T | BaseException]:
    """`function(*args)` for each of `calls` as a Ray task with the given resources, in order; a call that still
    fails after its retries comes back as its exception. Ctrl-C cancels what is queued or running."""
    import ray

    started = connect(options.address)
    try:
        return _submit_and_wait(function, calls, options, gpus, label)
    finally:
        if started:
            ray.shutdown()


def _outcome(ref: Any) -> Any:
    import ray

    try:
        return ray.get(ref)
    except (ray.exceptions.RayError, HarnessError) as exc:
        return exc


def _submit_and_wait(function: Callable[..., T], calls: list[tuple[Any, ...]], options: ClusterOptions,
                     gpus: float, label: str) -> list[T | BaseException]:
    import ray

    task = ray.remote(function).options(
        num_cpus=options.cpus_per_unit, num_gpus=gpus, max_retries=options.retries, retry_exceptions=[RunFailed],
    )
    refs = [task.remote(*args) for args in calls]
    capacity = _capacity(options.cpus_per_unit, gpus)
    results: dict[Any, Any] = {}
    pending = list(refs)
    try:
        with progress(label, total=len(refs)) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_S)
                results.update({ref: _outcome(ref) for ref in done})
                failed = sum(isinstance(r, BaseException) for r in results.values())
                running = min(len(pending), capacity)
                bar.update(bar.task_ids[0], completed=len(results), description=(
                    f"{label}: {len(results) - failed} done, {running} running, "
                    f"{len(pending) - running} queued, {failed} failed"))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return [results[ref] for ref in refs]
