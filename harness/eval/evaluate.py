"""`harness eval`: run lm-eval tasks on a model and keep scores and per-sample records in the store.

Each task is looked up by its eval key (model fingerprint + task config hash + settings) before anything
loads; only missing tasks run, one `lm_eval.simple_evaluate` call each, on one LM loaded once, and each
finished task is committed on its own, so a killed run keeps its finished tasks.
"""

from __future__ import annotations

import logging
import math
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config import config_hash
from harness.console import progress
from harness.errors import HarnessError, RunFailed
from harness.eval.backends import ResolvedModel, check_backend, load_lm, resolve_model
from harness.eval.config import EvalConfig, SuiteTask
from harness.eval.suites import local_task_spec, resolve_tasks, task_manager
from harness.eval.templates import ChatTemplate, load_chat_template, tokenizer_template
from harness.fingerprint import content_hash
from harness.records import SampleRecord, Score, TaskResult
from harness.store import Store, check_store_url, open_store
from harness.store.runs import (
    create_run,
    find_task_results,
    finish_run,
    read_task_result,
    upsert_model,
    write_task_result,
)

log = logging.getLogger(__name__)
EVAL_KEY_VERSION = 1  # bump when the meaning of a stored result changes


@dataclass(frozen=True)
class PlannedTask:
    """A task ready to run or to be served from the store."""

    entry: SuiteTask
    loaded: Any  # lm-eval's TaskManager.load() result for this entry
    task_hash: str
    eval_key: str
    manager: Any  # the one TaskManager, reused so lm-eval never re-indexes its bundled tasks
    spec_key: str | None = None


@dataclass(frozen=True)
class EvalOutcome:
    """What `harness eval` reports: the run, the model and its scores."""

    run_id: str
    model_name: str
    fingerprint: str
    cached: bool
    scores: list[Score]
    cached_tasks: list[str]

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


def _task_identity(task: Any) -> dict[str, Any]:
    """A task's config without where it was read from, plus a hash of its evaluation documents.

    The documents are hashed because a config names its data but does not pin it (a hub dataset revision,
    the code behind `custom_dataset`).
    """
    config = task.dump_config()
    config["metadata"] = {k: v for k, v in (config.get("metadata") or {}).items() if k != "config_source"}
    return {"config": config, "docs": content_hash([dict(doc) for doc in task.eval_docs])}


def _task_hash(loaded: dict[str, Any]) -> str:
    tasks = {name: _task_identity(task) for name, task in sorted(loaded["tasks"].items())}
    return content_hash({"tasks": tasks, "groups": loaded.get("group_map", {})})


def _chat_template(config: EvalConfig, model: ResolvedModel) -> ChatTemplate | None:
    if config.chat_template is None:
        return None
    if config.chat_template == "tokenizer":
        if model.chat_template is None:
            raise HarnessError(
                f"model {config.model} has no chat template of its own",
                hint="pass --chat-template alpaca|vicuna|FILE.jinja",
            )
        return tokenizer_template(model.chat_template)
    return load_chat_template(config.chat_template)


def _key_settings(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
                  entry: SuiteTask) -> dict[str, Any]:
    """Everything besides the task's own content that decides a stored result."""
    return {
        "v": EVAL_KEY_VERSION,
        "model": model.record.fingerprint,
        "task": entry.task,
        "num_fewshot": entry.num_fewshot,
        "limit": config.limit,
        "backend": config.backend,
        "chat_template": template.hash if template else None,
    }


def spec_keys(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
              entries: list[SuiteTask]) -> list[str] | None:
    """Cache keys from the task files, when every entry is one of the project's own tasks (else None)."""
    spec = local_task_spec([e.task for e in entries])
    if spec is None:
        return None
    return [content_hash({**_key_settings(config, model, template, e), "spec": spec}) for e in entries]


def plan_tasks(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
               entries: list[SuiteTask], keys: list[str] | None) -> list[PlannedTask]:
    """Load each task from lm-eval and compute its cache key (`keys`: the entries' spec keys, if local)."""
    manager = task_manager([e.task for e in entries])
    specs: list[str | None] = list(keys) if keys is not None else [None for _ in entries]
    planned = []
    for entry, spec_key in zip(entries, specs):
        try:
            loaded = manager.load([entry.task])
        except Exception as exc:  # a hub dataset that cannot be fetched, a broken YAML
            raise HarnessError(f"cannot load task {entry.task}: {exc}", hint="check the task and network") from exc
        task_hash = _task_hash(loaded)
        key = content_hash({**_key_settings(config, model, template, entry), "task_hash": task_hash})
        planned.append(PlannedTask(entry, loaded, task_hash, key, manager, spec_key))
    return planned


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def parse_scores(results: dict[str, Any]) -> list[Score]:
    """lm-eval's `results` (and `groups`) dicts as flat `Score` rows."""
    rows = []
    sections = {**results.get("results", {}), **results.get("groups", {})}
    for task, metrics in sections.items():
        n_samples = results.get("n-samples", {}).get(task, {}).get("effective") or metrics.get("sample_len")
        better = results.get("higher_is_better", {}).get(task, {})
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filt = key.split(",", 1)
            rows.append(
                Score(
                    task=task,
                    metric=metric,
                    filter=filt,
                    value=_number(value),
                    stderr=_number(metrics.get(f"{metric}_stderr,{filt}")),
                    n=int(n_samples) if n_samples is not None else None,
                    higher_is_better=better.get(metric),
                )
            )
    return rows


