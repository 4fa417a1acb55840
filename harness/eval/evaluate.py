"""`harness eval`: run lm-eval tasks on a model and keep scores and per-sample records in the store.

Each task is looked up by its eval key (`eval.plan`) before anything loads; only missing tasks run, one
`lm_eval.simple_evaluate` call each, on one LM loaded once. Each task is claimed in the store (a lease) before it
is computed and committed on its own when done, so several processes on one store never compute the same task
twice (the second waits and takes the first's result) and a killed run keeps its finished tasks.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import config_hash
from harness.console import progress
from harness.errors import HarnessError, RunFailed
from harness.eval.backends import (
    ResolvedModel,
    check_backend,
    check_checkpoint,
    check_files,
    load_lm,
    resolve_model,
    score_after_delimiter,
    with_stored_model,
)
from harness.eval.config import EvalConfig
from harness.eval.plan import PlannedTask, chat_template_for, evaluate_options, plan_tasks, spec_keys
from harness.eval.ranks import is_main_rank
from harness.eval.results import parse_samples, parse_scores
from harness.eval.suites import resolve_tasks
from harness.eval.templates import ChatTemplate
from harness.quiet import library_bars_off
from harness.records import Score, TaskResult
from harness.store import Store, check_store_url, open_store, store_exists
from harness.store.leases import Heartbeat, claim, held, release, run_key
from harness.store.models import model_name, upsert_model
from harness.store.runs import (
    create_run,
    find_task_results,
    finish_run,
    new_run_id,
    read_task_result,
    read_task_scores,
    write_task_result,
)

log = logging.getLogger(__name__)
POLL_S = 1.0  # how often a task another process is computing is looked for again


@dataclass(frozen=True)
class EvalOutcome:
    """What `harness eval` reports: the run, the model and its scores."""

    run_id: str
    model_name: str
    fingerprint: str
    cached: bool
    scores: list[Score]
    cached_tasks: list[str]
    written: bool = True  # False on the ranks of a distributed launch that leave the writing to rank 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": {"name": self.model_name, "fingerprint": self.fingerprint},
            "cached": self.cached,
            "cached_tasks": self.cached_tasks,
            "scores": [
                {k: v for k, v in asdict(s).items() if k != "higher_is_better"} for s in self.scores
            ],
        }


def simple_evaluate(lm: Any, planned: PlannedTask, config: EvalConfig,
                    template: ChatTemplate | None) -> dict[str, Any] | None:
    """One `lm_eval.simple_evaluate` call on one task (or group); None on every rank of a launch but 0."""
    import lm_eval

    results: dict[str, Any] | None = lm_eval.simple_evaluate(
        model=lm,
        tasks=list(planned.loaded["groups"].values()) or list(planned.loaded["tasks"].values()),
        num_fewshot=planned.entry.num_fewshot,
        limit=config.limit,
        log_samples=True,
        task_manager=planned.manager,
        **evaluate_options(config, template),
    )
    return results


def evaluate_task(lm: Any, planned: PlannedTask, config: EvalConfig, template: ChatTemplate | None) -> TaskResult:
    """One task's results and samples as a `TaskResult`, from an already loaded LM."""
    results = simple_evaluate(lm, planned, config, template)
    if results is None:
        raise RunFailed(f"lm-eval returned no results for {planned.entry.task}")
    samples = [rec for name, rows in sorted(results.get("samples", {}).items()) for rec in parse_samples(name, rows)]
    members = sorted({planned.entry.task, *planned.loaded["tasks"], *planned.loaded["groups"]})
    return TaskResult(
        task=planned.entry.task, task_hash=planned.task_hash, eval_key=planned.eval_key, num_fewshot=planned.entry.num_fewshot,
        scores=parse_scores(results), samples=samples, members=members, spec_key=planned.spec_key,
    )


def load_templated_lm(model: ResolvedModel, config: EvalConfig, template: ChatTemplate | None) -> Any:
    """The backend's LM, with the run's chat template attached to its tokenizer."""
    lm = load_lm(model, config)
    if template is not None:
        lm.tokenizer.chat_template = template.jinja
        score_after_delimiter(lm, template.reply_delimiter)  # choices scored as the model was trained to reply
    return lm


