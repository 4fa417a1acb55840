"""`harness gate`: decide whether a candidate run is significantly worse than a baseline run.

Both runs' per-sample records are joined on the document (lm-eval's doc hash) and compared with a paired
test per task (exact McNemar for 0/1 metrics, paired bootstrap for continuous ones), Holm-corrected across
tasks and arena checks. A check fails only when its drop is significant AND larger than `max_drop`.
Arena battles between the two models add a win-rate and a Bradley-Terry check to the same family
(`harness.gate.arena`). Rendering of the report (text, Markdown, JUnit) lives in `harness.gate.report`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import HarnessError
from harness.gate import stats
from harness.records import RunTask, SampleRecord, Score
from harness.store import Store, open_store
from harness.store.baselines import RunRef, resolve_ref, run_tasks
from harness.store.runs import read_task_result

log = logging.getLogger(__name__)
Direction = Literal["higher", "lower"]


class MetricPolicy(BaseModel):
    """The `--metric-direction-file` YAML: metric directions and, optionally, each task's primary metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directions: dict[str, Direction] = {}
    """Metric name → `higher` or `lower` is better; overrides lm-eval's higher_is_better."""
    primary: dict[str, str] = {}
    """Task name → the metric to gate on (`metric` or `metric,filter`); default: the task's first metric."""


class GateConfig(BaseModel):
    """Everything `harness gate` needs; the CLI builds one from its flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate: str
    """Run id, model name (its newest finished run with the tasks) or pinned baseline name."""
    baseline: str
    """Same forms as `candidate`; usually a pinned name such as `main`."""
    suite: str | None = None
    """Gate on this suite's tasks (exclusive with `tasks`); default: every task of the baseline run."""
    tasks: list[str] = []
    """Gate on these tasks (exclusive with `suite`)."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Family-wise significance level (Holm across all checks)."""
    max_drop: float = Field(default=0.0, ge=0)
    """Tolerated absolute drop in the metric's units (0.02 = two accuracy points); also the win-rate drop."""
    max_rating_drop: float = Field(default=0.0, ge=0)
    """Tolerated drop of the arena Bradley-Terry rating, in rating points."""
    power: float = Field(default=0.8, gt=0, lt=1)
    """Power at which the minimum detectable effect is reported."""
    metric_direction_file: Path | None = None
    """YAML read into `MetricPolicy`."""
    continuous_test: Literal["bootstrap", "t"] = "bootstrap"
    """Paired test for continuous metrics: paired bootstrap (default) or paired t-test."""
    n_bootstrap: int = Field(default=10_000, ge=100)
    """Bootstrap replicates for continuous metrics and arena checks."""
    seed: int = 0
    """Seed of every bootstrap."""
    arena: bool = True
    """Also gate on arena battles when the store has some between the two models."""


@dataclass(frozen=True)
class Check:
    """One gated comparison (a task, or an arena statistic) after Holm's correction."""

    name: str
    kind: str  # task | arena
    metric: str
    filter: str
    direction: Direction
    test: stats.PairedTest
    drop: float  # how much worse the candidate is, in the metric's units (negative: better)
    tolerance: float
    p_holm: float
    mde: float | None
    failed: bool
    reason: str


@dataclass(frozen=True)
class GateReport:
    """The gate's decision: every check, the resolved runs and notes on what was compared."""

    candidate: RunRef
    baseline: RunRef
    alpha: float
    max_drop: float
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    power: float = 0.8  # at which each check's minimum detectable effect is computed

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def reason(self) -> str:
        """One line saying why the gate passed or failed."""
        if self.failed:
            return "FAIL: " + "; ".join(f"{c.name}: {c.reason}" for c in self.failed)
        return (f"PASS: no significant drop beyond {self.max_drop:g} on {len(self.checks)} check(s) "
                f"(alpha {self.alpha:g}, Holm-corrected)")

    def to_json(self) -> dict[str, Any]:
        """The `--json` document; non-finite numbers (an interval that could not be computed) become null."""
        checks = []
        for c in self.checks:
            t = c.test
            checks.append({
                "name": c.name, "kind": c.kind, "metric": c.metric, "filter": c.filter,
                "direction": c.direction,
                "method": t.method, "n": t.n, "baseline": t.baseline_mean, "candidate": t.candidate_mean,
                "effect": t.effect, "ci": [_finite(t.ci_low), _finite(t.ci_high)], "p_value": t.p_value,
                "p_holm": c.p_holm, "drop": c.drop, "tolerance": c.tolerance, "mde": _finite(c.mde),
                "counts": t.counts,
                "status": "fail" if c.failed else "pass", "reason": c.reason,
            })
        return {
            "verdict": "fail" if self.failed else "pass", "exit_code": self.exit_code, "reason": self.reason,
            "candidate": asdict(self.candidate), "baseline": asdict(self.baseline),
            "alpha": self.alpha, "max_drop": self.max_drop, "power": self.power, "checks": checks,
            "notes": self.notes,
        }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Pending:
    """A paired test before the multiple-testing correction."""

    name: str
    kind: str
    metric: str
    filter: str
    direction: Direction
    test: stats.PairedTest
    tolerance: float
    spread: float | None  # discordance rate (binary) or sd of the differences, for the MDE; None: no MDE
    binary: bool = False


