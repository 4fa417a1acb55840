"""The SQL behind the gate's REFs: pinned baselines (a name such as `main` stands for one run id), the tasks
a run has, and the finished runs of a model. Reads and writes only; `harness.gate.refs` resolves REFs.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from harness.records import Baseline, RunTask
from harness.store.engine import Store
from harness.store.models import model_ids
from harness.store.schema import baselines, models, runs, task_results


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
    """Whether any model is stored under `name` (a name, path or hub id it was registered by)."""
    return bool(model_ids(store, name))


def finished_runs_of(store: Store, model_name: str) -> list[str]:
    """The ids of `model_name`'s finished runs, newest first."""
    query = (
        sa.select(runs.c.id)
        .join(models, models.c.id == runs.c.model_id)
        .where(models.c.id.in_(model_ids(store, model_name)), runs.c.status == "finished")
        .order_by(runs.c.finished_at.desc(), runs.c.started_at.desc())
    )
    with store.engine.connect() as conn:
        return [str(run_id) for run_id in conn.execute(query).scalars()]
