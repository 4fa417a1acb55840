"""The CPU demonstration that training works: an Alpaca and a Vicuna variant of one tiny base, in minutes.

`build_demo_variants(base, out_dir)` writes the synthetic arithmetic data (train pairs only) and fine-tunes
the base with the `alpaca` and `vicuna` recipes, overriding only what a 1-million-parameter model on a CPU
needs (steps, learning rate, batch). `harness demo` then evaluates both against the base on the held-out
`smoke` suite.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from fine_tune.config import FinetuneRequest
from fine_tune.progress import ProgressBoard, QueuedProgress
from fine_tune.sft import FinetuneResult, find_finished, has_checkpoint, run_finetune
from fine_tune.synthetic import SyntheticData, write_arith_data
from harness.errors import HarnessError
from harness.parallel import usable_cpus

# The published recipes assume a 7B model, 52k examples and 8 GPUs; a tiny random-init model learns
# two-digit addition with a 150x larger learning rate and about a thousand steps. How far each variant gets
# on the held-out sums in those steps varies with the seed (fine_tune/README.md has the spread over seeds;
# 1600 Alpaca steps on the same schedule were not better: exact match 0.14 and 0.235 on two seeds).
DEMO_OVERRIDES: dict[str, Any] = {
    "learning_rate": 3e-3, "global_batch_size": 64, "per_device_batch_size": 64, "warmup": 0.05,
    "max_length": 128, "logging_steps": 10, "save_steps": 500, "save_total_limit": 1, "gradient_checkpointing": False,
    "shared_prefix": True,
}
DEMO_RECIPE_OVERRIDES: dict[str, dict[str, Any]] = {"alpaca": {"max_steps": 1000}, "vicuna": {"max_steps": 1000}}
RECIPE_SEED = 42  # the recipes' own seed: `--seed 0` trains exactly what the demo trained before it had --seed


@dataclass(frozen=True)
class DemoVariants:
    """The two fine-tuned variants of the demo's base and the data they were trained on."""

    base: Path
    data: SyntheticData
    alpaca: FinetuneResult
    vicuna: FinetuneResult


def build_demo_variants(base: str | Path, out_dir: str | Path, store_url: str | None = None,
                        overrides: Mapping[str, Any] | None = None, seed: int = 0,
                        side_by_side: bool = True) -> DemoVariants:
    """Fine-tune `base` into `out_dir/alpaca` (Alpaca rows) and `out_dir/vicuna` (ShareGPT conversations).

    Both are registered in the store; a second call with the same inputs finds them and trains nothing, and one
    after an interruption continues each unfinished fine-tune from its last checkpoint. The two
    fine-tunes run side by side in two processes, each on half the cores (`side_by_side=False`: one after the
    other in this process): a model this small keeps one core busy far better than two.

    Args:
        base: a model directory, e.g. from `harness tiny-model` (hidden 128, 4 layers).
        out_dir: where `data/`, `alpaca/` and `vicuna/` are written.
        store_url: the results store (None: HARNESS_STORE or the default file).
        overrides: recipe keys to change on top of `DEMO_OVERRIDES` (e.g. {"max_steps": 1000}).
        seed: added to the recipes' seed (data order); `harness demo --seed` also seeds the base with it.
    """
    out = Path(out_dir)
    data = write_arith_data(out / "data")
    requests = {
        recipe: FinetuneRequest(recipe=recipe, base=str(base), data=str(path), out=str(out / recipe),
                                overrides={**DEMO_OVERRIDES, **DEMO_RECIPE_OVERRIDES[recipe], "seed": RECIPE_SEED + seed,
                                           **(overrides or {})},
                                name=f"tiny-{recipe}")
        for recipe, path in (("alpaca", data.alpaca), ("vicuna", data.sharegpt))
    }
    results: dict[str, FinetuneResult] = {}
    for recipe, request in requests.items():
        if (found := find_finished(request, store_url)) is not None:
            results[recipe] = found
    # an interrupted fine-tune continues from its last checkpoint (its identity is checked against the run's)
    todo = {recipe: request.model_copy(update={"resume": has_checkpoint(request.out)})
            for recipe, request in requests.items() if recipe not in results}
    if side_by_side and len(todo) > 1:
        results.update(train_side_by_side(todo, store_url))
    else:
        results.update({recipe: run_finetune(request, store_url) for recipe, request in todo.items()})
    return DemoVariants(Path(base), data, results["alpaca"], results["vicuna"])


def train_side_by_side(requests: Mapping[str, FinetuneRequest], store_url: str | None) -> dict[str, FinetuneResult]:
    """Run each fine-tune in its own process (spawned: no forked torch threads), the cores shared out evenly,
    their bars drawn here. A fine-tune's error is raised here; a process that dies is reported by its name."""
    context = multiprocessing.get_context("spawn")
    events, done, running = context.Queue(), context.Queue(), context.Value("i", len(requests))
    cores = usable_cpus()
    threads = max(1, cores // len(requests))
    workers = {key: context.Process(target=_train_one, name=f"fine-tune {request.name}",
                                    args=(key, request, store_url, (threads, cores, running), events, done))
               for key, request in requests.items()}
    board = ProgressBoard(events)
    results: dict[str, FinetuneResult] = {}
    try:
        for worker in workers.values():
            worker.start()
        while len(results) < len(workers):
            try:
                key, outcome = done.get(timeout=1.0)
            except queue.Empty:
                for key, worker in workers.items():
                    if key not in results and worker.exitcode not in (None, 0):
                        raise HarnessError(f"{worker.name} stopped without a result (exit code {worker.exitcode})",
                                           hint="rerun the demo: it resumes from the last checkpoint") from None
                continue
            if isinstance(outcome, tuple):  # (message, hint) of the HarnessError it raised
                raise HarnessError(*outcome)
            results[key] = outcome
    finally:
        board.close()
        for worker in workers.values():
            if worker.is_alive() and len(results) < len(workers):
                worker.terminate()
            worker.join()
    return results


def _train_one(key: str, request: FinetuneRequest, store_url: str | None, share: tuple[int, int, Any], events: Any,
               done: Any) -> None:
    """One side-by-side fine-tune (in its own process) on `threads` of the `cores` until it is the last of the
    `running` ones: its result, or its error's message and hint, to `done`."""
    import torch

    threads, cores, running = share
    torch.set_num_threads(threads)
    try:
        done.put((key, run_finetune(request, store_url, callbacks=[FreedCores(running, cores)],
                                    progress=QueuedProgress(request.name or key, events))))
    except HarnessError as exc:
        done.put((key, (exc.message, exc.hint)))
    finally:
        with running.get_lock():
            running.value -= 1


class FreedCores(TrainerCallback):  # type: ignore[misc]
    """Once the other side-by-side fine-tunes have finished (`running` down to 1), train on every core: the
    weights are the same bit for bit (one and two threads gave byte-identical weights after 30 Vicuna steps)."""

    def __init__(self, running: Any, cores: int) -> None:
        self.running, self.cores, self.widened = running, cores, False

    def on_step_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if not self.widened and self.running.value <= 1:
            import torch

            torch.set_num_threads(self.cores)
            self.widened = True