def load_metric_policy(path: Path | None) -> MetricPolicy:
    """Read the `--metric-direction-file` YAML (empty policy when None)."""
    import yaml
    from pydantic import ValidationError

    if path is None:
        return MetricPolicy()
    try:
        return MetricPolicy.model_validate(yaml.safe_load(Path(path).read_text()) or {})
    except OSError as exc:
        raise HarnessError(f"cannot read metric direction file {path}: {exc.strerror}") from exc
    except (ValidationError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise HarnessError(
            f"metric direction file {path} is invalid: {first}",
            hint="expected keys: directions: {metric: higher|lower}, primary: {task: metric}",
        ) from exc


def requested_tasks(config: GateConfig) -> list[str]:
    """The tasks named by `--suite`/`--tasks`, or [] for "every task of the baseline run"."""
    from harness.eval.suites import load_suite

    if config.suite and config.tasks:
        raise HarnessError("give at most one of --suite and --tasks")
    if config.suite:
        return [t.task for t in load_suite(config.suite).tasks]
    return list(dict.fromkeys(config.tasks))


def check_task_configs(tasks: list[str], base: dict[str, RunTask], cand: dict[str, RunTask],
                       refs: tuple[RunRef, RunRef]) -> None:
    """Refuse (exit 2) when a side lacks a task or ran it with another config or few-shot count."""
    for side, have, ref in (("baseline", base, refs[0]), ("candidate", cand, refs[1])):
        missing = [t for t in tasks if t not in have]
        if missing:
            raise HarnessError(
                f"{side} run {ref.run_id} ({ref.model}) has no results for {', '.join(missing)}",
                hint=f"evaluate {ref.model} on those tasks, or narrow --tasks",
            )
    for t in tasks:
        if base[t].task_hash != cand[t].task_hash:
            raise HarnessError(
                f"task {t} ran with different configs (task hash {base[t].task_hash[:12]} in the baseline, "
                f"{cand[t].task_hash[:12]} in the candidate): prompts, targets or metrics differ, so the "
                "per-sample results are not comparable",
                hint="re-evaluate both models with the same harness tasks",
            )
        if base[t].num_fewshot != cand[t].num_fewshot:
            raise HarnessError(
                f"task {t} ran {base[t].num_fewshot}-shot in the baseline and "
                f"{cand[t].num_fewshot}-shot in the candidate",
                hint="re-evaluate with one --num-fewshot",
            )


def choose_metric(task: str, scores: list[Score], samples: list[SampleRecord],
                  policy: MetricPolicy) -> tuple[str, str, Direction]:
    """The task's primary (metric, filter) and direction: the policy's pick, else its first scored metric."""
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
        return metric, filt, policy.directions[metric]
    if higher is None:
        raise HarnessError(f"direction of metric {metric!r} (task {task}) is unknown",
                           hint=f"add `directions: {{{metric}: higher}}` to a --metric-direction-file")
    return metric, filt, "higher" if higher else "lower"


def _keyed(samples: list[SampleRecord], filt: str, metric: str,
           by_hash: bool) -> dict[tuple[Any, ...], float]:
    """Metric values keyed by (task, doc hash or id, copy number) for one filter."""
    seen: Counter[tuple[Any, ...]] = Counter()
    keyed = {}
    wanted = (s for s in samples if s.filter == filt and metric in s.metrics)
    for s in sorted(wanted, key=lambda s: (s.task, s.doc_id)):
        doc = (s.task, s.doc_hash if by_hash else s.doc_id)
        keyed[(*doc, seen[doc])] = s.metrics[metric]  # the k-th copy of a duplicated document
        seen[doc] += 1
    return keyed


def join_samples(base: list[SampleRecord], cand: list[SampleRecord], metric: str,
                 filt: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Metric values of the documents both sides have, paired on (task, filter, doc hash); plus notes."""
    notes = []
    by_hash = all(s.doc_hash for s in base + cand)
    if not by_hash:
        notes.append(f"{metric}: some records lack lm-eval's doc hash; paired on doc_id instead")
    left, right = _keyed(base, filt, metric, by_hash), _keyed(cand, filt, metric, by_hash)
    common = [k for k in left if k in right]
    if len(common) < max(len(left), len(right)):
        notes.append(f"compared on the {len(common)} documents both runs have "
                     f"(baseline {len(left)}, candidate {len(right)})")
    return (np.array([left[k] for k in common], dtype=float),
            np.array([right[k] for k in common], dtype=float), notes)


def compare(base: np.ndarray, cand: np.ndarray, config: GateConfig) -> stats.PairedTest:
    """Exact McNemar for 0/1 values, else the configured continuous paired test."""
    if stats.is_binary(base, cand):
        return stats.mcnemar_exact(base, cand, config.alpha)
    if config.continuous_test == "t":
        return stats.paired_t(base, cand, config.alpha)
    return stats.paired_bootstrap(base, cand, config.alpha, config.n_bootstrap, config.seed)


def task_check(store: Store, task: str, refs: tuple[RunRef, RunRef],
               config: GateConfig, policy: MetricPolicy) -> tuple[Pending, list[str]]:
    """Load one task (a group with its subtasks) of both runs, join the documents and run the paired test."""
    stored = read_task_result(store, refs[0].run_id, task)
    base_scores, base_samples = stored.scores, stored.samples
    cand_samples = read_task_result(store, refs[1].run_id, task).samples
    metric, filt, direction = choose_metric(task, base_scores, base_samples, policy)
    base, cand, notes = join_samples(base_samples, cand_samples, metric, filt)
    if base.size == 0:
        raise HarnessError(f"task {task}: the runs share no documents with metric {metric} ({filt})",
                           hint="were they evaluated on the same data?")
    test = compare(base, cand, config)
    binary = test.method == "mcnemar-exact"
    sd = (test.counts["losses"] + test.counts["wins"]) / test.n if binary else test.sd_diff
    return Pending(task, "task", metric, filt, direction, test, config.max_drop, sd, binary), [
        f"{task}: {n}" for n in notes]


def decide(pending: list[Pending], config: GateConfig) -> list[Check]:
    """Holm across every check; a check fails when significant AND its drop exceeds its tolerance."""
    adjusted = stats.holm([p.test.p_value for p in pending])
    per_test_alpha = config.alpha / max(len(pending), 1)  # Holm's strictest step, for the MDE
    checks = []
    for p, p_holm in zip(pending, adjusted):
        drop = (-p.test.effect if p.direction == "higher" else p.test.effect) + 0.0  # no -0.0
        mde = None
        if p.spread is not None:
            mde = (stats.mcnemar_mde(p.test.n, p.spread, per_test_alpha, config.power) if p.binary else
                   stats.minimum_detectable_effect(p.test.n, p.spread, per_test_alpha, config.power))
        significant = p_holm < config.alpha
        failed = significant and drop > p.tolerance
        if failed:
            reason = (f"{p.metric} dropped {drop:.4g} (p_holm {p_holm:.2g} < {config.alpha:g}, "
                      f"above tolerance {p.tolerance:g})")
        elif significant and drop > 0:
            reason = f"significant drop {drop:.4g} within tolerance {p.tolerance:g}"
        elif significant:
            reason = f"significantly better by {-drop:.4g}"
        else:
            reason = f"no significant change (p_holm {p_holm:.2g})"
        checks.append(Check(p.name, p.kind, p.metric, p.filter, p.direction, p.test, drop, p.tolerance,
                            p_holm, mde, failed, reason))
    return checks


def run_gate(config: GateConfig, store_url: str | None = None) -> GateReport:
    """Resolve both refs, test every task (and arena data), and decide.

    Raises:
        HarnessError: the gate cannot decide (unknown refs, missing tasks, mismatched configs); exit 2.
    """
    policy = load_metric_policy(config.metric_direction_file)
    tasks = requested_tasks(config)
    store = open_store(store_url, readonly=True)
    baseline = resolve_ref(store, config.baseline, tasks)
    base_tasks = run_tasks(store, baseline.run_id)
    tasks = tasks or list(base_tasks)
    candidate = resolve_ref(store, config.candidate, tasks)
    cand_tasks = run_tasks(store, candidate.run_id)
    check_task_configs(tasks, base_tasks, cand_tasks, (baseline, candidate))
    if not tasks:
        raise HarnessError(f"baseline run {baseline.run_id} has no task results",
                           hint="pick another baseline")
    pending, notes = [], []
    if candidate.run_id == baseline.run_id:
        notes.append(f"candidate and baseline are the same run ({candidate.run_id})")
    if candidate.chat_template != baseline.chat_template:
        notes.append(f"prompts differ: chat template {baseline.chat_template or 'none'} in the baseline, "
                     f"{candidate.chat_template or 'none'} in the candidate")
    for task in tasks:
        check, task_notes = task_check(store, task, (baseline, candidate), config, policy)
        pending.append(check)
        notes += task_notes
    if config.arena:
        from harness.gate.arena import arena_checks

        arena_pending, arena_notes = arena_checks(store, candidate.model, baseline.model, config)
        pending += arena_pending
        notes += arena_notes
    checks = decide(pending, config)
    log.info("gated %s against %s on %d check(s): %d failed", candidate.run_id, baseline.run_id,
             len(checks), sum(c.failed for c in checks))
    return GateReport(candidate, baseline, config.alpha, config.max_drop, checks, notes, config.power)