def versions() -> dict[str, str]:
    """Versions of the packages that decide a result."""
    found = {"harness": __version__}
    for package in ("lm_eval", "transformers", "torch", "peft", "vllm", "datasets"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_revision() -> str | None:
    """The harness checkout's commit (with `-dirty` for local changes), or None outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"], capture_output=True, text=True,
                               check=False)
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_run(keys: list[str], hits: dict[str, str]) -> str | None:
    """The run id when one run has every key, else None."""
    found = {hits.get(key) for key in keys}
    return found.pop() if len(found) == 1 and None not in found else None


def _registered(store: Store, model: ResolvedModel) -> tuple[int, ResolvedModel]:
    """Register the model (its name and path become aliases of its fingerprint) under the name it is shown by."""
    model_id = upsert_model(store, model.record)
    return model_id, replace(model, record=replace(model.record, name=model_name(store, model_id)))


def _served(store: Store, run_id: str, model: ResolvedModel, tasks: list[str]) -> EvalOutcome:
    _, model = _registered(store, model)
    log.info("all %d task(s) found in the store (run %s); nothing to run", len(tasks), run_id)
    found = [s for task in tasks for s in read_task_scores(store, run_id, task)]
    return EvalOutcome(run_id, model.record.name, model.record.fingerprint, True, found, tasks)


def run_eval(config: EvalConfig, store_url: str | None = None) -> EvalOutcome:
    """Evaluate `config.model` on its tasks, reusing finished results from the store.

    Everything the user gave is validated before the store is opened, so bad input leaves it as it was.
    The project's own tasks are looked up by their files' hash first, which needs no lm-eval import.

    Raises:
        HarnessError: bad input (exit 2); RunFailed when evaluation itself fails (exit 3).
    """
    check_store_url(store_url)
    check_backend(config)
    entries = resolve_tasks(config.suite, config.tasks, config.num_fewshot)
    config = with_stored_model(config, store_url)
    model = resolve_model(config, check=False)  # its files are checked once the store lacks a task
    template = chat_template_for(config, model)
    tasks = [e.task for e in entries]
    keys = spec_keys(config, model, template, entries)
    if not is_main_rank():
        check_files(model)
        return _follow(config, store_url, model, template, plan_tasks(config, model, template, entries, keys))
    store = None
    if keys is not None and not config.force and store_exists(store_url):  # project tasks: names known valid
        store = open_store(store_url)
        if (run_id := _one_run(keys, find_task_results(store, keys, by="spec_key"))) is not None:
            return _served(store, run_id, model, tasks)
    plan = plan_tasks(config, model, template, entries, keys)
    check_files(model)
    check_checkpoint(model, config)  # the whole checkpoint, before the store is created or written
    store = store or open_store(store_url)
    hits = {} if config.force else find_task_results(store, [p.eval_key for p in plan])
    if (run_id := _one_run([p.eval_key for p in plan], hits)) is not None:
        return _served(store, run_id, model, tasks)
    return _execute(store, config, model, template, plan, hits)


def _follow(config: EvalConfig, store_url: str | None, model: ResolvedModel, template: ChatTemplate | None,
            plan: list[PlannedTask]) -> EvalOutcome:
    """A rank other than 0 of a launch: compute the tasks rank 0 will compute (lm-eval gathers them there), so
    every rank takes part in the same collective calls, and write nothing: the store is read, never opened for
    writing."""
    hits: dict[str, str] = {}
    if not config.force and store_exists(store_url):
        hits = find_task_results(open_store(store_url, readonly=True), [p.eval_key for p in plan])
    lm = None
    for planned in plan:
        if planned.eval_key not in hits:
            lm = lm or load_templated_lm(model, config, template)
            simple_evaluate(lm, planned, config, template)
    return EvalOutcome("", model.record.name, model.record.fingerprint, False, [], [], written=False)


@dataclass
class _Runner:
    """One run's state while it works through its tasks: the LM is loaded at the first task that needs it."""

    store: Store
    config: EvalConfig
    model: ResolvedModel
    template: ChatTemplate | None
    run_id: str
    lm: Any = None
    scores: list[Score] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)

    def copy(self, planned: PlannedTask, from_run: str) -> None:
        result = replace(read_task_result(self.store, from_run, planned.entry.task), spec_key=planned.spec_key)
        write_task_result(self.store, self.run_id, result, copied_from=from_run)
        self.scores += result.scores
        self.cached.append(planned.entry.task)

    def compute(self, planned: PlannedTask) -> None:
        if self.lm is None:
            with library_bars_off():  # the run's own rich progress is on stderr
                self.lm = load_templated_lm(self.model, self.config, self.template)
        with library_bars_off():  # now also over the loaded backend's module
            result = evaluate_task(self.lm, planned, self.config, self.template)
        write_task_result(self.store, self.run_id, result)
        self.scores += result.scores

    def take(self, planned: PlannedTask) -> bool:
        """Do one task under its lease; False when another live process holds it."""
        with held(self.store, [planned.eval_key], "eval", self.run_id) as mine:
            if not mine:
                return False
            done = {} if self.config.force else find_task_results(self.store, [planned.eval_key])
            if planned.eval_key in done:  # finished by another process since this run looked
                self.copy(planned, done[planned.eval_key])
            else:
                self.compute(planned)
        return True


