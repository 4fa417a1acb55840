"""REF resolution for `harness gate` and `harness baseline set`: a run id, a pinned baseline name or a model name.

`resolve_ref` turns a REF into a `RunRef` (a model name means its newest finished run having the tasks);
`pin_baseline` resolves a REF now and pins a name to that run. The SQL lives in `harness.store.baselines`.
"""

from __future__ import annotations

from typing import Any

from harness.errors import HarnessError
from harness.gate.checks import RunRef
from harness.store import open_store
from harness.store.baselines import finished_runs_of, get_baseline, model_exists, run_tasks, set_baseline
from harness.store.engine import Store
from harness.store.runs import read_run


def latest_run_with_tasks(store: Store, model_name: str, tasks: list[str]) -> str | None:
    """The newest finished run of `model_name` that has results for every task in `tasks` (any, if empty)."""
    for run_id in finished_runs_of(store, model_name):
        if set(tasks) <= set(run_tasks(store, run_id)):
            return run_id
    return None


def _run_ref(ref: str, run: dict[str, Any]) -> RunRef:
    if run["status"] != "finished":
        raise HarnessError(f"run {run['id']} is {run['status']}, not finished", hint="gate on a finished run")
    return RunRef(ref, run["id"], run["model"], "run id", run["chat_template"])


def resolve_ref(store: Store, ref: str, tasks: list[str]) -> RunRef:
    """A run id, a pinned baseline name, a model name (its newest finished run having `tasks`) or a unique
    prefix of a run id, tried in that order.

    Raises:
        HarnessError: the run is unfinished, the pin dangles, the prefix is ambiguous, or REF names nothing
            with those tasks.
    """
    run = read_run(store, ref, prefix=False)
    if run is not None:
        return _run_ref(ref, run)
    pinned = get_baseline(store, ref)
    if pinned is not None:
        run = read_run(store, pinned.run_id, prefix=False)
        if run is None:
            raise HarnessError(f"baseline {ref!r} points at run {pinned.run_id}, which is not in this store",
                               hint=f"re-pin it with `harness baseline set {ref} RUN`")
        return RunRef(ref, pinned.run_id, run["model"], f"baseline {ref}", run["chat_template"])
    if not model_exists(store, ref):
        run = read_run(store, ref)
        if run is not None:
            return _run_ref(ref, run)
        raise HarnessError(f"unknown ref {ref!r}: not a run id, pinned baseline or model name",
                           hint="see `harness runs list` and `harness baseline list`")
    run_id = latest_run_with_tasks(store, ref, tasks)
    if run_id is None:
        wanted = f" with tasks {', '.join(tasks)}" if tasks else ""
        raise HarnessError(f"model {ref!r} has no finished run{wanted}",
                           hint=f"run `harness eval --model {ref} --tasks {','.join(tasks) or 'arith'}` first")
    run = read_run(store, run_id, prefix=False)
    assert run is not None
    return RunRef(ref, run_id, run["model"], "model name", run["chat_template"])


def pin_baseline(name: str, ref: str, store_url: str | None = None) -> RunRef:
    """`harness baseline set NAME REF`: resolve REF now and pin NAME to that run id."""
    if not name.strip():
        raise HarnessError("a baseline name cannot be empty", hint="e.g. `harness baseline set main RUN`")
    store = open_store(store_url)
    if read_run(store, name, prefix=False) is not None:
        raise HarnessError(f"baseline name {name!r} is a run id", hint="pick another name, e.g. main")
    resolved = resolve_ref(store, ref, [])
    set_baseline(store, name, resolved.run_id)
    return resolved
