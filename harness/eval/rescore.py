"""`harness rescore RUN`: recompute a run's metrics from its stored samples, without the model.

Each stored sample keeps what lm-eval logged (the document and the filtered responses); the task's own
`process_results` turns them into per-sample metrics again and the task's `aggregation` into scores, exactly as
`lm_eval.evaluator.evaluate` does after the model has answered. A changed metric or filter shows at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.eval.suites import task_manager
from harness.records import SampleRecord
from harness.store import Store
from harness.store.runs import get_run, read_task_result


@dataclass(frozen=True)
class Rescored:
    """One score of a run: as stored and as recomputed from its samples."""

    task: str
    metric: str
    filter: str
    stored: float | None
    recomputed: float
    n: int

    @property
    def equal(self) -> bool:
        return self.stored is not None and abs(self.stored - self.recomputed) <= 1e-9


def _task_scores(task: Any, name: str, samples: list[SampleRecord]) -> dict[tuple[str, str], tuple[float, int]]:
    """(metric, filter) -> (aggregate, n) for one lm-eval task's samples."""
    per_filter: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        if sample.log is None:
            raise HarnessError(f"{name} doc {sample.doc_id} has no stored lm-eval log (stored before 007_sample_logs)",
                               hint="re-run the evaluation with --force")
        metrics = task.process_results(sample.log["doc"], sample.log["filtered_resps"])
        for metric, value in metrics.items():
            per_filter[sample.filter][metric].append(value)
    aggregations = task.aggregation()
    return {(metric, filt): (float(aggregations[metric](values)), len(values))
            for filt, by_metric in per_filter.items() for metric, values in by_metric.items()}


def rescore_run(store: Store, run_id: str) -> list[Rescored]:
    """Every (task, metric, filter) of `run_id` recomputed from its samples, beside the stored value.

    Raises:
        HarnessError: no such run, samples without logs, or a task lm-eval cannot load here.
    """
    run = get_run(store, run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="list runs with `harness runs list`")
    stored = {(s["task"], s["metric"], s["filter"]): s["value"] for s in run["scores"]}
    samples: dict[str, list[SampleRecord]] = defaultdict(list)
    for row in run["task_results"]:
        for sample in read_task_result(store, run_id, row["task"]).samples:
            samples[sample.task].append(sample)
    if not samples:
        return []
    names = sorted(samples)
    manager = task_manager(names)
    try:
        loaded = manager.load(names)["tasks"]
    except Exception as exc:  # a hub dataset that cannot be fetched, a broken YAML
        raise HarnessError(f"cannot load tasks {', '.join(names)}: {exc}", hint="check the task and network") from exc
    out = []
    for name in names:
        for (metric, filt), (value, n) in sorted(_task_scores(loaded[name], name, samples[name]).items()):
            out.append(Rescored(name, metric, filt, stored.get((name, metric, filt)), value, n))
    return out


def choices_per_task(samples: list[SampleRecord]) -> dict[str, float]:
    """task -> mean number of answer choices, for the multiple-choice tasks among the samples (from their logs)."""
    counts: dict[str, list[int]] = defaultdict(list)
    for s in samples:
        resps = (s.log or {}).get("filtered_resps") or []
        if resps and isinstance(resps[0], list) and len(resps[0]) == 2 and isinstance(resps[0][1], bool):
            counts[s.task].append(len(resps))
    return {task: sum(n) / len(n) for task, n in counts.items()}


def open_llm_v2_for_run(store: Store, run_id: str) -> dict[str, Any]:
    """The Open LLM Leaderboard v2 normalised benchmarks and average of a run (`open_llm_v2` suite)."""
    from harness.eval.open_llm_v2 import open_llm_v2_scores
    from harness.records import Score

    run = get_run(store, run_id)
    if run is None:
        raise HarnessError(f"no run {run_id!r} in the store", hint="list runs with `harness runs list`")
    samples = [s for row in run["task_results"] for s in read_task_result(store, run_id, row["task"]).samples]
    result = open_llm_v2_scores([Score(**s) for s in run["scores"]], choices_per_task(samples))
    return {"benchmarks": result.benchmarks, "average": result.average}
