"""`harness eval` over many models: (model × task) units, run by the local executor or on a Ray cluster.

The local executor (the default, no Ray import) evaluates one model after another in this process, each through
`run_eval`. The Ray executor (`eval.ray_executor`) expands the units, skips those the store already has, claims the
rest as `unit:` leases (a second driver on the same store leaves them alone), and runs each unit as a Ray task
that calls `run_eval` for one model and one task and writes its own results to the shared store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.errors import HarnessError, RunFailed
from harness.eval.backends import check_backend, check_checkpoint, resolve_model
from harness.eval.config import EvalConfig, SuiteTask
from harness.eval.evaluate import EvalOutcome, run_eval
from harness.eval.plan import chat_template_for, key_settings, plan_tasks, spec_keys
from harness.eval.suites import resolve_tasks
from harness.fingerprint import content_hash
from harness.records import Score
from harness.store import Store, check_store_url, open_store, resolve_store_url
from harness.store.leases import Heartbeat, claim, release
from harness.store.runs import find_task_results, read_task_result

Executor = Literal["local", "ray"]
Status = Literal["done", "cached", "failed", "held"]


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how the Ray executor runs its units."""

    address: str | None = None  # None: the running Ray session, else a new local one; "auto": the node's cluster
    gpus_per_unit: float | None = None  # None: tensor x data parallel size on cuda, 0 on cpu
    cpus_per_unit: float = 1.0
    retries: int = 2  # extra attempts for a unit whose worker died or whose evaluation failed


@dataclass(frozen=True)
class Unit:
    """One model on one task: a one-task `EvalConfig` and the store key that tells whether it is done."""

    model: str
    task: str
    config: EvalConfig
    key: str
    by: Literal["spec_key", "eval_key"]

    @property
    def lease_key(self) -> str:
        return f"unit:{self.key}"


@dataclass(frozen=True)
class UnitOutcome:
    """What became of one unit."""

    model: str
    task: str
    status: Status
    run_id: str | None = None
    error: str | None = None
    scores: list[Score] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "status": self.status, "run_id": self.run_id,
                "error": self.error,
                "scores": [{k: v for k, v in asdict(s).items() if k != "higher_is_better"} for s in self.scores]}


@dataclass(frozen=True)
class ScaleOutReport:
    """`harness eval` over several models or on a cluster: one outcome per (model, task) unit."""

    executor: Executor
    units: list[UnitOutcome]
    submitted: int

    def count(self, status: Status) -> int:
        return sum(u.status == status for u in self.units)

    def to_json(self) -> dict[str, Any]:
        counts = {status: self.count(status) for status in ("done", "cached", "failed", "held")}
        return {"executor": self.executor, "units": len(self.units), "submitted": self.submitted, **counts,
                "results": [u.to_json() for u in self.units]}


def model_configs(config: EvalConfig, models: list[str]) -> list[EvalConfig]:
    """One config per `--model`; `--name` names a single model only."""
    if not models:
        raise HarnessError("give at least one --model", hint="e.g. --model results/demo/base")
    if config.name and len(models) > 1:
        raise HarnessError("--name names one model, but several --model were given", hint="drop --name")
    return [config.model_copy(update={"model": m}) for m in dict.fromkeys(models)]


def _unit_config(config: EvalConfig, entry: SuiteTask) -> EvalConfig:
    return config.model_copy(update={"suite": None, "tasks": [entry.task], "num_fewshot": entry.num_fewshot})


@dataclass(frozen=True)
class GroupSplit:
    """A group entry run as its leaf tasks, one unit each: lm-eval's `Group` (whose `aggregate` gives the group's
    scores from its leaves' results) and the leaves' names."""

    name: str
    group: Any
    leaves: list[str]