def _work_through(runner: _Runner, plan: list[PlannedTask], hits: dict[str, str], bar: Any) -> None:
    """Every task once: stored ones copied, free ones computed, ones another process holds waited for."""
    pending = plan
    while pending:
        waiting = []
        for p in pending:
            bar.update(bar.task_ids[0], description=f"eval {runner.model.record.name}: {p.entry.task}")
            if p.eval_key in hits:
                runner.copy(p, hits[p.eval_key])
            elif not runner.take(p):
                waiting.append(p)
                continue
            bar.advance(bar.task_ids[0])
        if waiting:
            names = ", ".join(p.entry.task for p in waiting)
            bar.update(bar.task_ids[0], description=f"eval {runner.model.record.name}: waiting for {names} "
                                                    "(another process is computing them)")
            time.sleep(POLL_S)
            keys = [p.eval_key for p in waiting]
            hits = {} if runner.config.force else find_task_results(runner.store, keys)
        pending = waiting


def _start_run(store: Store, config: EvalConfig, model_id: int, template: ChatTemplate | None,
               plan: list[PlannedTask]) -> str:
    """Register a `running` run of the model, the run's lease taken first (see `create_run`)."""
    run_id = new_run_id()
    claim(store, [run_key(run_id)], "run", run_id=run_id)
    return create_run(store, model_id, {
        "suite": config.suite,
        "tasks": [p.entry.model_dump() for p in plan],
        "config": {**config.model_dump(mode="json"), "lm_eval_options": {
            **evaluate_options(config, template), "reply_delimiter": template.reply_delimiter if template else None}},
        "config_hash": config_hash(config),
        "backend": config.backend,
        "chat_template": template.name if template else None,
        "chat_template_hash": template.hash if template else None,
        "versions": versions(),
        "git_revision": git_revision(),
    }, run_id=run_id)


def _end_run(store: Store, run_id: str, status: str, error: str | None = None) -> None:
    finish_run(store, run_id, status, error)
    release(store, [run_key(run_id)])


def _execute(store: Store, config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
             plan: list[PlannedTask], hits: dict[str, str]) -> EvalOutcome:
    model_id, model = _registered(store, model)
    run_id = _start_run(store, config, model_id, template, plan)
    runner = _Runner(store, config, model, template, run_id)
    try:
        with (_sigterm_as_interrupt(), Heartbeat(store),
              progress(f"eval {model.record.name}", total=len(plan)) as bar):
            _work_through(runner, plan, hits, bar)
    except KeyboardInterrupt:
        _end_run(store, run_id, "interrupted", "interrupted by the user or a signal")
        raise
    except HarnessError as exc:
        _end_run(store, run_id, "failed", str(exc))
        raise
    except Exception as exc:
        _end_run(store, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"run {run_id} failed: {type(exc).__name__}: {exc}", hint=f"see `harness runs show {run_id}`") from exc
    _end_run(store, run_id, "finished")
    return EvalOutcome(run_id, model.record.name, model.record.fingerprint, False, runner.scores, runner.cached)