def _prediction(sample: dict[str, Any]) -> str:
    resps = sample.get("filtered_resps")
    if not resps:
        return ""
    if isinstance(resps[0], (list, tuple)) and len(resps[0]) == 2 and isinstance(resps[0][1], bool):
        best = max(range(len(resps)), key=lambda i: resps[i][0])  # multiple choice: the likeliest choice
        args = sample.get("arguments") or []
        return str(args[best][1]) if best < len(args) else str(best)
    return str(resps[0])


def parse_samples(task: str, samples: list[dict[str, Any]]) -> list[SampleRecord]:
    """lm-eval's logged samples as `SampleRecord`s (numeric per-sample metrics only)."""
    records = []
    for s in samples:
        args = s.get("arguments") or [[""]]
        first = args[0][0] if isinstance(args[0], (list, tuple)) else args[0]
        metrics = {m: v for m in s.get("metrics", []) if (v := _number(s.get(m))) is not None}
        records.append(
            SampleRecord(
                task=task,
                doc_id=int(s["doc_id"]),
                filter=str(s.get("filter", "none")),
                doc_hash=s.get("doc_hash"),
                prompt_hash=s.get("prompt_hash"),
                target_hash=s.get("target_hash"),
                prompt=str(first),
                target=str(s.get("target")),
                prediction=_prediction(s),
                metrics=metrics,
            )
        )
    return records


def evaluate_task(lm: Any, planned: PlannedTask, config: EvalConfig, template: ChatTemplate | None) -> TaskResult:
    """One `lm_eval.simple_evaluate` call on one task (or group) with an already loaded LM."""
    import lm_eval

    results = lm_eval.simple_evaluate(
        model=lm,
        tasks=list(planned.loaded["groups"].values()) or list(planned.loaded["tasks"].values()),
        num_fewshot=planned.entry.num_fewshot,
        limit=config.limit,
        log_samples=True,
        apply_chat_template=template is not None,
        fewshot_as_multiturn=template is not None,
        task_manager=planned.manager,
    )
    if results is None:
        raise RunFailed(f"lm-eval returned no results for {planned.entry.task}")
    samples = [rec for name, rows in sorted(results.get("samples", {}).items()) for rec in parse_samples(name, rows)]
    members = sorted({planned.entry.task, *planned.loaded["tasks"], *planned.loaded["groups"]})
    return TaskResult(
        task=planned.entry.task, task_hash=planned.task_hash, eval_key=planned.eval_key, num_fewshot=planned.entry.num_fewshot,
        scores=parse_scores(results), samples=samples, members=members, spec_key=planned.spec_key,
    )


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


def _served(store: Store, run_id: str, model: ResolvedModel, tasks: list[str]) -> EvalOutcome:
    log.info("all %d task(s) found in the store (run %s); nothing to run", len(tasks), run_id)
    found = [s for task in tasks for s in read_task_result(store, run_id, task).scores]
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
    model = resolve_model(config)
    template = _chat_template(config, model)
    tasks = [e.task for e in entries]
    keys = spec_keys(config, model, template, entries)
    store = None
    if keys is not None and not config.force:  # project tasks only: their names are known to be valid
        store = open_store(store_url)
        if (run_id := _one_run(keys, find_task_results(store, keys, by="spec_key"))) is not None:
            return _served(store, run_id, model, tasks)
    plan = plan_tasks(config, model, template, entries, keys)
    store = store or open_store(store_url)
    hits = {} if config.force else find_task_results(store, [p.eval_key for p in plan])
    if (run_id := _one_run([p.eval_key for p in plan], hits)) is not None:
        return _served(store, run_id, model, tasks)
    return _execute(store, config, model, template, plan, hits)


def _execute(
    store: Store,
    config: EvalConfig,
    model: ResolvedModel,
    template: ChatTemplate | None,
    plan: list[PlannedTask],
    hits: dict[str, str],
) -> EvalOutcome:
    model_id = upsert_model(store, model.record)
    run_id = create_run(store, model_id, {
        "suite": config.suite,
        "tasks": [p.entry.model_dump() for p in plan],
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash(config),
        "backend": config.backend,
        "chat_template": template.name if template else None,
        "chat_template_hash": template.hash if template else None,
        "versions": versions(),
        "git_revision": git_revision(),
    })
    lm, scores, cached = None, [], []
    try:
        with _sigterm_as_interrupt(), progress(f"eval {model.record.name}", total=len(plan)) as bar:
            for p in plan:
                bar.update(bar.task_ids[0], description=f"eval {model.record.name}: {p.entry.task}")
                if p.eval_key in hits:
                    result = replace(read_task_result(store, hits[p.eval_key], p.entry.task), spec_key=p.spec_key)
                    write_task_result(store, run_id, result, copied_from=hits[p.eval_key])
                    cached.append(p.entry.task)
                else:
                    if lm is None:
                        lm = load_lm(model, config)
                        if template is not None:
                            lm.tokenizer.chat_template = template.jinja
                    result = evaluate_task(lm, p, config, template)
                    write_task_result(store, run_id, result)
                scores += result.scores
                bar.advance(bar.task_ids[0])
    except KeyboardInterrupt:
        finish_run(store, run_id, "interrupted", "interrupted by the user or a signal")
        raise
    except HarnessError as exc:
        finish_run(store, run_id, "failed", str(exc))
        raise
    except Exception as exc:
        finish_run(store, run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"run {run_id} failed: {type(exc).__name__}: {exc}", hint="see `harness runs show`") from exc
    finish_run(store, run_id, "finished")
    return EvalOutcome(run_id, model.record.name, model.record.fingerprint, False, scores, cached)