def split_groups(entries: list[SuiteTask]) -> tuple[list[SuiteTask], list[GroupSplit]]:
    """Groups (mmlu, bbh, arith) replaced by their leaf tasks with the group's few-shot; other entries kept."""
    from harness.eval.suites import task_manager

    manager = task_manager([e.task for e in entries])
    flat: list[SuiteTask] = []
    splits = []
    for entry in entries:
        if entry.task not in manager.all_groups:
            flat.append(entry)
            continue
        group = manager.load([entry.task])["groups"][entry.task]
        leaves = [t.task_name for t in group.get_all_tasks()]
        splits.append(GroupSplit(entry.task, group, leaves))
        flat += [SuiteTask(task=leaf, num_fewshot=entry.num_fewshot) for leaf in leaves]
    return list(dict.fromkeys(flat)), splits


def group_outcome(split: GroupSplit, model: str, leaves: list[UnitOutcome]) -> UnitOutcome:
    """One model's group row from its leaves' outcomes, aggregated by lm-eval's own `Group.aggregate`."""
    from harness.eval.results import parse_scores

    unfinished = [u for u in leaves if u.status in ("failed", "held")]
    if unfinished:
        return UnitOutcome(model, split.name, unfinished[0].status,
                           error=f"{len(unfinished)} of {len(leaves)} subtask(s) not finished")
    metrics: dict[str, dict[str, Any]] = {}
    for score in (s for u in leaves for s in u.scores):
        found = metrics.setdefault(score.task, {"sample_len": score.n or 0})
        found[f"{score.metric},{score.filter}"] = score.value
        if score.stderr is not None:
            found[f"{score.metric}_stderr,{score.filter}"] = score.stderr
    aggregate = split.group.aggregate(metrics)
    status: Status = "cached" if all(u.status == "cached" for u in leaves) else "done"
    return UnitOutcome(model, split.name, status, scores=parse_scores({"groups": {split.name: aggregate}}))


def plan_units(config: EvalConfig, models: list[str], entries: list[SuiteTask] | None = None) -> list[Unit]:
    """Every (model, task) unit with its store key, validated before anything is written.

    Project tasks are keyed by their files (no lm-eval import); other tasks are loaded once, from the first
    model's plan, and keyed per model the way `eval.plan` keys them.

    Raises:
        HarnessError: an unknown task or suite, a missing or corrupt model (exit 2).
    """
    check_backend(config)
    if entries is None:
        entries = resolve_tasks(config.suite, config.tasks, config.num_fewshot)
    task_hashes: dict[str, str] = {}
    units = []
    for per_model in model_configs(config, models):
        model = resolve_model(per_model)
        template = chat_template_for(per_model, model)
        keys = spec_keys(per_model, model, template, entries)
        by: Literal["spec_key", "eval_key"] = "spec_key" if keys is not None else "eval_key"
        if keys is None:
            if not task_hashes:
                plan = plan_tasks(per_model, model, template, entries, None)
                task_hashes = {p.entry.task: p.task_hash for p in plan}
            keys = [content_hash({**key_settings(per_model, model, template, e), "task_hash": task_hashes[e.task]})
                    for e in entries]
        check_checkpoint(model, per_model)
        units += [Unit(per_model.name or per_model.model, e.task, _unit_config(per_model, e), key, by)
                  for e, key in zip(entries, keys)]
    return units


def stored_units(store: Store, units: list[Unit]) -> dict[str, str]:
    """The units' keys the store has finished, mapped to a run that holds each."""
    found: dict[str, str] = {}
    for by in ("spec_key", "eval_key"):
        found.update(find_task_results(store, [u.key for u in units if u.by == by], by=by))
    return found


def _from_store(store: Store, unit: Unit, run_id: str) -> UnitOutcome:
    return UnitOutcome(unit.model, unit.task, "cached", run_id, scores=read_task_result(store, run_id, unit.task).scores)


RunUnits = Callable[[list[Unit], str, ClusterOptions], list[UnitOutcome]]


