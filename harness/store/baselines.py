"""Pinned baselines and REF resolution for the gate: a name (`main`) stands for one run id, set on purpose.

`harness baseline set NAME REF` pins (`pin_baseline`); `harness baseline list` shows the pins; `harness gate`
turns each REF (run id, pinned name or model name) into a run with `resolve_ref`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from harness.errors import HarnessError
from harness.records import Baseline, RunTask
from harness.store import open_store
from harness.store.engine import Store
from harness.store.runs import read_run
from harness.store.schema import baselines, models, runs, task_results


@dataclass(frozen=True)
class RunRef:
    """A REF as given and what it resolved to."""

    ref: str
    run_id: str
    model: str
    via: str  # run id | baseline <name> | model name
    chat_template: str | None = None  # the template the run's prompts went through; None: raw prompts


def set_baseline(store: Store, name: str, run_id: str) -> Baseline:
    """Pin `name` to `run_id`, replacing an earlier pin of the same name."""
    with store.engine.begin() as conn:
        conn.execute(sa.delete(baselines).where(baselines.c.name == name))
        now = dt.datetime.now(dt.UTC)
        conn.execute(sa.insert(baselines).values(name=name, ref=run_id, updated_at=now))
    found = get_baseline(store, name)
    assert found is not None
    return found


def get_baseline(store: Store, name: str) -> Baseline | None:
    """The pin called `name`, or None (also for a read-only store made before pins existed)."""
    with store.engine.connect() as conn:
        if not sa.inspect(conn).has_table(baselines.name):
            return None
        row = conn.execute(sa.select(baselines).where(baselines.c.name == name)).first()
    return None if row is None else Baseline(name=row.name, run_id=row.ref, updated_at=row.updated_at)


def list_baselines(store: Store) -> list[Baseline]:
    """Every pin, by name."""
    with store.engine.connect() as conn:
        if not sa.inspect(conn).has_table(baselines.name):
            return []
        rows = conn.execute(sa.select(baselines).order_by(baselines.c.name)).all()
    return [Baseline(name=r.name, run_id=r.ref, updated_at=r.updated_at) for r in rows]


def run_tasks(store: Store, run_id: str) -> dict[str, RunTask]:
    """The tasks a run has results for, by name."""
    query = sa.select(task_results).where(task_results.c.run_id == run_id).order_by(task_results.c.id)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {r.task: RunTask(task=r.task, task_hash=r.task_hash, num_fewshot=r.num_fewshot, n_samples=r.n_samples) for r in rows}


def model_exists(store: Store, name: str) -> bool:
    """Whether any model is stored under `name`."""
    with store.engine.connect() as conn:
        return conn.execute(sa.select(models.c.id).where(models.c.name == name).limit(1)).first() is not None


def latest_run_with_tasks(store: Store, model_name: str, tasks: list[str]) -> str | None:
    """The newest finished run of `model_name` that has results for every task in `tasks` (any, if empty)."""
    query = (
        sa.select(runs.c.id)
        .join(models, models.c.id == runs.c.model_id)
        .where(models.c.name == model_name, runs.c.status == "finished")
        .order_by(runs.c.finished_at.desc(), runs.c.started_at.desc())
    )
    with store.engine.connect() as conn:
        run_ids = list(conn.execute(query).scalars())
    for run_id in run_ids:
        if set(tasks) <= set(run_tasks(store, run_id)):
            return str(run_id)
    return None


def resolve_ref(store: Store, ref: str, tasks: list[str]) -> RunRef:
    """A run id, a pinned baseline name or a model name (its newest finished run having `tasks`)."""
    run = read_run(store, ref)
    if run is not None:
        if run["status"] != "finished":
            raise HarnessError(f"run {ref} is {run['status']}, not finished", hint="gate on a finished run")
        return RunRef(ref, ref, run["model"], "run id", run["chat_template"])
    pinned = get_baseline(store, ref)
    if pinned is not None:
        run = read_run(store, pinned.run_id)
        if run is None:
            raise HarnessError(f"baseline {ref!r} points at run {pinned.run_id}, which is not in this store",
                               hint=f"re-pin it with `harness baseline set {ref} RUN`")
        return RunRef(ref, pinned.run_id, run["model"], f"baseline {ref}", run["chat_template"])
    if not model_exists(store, ref):
        raise HarnessError(f"unknown ref {ref!r}: not a run id, pinned baseline or model name",
                           hint="see `harness runs list` and `harness baseline list`")
    run_id = latest_run_with_tasks(store, ref, tasks)
    if run_id is None:
        wanted = f" with tasks {', '.join(tasks)}" if tasks else ""
        raise HarnessError(f"model {ref!r} has no finished run{wanted}",
                           hint=f"run `harness eval --model ... --name {ref}` on those tasks first")
    run = read_run(store, run_id)
    assert run is not None
    return RunRef(ref, run_id, ref, "model name", run["chat_template"])


def pin_baseline(name: str, ref: str, store_url: str | None = None) -> RunRef:
    """`harness baseline set NAME REF`: resolve REF now and pin NAME to that run id."""
    if not name.strip():
        raise HarnessError("a baseline name cannot be empty", hint="e.g. `harness baseline set main RUN`")
    store = open_store(store_url)
    if read_run(store, name) is not None:
        raise HarnessError(f"baseline name {name!r} is a run id", hint="pick another name, e.g. main")
    resolved = resolve_ref(store, ref, [])
    set_baseline(store, name, resolved.run_id)
    return resolved
