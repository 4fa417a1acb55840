"""Evaluation records in the store: models, runs, per-task results, scores and per-sample records.

`harness eval` writes through these functions; `harness runs`, the gate and the leaderboard read.
A task's scores and samples are written in one transaction with its `task_results` row.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import zlib
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from harness.errors import HarnessError
from harness.records import SampleRecord, Score, TaskResult
from harness.store.engine import Store
from harness.store.models import upsert_model  # noqa: F401 -- registration lives in models; re-exported
from harness.store.schema import models, runs, samples, scores, task_results

AMBIGUOUS_SHOWN = 10  # candidates an ambiguous run id prefix lists


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_run_id() -> str:
    """A fresh run id (r- and 12 hex digits)."""
    return "r-" + secrets.token_hex(6)


def create_run(store: Store, model_id: int, run: dict[str, Any], run_id: str | None = None) -> str:
    """Insert a `running` run row; `run` holds suite, tasks, config, config_hash, backend, template, versions.

    Claim the run's lease (`leases.run_key`) under `run_id` before calling this, so that no other process
    opening the store in between takes the new run for a dead one.
    """
    run_id = run_id or new_run_id()
    with store.begin() as conn:
        conn.execute(
            sa.insert(runs).values(id=run_id, model_id=model_id, started_at=now(), status="running", **run)
        )
    return run_id


def finish_run(store: Store, run_id: str, status: str, error: str | None = None) -> None:
    """Mark a run finished, failed or interrupted."""
    with store.begin() as conn:
        conn.execute(
            sa.update(runs).where(runs.c.id == run_id).values(status=status, error=error, finished_at=now())
        )


def write_task_result(store: Store, run_id: str, result: TaskResult, copied_from: str | None = None) -> None:
    """Write one task's scores, samples and result row atomically."""
    with store.begin() as conn:
        conn.execute(
            sa.insert(task_results).values(
                run_id=run_id,
                task=result.task,
                task_hash=result.task_hash,
                eval_key=result.eval_key,
                spec_key=result.spec_key,
                num_fewshot=result.num_fewshot,
                n_samples=len(result.samples),
                members=result.members or [result.task],
                copied_from=copied_from,
            )
        )
        if result.scores:
            conn.execute(sa.insert(scores), [{"run_id": run_id, **asdict(s)} for s in result.scores])
        if result.samples:
            conn.execute(sa.insert(samples), [{"run_id": run_id, **asdict(s), "log": pack_log(s.log)}
                                              for s in result.samples])


def pack_log(log: dict[str, Any] | None) -> bytes | None:
    """A sample's lm-eval log as zlib-compressed JSON (prompts repeat across choices and compress ~5-10x)."""
    return None if log is None else zlib.compress(json.dumps(log, separators=(",", ":")).encode(), 6)


def unpack_log(blob: bytes | None) -> dict[str, Any] | None:
    return None if blob is None else dict(json.loads(zlib.decompress(blob)))


def find_task_results(store: Store, keys: list[str], by: str = "eval_key") -> dict[str, str]:
    """Map each key (an `eval_key`, or a `spec_key` with by="spec_key") some run finished to the newest run id."""
    if not keys:
        return {}
    column = task_results.c[by]
    query = sa.select(column, task_results.c.run_id).where(column.in_(keys)).order_by(task_results.c.id)
    with store.engine.connect() as conn:
        return {key: run_id for key, run_id in conn.execute(query)}


def read_task_scores(store: Store, run_id: str, task: str) -> list[Score]:
    """The scores of one task of one run (a group's with its subtasks'), without its samples: what a store hit
    prints (unpacking the samples' logs took most of a hit's store time: ~1 ms per 15 samples)."""
    with store.engine.connect() as conn:
        members = conn.execute(sa.select(task_results.c.members).where(
            task_results.c.run_id == run_id, task_results.c.task == task)).scalar_one()
        return _scores(conn, run_id, list(members or [task]))


def _scores(conn: sa.Connection, run_id: str, members: list[str]) -> list[Score]:
    rows = conn.execute(
        sa.select(scores).where(scores.c.run_id == run_id, scores.c.task.in_(members)).order_by(scores.c.id)
    ).mappings()
    return [Score(**{k: r[k] for k in Score.__dataclass_fields__}) for r in rows]