def run_on_cluster(config: EvalConfig, models: list[str], options: ClusterOptions, store_url: str | None,
                   run_units: RunUnits) -> ScaleOutReport:
    """Units the store lacks, claimed by this driver and handed to `run_units` (the Ray executor).

    Bad input fails before the store is opened; a unit another live driver has claimed is reported as `held`
    (a later re-run takes it); the claims are released whatever happens, Ctrl-C included.
    """
    check_store_url(store_url)
    check_backend(config)
    entries, splits = split_groups(resolve_tasks(config.suite, config.tasks, config.num_fewshot))
    units = plan_units(config, models, entries)
    store = open_store(store_url)
    hits = {} if config.force else stored_units(store, units)
    cached = {u.key: _from_store(store, u, hits[u.key]) for u in units if u.key in hits}
    todo = [u for u in units if u.key not in hits]
    mine = claim(store, [u.lease_key for u in todo], "unit")
    submit = [u for u in todo if u.lease_key in mine]
    ran: dict[str, UnitOutcome] = {}
    try:
        with Heartbeat(store):
            if submit:
                ran = {u.key: o for u, o in zip(submit, run_units(submit, resolve_store_url(store_url), options))}
    finally:
        release(store, mine)
    outcomes = [cached.get(u.key) or ran.get(u.key)
                or UnitOutcome(u.model, u.task, "held", error="claimed by another live driver") for u in units]
    for model in dict.fromkeys(u.model for u in units):
        outcomes += [group_outcome(split, model, [o for o in outcomes if o.model == model and o.task in split.leaves])
                     for split in splits]
    return ScaleOutReport("ray", outcomes, len(submit))


def _outcomes(store_url: str | None, config: EvalConfig, outcome: EvalOutcome) -> list[UnitOutcome]:
    store = open_store(store_url)
    entries = resolve_tasks(config.suite, config.tasks, config.num_fewshot)
    return [UnitOutcome(outcome.model_name, e.task, "cached" if e.task in outcome.cached_tasks else "done",
                        outcome.run_id, scores=read_task_result(store, outcome.run_id, e.task).scores)
            for e in entries]


def run_locally(config: EvalConfig, models: list[str], store_url: str | None) -> ScaleOutReport:
    """Each model in turn, in this process, each through `run_eval` (which resumes and skips stored tasks).

    Every model is validated before the first one runs; a model that fails is reported and the next one runs.
    """
    configs = model_configs(config, models)
    for per_model in configs:
        check_backend(per_model)
        resolve_model(per_model)
    units: list[UnitOutcome] = []
    for per_model in configs:
        try:
            units += _outcomes(store_url, per_model, run_eval(per_model, store_url))
        except RunFailed as exc:
            entries = resolve_tasks(config.suite, config.tasks, config.num_fewshot)
            units += [UnitOutcome(per_model.name or per_model.model, e.task, "failed", error=exc.message)
                      for e in entries]
    return ScaleOutReport("local", units, sum(u.status != "cached" for u in units))


@dataclass(frozen=True)
class GenerateReport:
    """`harness generate` over several models or on a cluster: one outcome (or error) per model."""

    executor: Executor
    outcomes: list[Any]  # GenerateOutcome, one per model that finished
    errors: dict[str, str]  # model -> error, for those that failed after their retries

    def to_json(self) -> dict[str, Any]:
        return {"executor": self.executor, "models": [o.to_json() for o in self.outcomes],
                "failed": [{"model": m, "error": e} for m, e in self.errors.items()]}


RunModels = Callable[[list[Any], str, ClusterOptions], list[Any]]


def generate_models(config: Any, models: list[str], options: ClusterOptions, store_url: str | None,
                    run_models: RunModels | None = None) -> GenerateReport:
    """`run_generate` for each model: in turn here, or through `run_models` (the Ray executor's
    `generate_on_ray`: one Ray task per model). Each run skips the answers the store already has.

    Returns:
        One outcome per finished model, and the error of each model that failed after its retries.
    """
    from harness.generate import run_generate

    if config.name and len(models) > 1:
        raise HarnessError("--name names one model, but several --model were given", hint="drop --name")
    configs = [config.model_copy(update={"model": m}) for m in dict.fromkeys(models)]
    check_store_url(store_url)
    if run_models is None:
        return GenerateReport("local", [run_generate(c, store_url) for c in configs], {})
    results = run_models(configs, resolve_store_url(store_url), options)
    errors = {c.model_name: str(r) for c, r in zip(configs, results) if isinstance(r, BaseException)}
    return GenerateReport("ray", [r for r in results if not isinstance(r, BaseException)], errors)
