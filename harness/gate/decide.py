"""`harness gate`: decide whether a candidate run is significantly worse than a baseline run.

Each task of both runs is compared with `harness.gate.paired` (the Compare page's comparison too): samples
paired on lm-eval's doc hash, exact McNemar for 0/1 metrics, a paired bootstrap or t-test otherwise. Checks
are Holm-corrected across tasks and arena checks (`harness.gate.arena`); one fails only when its drop is
significant AND larger than its tolerance. Rendering lives in `harness.gate.report`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from harness.errors import HarnessError
from harness.gate import stats
from harness.gate.arena import arena_checks
from harness.gate.checks import Check, GateConfig, GateReport, Pending, RunRef
from harness.gate.paired import MetricPolicy, compare_task, config_mismatch
from harness.gate.refs import resolve_ref
from harness.records import RunTask
from harness.store import open_store
from harness.store.baselines import run_tasks
from harness.store.battles import read_battles
from harness.store.engine import Store
from harness.store.runs import read_task_result

log = logging.getLogger(__name__)


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
        mismatch = config_mismatch(t, base[t], cand[t])
        if mismatch is not None:
            raise mismatch


def task_check(store: Store, task: str, refs: tuple[RunRef, RunRef],
               config: GateConfig, policy: MetricPolicy) -> tuple[Pending, list[str]]:
    """Load one task (a group with its subtasks) of both runs and compare them (`paired.compare_task`)."""
    base = read_task_result(store, refs[0].run_id, task)
    cand = read_task_result(store, refs[1].run_id, task)
    compared = compare_task(base, cand, policy, config.paired())
    test, choice = compared.test, compared.choice
    binary = test.method == "mcnemar-exact"
    sd = (test.counts["losses"] + test.counts["wins"]) / test.n if binary else test.sd_diff
    pending = Pending(task, "task", choice.metric, choice.filter, choice.direction, test, config.max_drop, sd,
                      binary)
    return pending, [f"{task}: {n}" for n in compared.alignment.notes]


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
    if config.with_arena:
        from harness.arena.sources import battle_source
        from harness.arena.tables import stored_table

        judges = config.judges or None
        table = stored_table(store, judges=judges)  # of one source unless several are named
        direct = [b for b in read_battles(store, pair=(candidate.model, baseline.model))
                  if judges is None or battle_source(b) in judges]
        arena_pending, arena_notes = arena_checks(table, direct, candidate.model, baseline.model, config)
        pending += arena_pending
        notes += arena_notes
    checks = decide(pending, config)
    log.info("gated %s against %s on %d check(s): %d failed", candidate.run_id, baseline.run_id,
             len(checks), sum(c.failed for c in checks))
    return GateReport(candidate, baseline, config.alpha, config.max_drop, checks, notes, config.power)