def read_task_result(store: Store, run_id: str, task: str) -> TaskResult:
    """Load one task (for a group: with its subtasks' scores and samples) of one run into a `TaskResult`."""
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(task_results).where(task_results.c.run_id == run_id, task_results.c.task == task)
        ).one()
        members = list(row.members or [task])
        score_list = _scores(conn, run_id, members)
        sample_rows = conn.execute(
            sa.select(samples).where(samples.c.run_id == run_id, samples.c.task.in_(members)).order_by(samples.c.id)
        ).mappings()
        fields = [k for k in SampleRecord.__dataclass_fields__ if k != "log"]
        sample_list = [SampleRecord(**{k: r[k] for k in fields}, log=unpack_log(r["log"])) for r in sample_rows]
    return TaskResult(task=row.task, task_hash=row.task_hash, eval_key=row.eval_key, num_fewshot=row.num_fewshot, scores=score_list, samples=sample_list, members=members,
                      spec_key=row.spec_key)


def _run_query() -> sa.Select[Any]:
    return sa.select(
        runs, models.c.name.label("model"), models.c.fingerprint.label("model_fingerprint")
    ).join(models, models.c.id == runs.c.model_id)


def list_runs(store: Store, limit: int | None = None) -> list[dict[str, Any]]:
    """All runs, newest first, with their model's name and fingerprint."""
    query = _run_query().order_by(runs.c.started_at.desc(), runs.c.id)
    if limit:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def match_run_id(store: Store, ref: str, prefix: bool = True) -> str | None:
    """The run id `ref` is, or (with `prefix`) the only run id starting with it, like git; None when none matches.

    Raises:
        HarnessError: `ref` is a prefix of several run ids (they are listed, newest first).
    """
    if not ref:
        return None
    query = (sa.select(runs.c.id).where(runs.c.id.startswith(ref, autoescape=True))
             .order_by(runs.c.started_at.desc(), runs.c.id).limit(AMBIGUOUS_SHOWN + 1))
    with store.engine.connect() as conn:
        if conn.execute(sa.select(runs.c.id).where(runs.c.id == ref)).first() is not None:
            return ref
        found = list(conn.execute(query).scalars()) if prefix else []
    if len(found) > 1:
        more = ", ..." if len(found) > AMBIGUOUS_SHOWN else ""
        raise HarnessError(f"run id prefix {ref!r} is ambiguous: {', '.join(found[:AMBIGUOUS_SHOWN])}{more}",
                           hint="type more characters of the run id")
    return found[0] if found else None


def read_run(store: Store, run_id: str, prefix: bool = True) -> dict[str, Any] | None:
    """One run row (`run_id` or a unique prefix of it) with its model's name (`model`) and fingerprint; None when
    there is no such run.

    Raises:
        HarnessError: the prefix matches several runs.
    """
    full = match_run_id(store, run_id, prefix)
    if full is None:
        return None
    with store.engine.connect() as conn:
        row = conn.execute(_run_query().where(runs.c.id == full)).mappings().first()
    return None if row is None else dict(row)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    """One run with its model, its per-task results and its scores; None when there is no such run."""
    run = read_run(store, run_id)
    if run is None:
        return None
    run_id = run["id"]
    with store.engine.connect() as conn:
        run["task_results"] = [
            dict(r)
            for r in conn.execute(
                sa.select(task_results).where(task_results.c.run_id == run_id).order_by(task_results.c.id)
            ).mappings()
        ]
        run["scores"] = [
            {k: r[k] for k in Score.__dataclass_fields__}
            for r in conn.execute(
                sa.select(scores).where(scores.c.run_id == run_id).order_by(scores.c.id)
            ).mappings()
        ]
    return run


def read_samples(store: Store, run_id: str, task: str) -> list[SampleRecord]:
    """The per-sample records of one task of one run, in document order."""
    return read_task_result(store, run_id, task).samples


def count_rows(store: Store) -> dict[str, int]:
    """Row counts of every table (tests use it to show a failed command left the store unchanged)."""
    from harness.store.schema import metadata

    with store.engine.connect() as conn:
        return {
            name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
            for name, table in metadata.tables.items()
        }
