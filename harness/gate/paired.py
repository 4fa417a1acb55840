"""One paired comparison of two runs of a task, shared by `harness gate` and the leaderboard's Compare page.

`compare_task` picks the task's metric (`choose_metric`), pairs both runs' samples document by document
(`align`) and runs one paired test (`paired_test`); callers Holm-correct a family with `stats.holm`.
Pure: records in, `stats.PairedTest` out; no store, no SQLAlchemy, torch or lm_eval.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from harness.errors import HarnessError
from harness.gate import stats
from harness.records import SampleRecord, Score, TaskResult

Direction = Literal["higher", "lower"]
ALPHA = 0.05
N_BOOTSTRAP = 10_000
SEED = 0


class MetricPolicy(BaseModel):
    """The `--metric-direction-file` YAML: metric directions and, optionally, each task's primary metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directions: dict[str, Direction] = {}
    """Metric name → `higher` or `lower` is better; overrides lm-eval's higher_is_better."""
    primary: dict[str, str] = {}
    """Task name → the metric to gate on (`metric` or `metric,filter`); default: the task's first metric."""


@dataclass(frozen=True, kw_only=True)
class PairedSettings:
    """How a paired test is run; the gate's flags set these, the Compare page uses the defaults."""

    alpha: float = ALPHA
    continuous_test: Literal["bootstrap", "t"] = "bootstrap"
    n_bootstrap: int = N_BOOTSTRAP
    seed: int = SEED


class MetricChoice(NamedTuple):
    """The (metric, filter) a task is compared on and which way is better."""

    metric: str
    filter: str
    direction: Direction


class DocKey(NamedTuple):
    """A document's place in the pairing: its (sub)task, lm-eval doc hash (or doc_id) and copy number."""

    task: str
    doc: str | int
    copy: int  # the k-th record of this document, in doc_id order (a dataset may hold a document twice)


@dataclass(frozen=True, kw_only=True)
class Alignment:
    """Both runs' records of one metric, paired document by document (`baseline[i]` with `candidate[i]`)."""

    metric: str
    filter: str
    keys: tuple[DocKey, ...]
    baseline: tuple[SampleRecord, ...]
    candidate: tuple[SampleRecord, ...]
    n_baseline: int  # records with the metric on each side, paired or not
    n_candidate: int
    by_hash: bool  # False: some record lacked lm-eval's doc hash, so documents were paired on doc_id
    non_finite: int = 0  # pairs left out because a side's value was NaN or infinite

    def values(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The paired metric values, baseline then candidate."""
        return (np.array([s.metrics[self.metric] for s in self.baseline], dtype=np.float64),
                np.array([s.metrics[self.metric] for s in self.candidate], dtype=np.float64))

    @property
    def notes(self) -> list[str]:
        """What the reader should know about the pairing."""
        notes = []
        if not self.by_hash:
            notes.append(f"{self.metric}: some records lack lm-eval's doc hash; paired on doc_id instead")
        if len(self.keys) + self.non_finite < max(self.n_baseline, self.n_candidate):
            notes.append(f"compared on the {len(self.keys) + self.non_finite} documents both runs have "
                         f"(baseline {self.n_baseline}, candidate {self.n_candidate})")
        if self.non_finite:
            notes.append(f"left out {self.non_finite} document(s) whose {self.metric} is NaN or infinite")
        return notes


@dataclass(frozen=True, kw_only=True)
class TaskComparison:
    """One task of two runs: the metric it is compared on, the paired documents and the paired test."""

    task: str
    choice: MetricChoice
    alignment: Alignment
    test: stats.PairedTest


class TaskConfig(Protocol):
    """What decides whether two runs of a task are comparable (`RunTask` and `TaskResult` both have it)."""

    @property
    def task_hash(self) -> str: ...

    @property
    def num_fewshot(self) -> int | None: ...


def keyed(samples: Sequence[SampleRecord], filt: str, metric: str, by_hash: bool) -> dict[DocKey, SampleRecord]:
    """The records of one filter that have `metric`, keyed by (task, doc hash or doc_id, copy number)."""
    seen: Counter[tuple[str, str | int]] = Counter()
    out = {}
    wanted = (s for s in samples if s.filter == filt and metric in s.metrics)
    for s in sorted(wanted, key=lambda s: (s.task, s.doc_id)):  # stable: copies keep their stored order
        doc = (s.task, s.doc_hash if by_hash and s.doc_hash else s.doc_id)
        out[DocKey(*doc, seen[doc])] = s
        seen[doc] += 1
    return out


def align(baseline: Sequence[SampleRecord], candidate: Sequence[SampleRecord], metric: str,
          filt: str) -> Alignment:
    """Pair the documents both runs have on (task, lm-eval doc hash, copy number), in the baseline's order.

    The doc hash is a digest of the document itself, so a document pairs with itself even when a dataset
    revision or another `--limit` moved its doc_id, and a changed document pairs with nothing. The copy
    number pairs the k-th record of a document held twice with the other run's k-th, instead of letting one
    overwrite the other. Records lacking the hash (old lm-eval logs) fall back to doc_id, with a note.
    """
    by_hash = all(s.doc_hash for s in (*baseline, *candidate))
    left, right = keyed(baseline, filt, metric, by_hash), keyed(candidate, filt, metric, by_hash)
    common = [k for k in left if k in right]
    finite = [k for k in common if math.isfinite(left[k].metrics[metric])
              and math.isfinite(right[k].metrics[metric])]
    return Alignment(metric=metric, filter=filt, keys=tuple(finite), baseline=tuple(left[k] for k in finite),
                     candidate=tuple(right[k] for k in finite), n_baseline=len(left), n_candidate=len(right),
                     by_hash=by_hash, non_finite=len(common) - len(finite))


def paired_test(baseline: NDArray[np.float64], candidate: NDArray[np.float64],
                settings: PairedSettings) -> stats.PairedTest:
    """Exact McNemar for 0/1 values, else the configured continuous test; effects are candidate − baseline."""
    if stats.is_binary(baseline, candidate):
        return stats.mcnemar_exact(baseline, candidate, settings.alpha)
    if settings.continuous_test == "t":
        return stats.paired_t(baseline, candidate, settings.alpha)
    return stats.paired_bootstrap(baseline, candidate, settings.alpha, settings.n_bootstrap, settings.seed)


def choose_metric(task: str, scores: list[Score], samples: list[SampleRecord], policy: MetricPolicy) -> MetricChoice:
    """The task's primary (metric, filter) and direction: the policy's pick, else its first scored metric.

    Raises:
        HarnessError: the policy names a metric the samples lack, or the direction is unknown.
    """
    sampled = {(s.filter, m) for s in samples for m in s.metrics}
    subtasks = {s.task for s in samples}  # a group's samples carry its subtasks' names
    usable = [s for s in scores if s.value is not None and (s.filter, s.metric) in sampled]
    candidates = [(s.metric, s.filter, s.higher_is_better) for s in usable if s.task == task]
    candidates += [(s.metric, s.filter, s.higher_is_better) for s in usable if s.task in subtasks - {task}]
    candidates += [(m, f, None) for f, m in sorted(sampled)]
    if task in policy.primary:
        metric, _, filt = policy.primary[task].partition(",")
        candidates = [c for c in candidates if c[0] == metric and (not filt or c[1] == filt)]
        if not candidates:
            raise HarnessError(f"task {task} has no per-sample metric {policy.primary[task]!r}",
                               hint=f"its metrics: {', '.join(sorted({m for _, m in sampled}))}")
    if not candidates:
        raise HarnessError(f"task {task} has no per-sample metrics in the baseline run",
                           hint="re-run harness eval")
    metric, filt, higher = candidates[0]
    if metric in policy.directions:
        return MetricChoice(metric, filt, policy.directions[metric])
    if higher is None:
        raise HarnessError(f"direction of metric {metric!r} (task {task}) is unknown",
                           hint=f"add `directions: {{{metric}: higher}}` to a --metric-direction-file")
    return MetricChoice(metric, filt, "higher" if higher else "lower")


def config_mismatch(task: str, baseline: TaskConfig, candidate: TaskConfig) -> HarnessError | None:
    """Why two runs of `task` are not comparable (another task config or few-shot count), or None."""
    if baseline.task_hash != candidate.task_hash:
        return HarnessError(
            f"task {task} ran with different configs (task hash {baseline.task_hash[:12]} in the baseline, "
            f"{candidate.task_hash[:12]} in the candidate): prompts, targets or metrics differ, so the "
            "per-sample results are not comparable",
            hint="re-evaluate both models with the same harness tasks",
        )
    if baseline.num_fewshot != candidate.num_fewshot:
        return HarnessError(
            f"task {task} ran {baseline.num_fewshot}-shot in the baseline and "
            f"{candidate.num_fewshot}-shot in the candidate",
            hint="re-evaluate with one --num-fewshot",
        )
    return None


def compare_task(baseline: TaskResult, candidate: TaskResult, policy: MetricPolicy,
                 settings: PairedSettings) -> TaskComparison:
    """Choose the metric on the baseline's scores, pair the documents and test candidate − baseline.

    Raises:
        HarnessError: the metric cannot be chosen, or the runs share no document with a value for it.
    """
    task = baseline.task
    choice = choose_metric(task, baseline.scores, baseline.samples, policy)
    alignment = align(baseline.samples, candidate.samples, choice.metric, choice.filter)
    if not alignment.keys:
        raise HarnessError(f"task {task}: the runs share no documents with metric {choice.metric} "
                           f"({choice.filter})", hint="were they evaluated on the same data?")
    test = paired_test(*alignment.values(), settings)
    return TaskComparison(task=task, choice=choice, alignment=alignment, test=test)
