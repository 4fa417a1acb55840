"""The store under several processes at once (SQLite and PostgreSQL): opening a new store, registering the same
model, claiming the same units of work, and runs whose process was killed."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.records import ModelRecord
from harness.store import open_store
from harness.store.leases import claim, holders, release, run_key, this_process
from harness.store.migrations import MIGRATIONS
from harness.store.runs import create_run, list_runs, new_run_id, upsert_model

PROCESSES = 6
_ctx = mp.get_context("spawn")


def _together(start: float) -> None:
    time.sleep(max(0.0, start - time.time()))


def _open_and_register(url: str, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        _together(start)
        store = open_store(url)
        model_id = upsert_model(store, ModelRecord(name="same", source="/m", fingerprint="sha256:same"))
        out.put(("ok", model_id))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which fails the test with it
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _register_by_own_name(url: str, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        store = open_store(url)
        _together(start)
        name = f"name-{os.getpid()}"
        out.put(("ok", (name, upsert_model(store, ModelRecord(name=name, source=name, fingerprint="sha256:new")))))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _claim(url: str, start: float, keys: list[str], out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        store = open_store(url)
        _together(start)
        out.put(("ok", sorted(claim(store, keys, "eval"))))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _run(target: object, *args: object) -> list[tuple[str, object]]:
    out = _ctx.Queue()
    start = time.time() + 3.0  # every process is imported and waiting by then
    procs = [_ctx.Process(target=target, args=(*args[:1], start, *args[1:], out)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def test_processes_open_a_new_store_and_register_one_model_together(new_store_url: str) -> None:
    url = new_store_url
    results = _run(_open_and_register, url)
    assert [r for r in results if r[0] != "ok"] == []
    assert len({model_id for _, model_id in results}) == 1
    with open_store(url).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM models")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM _migrations")).scalar() == len(MIGRATIONS)


def test_processes_registering_one_new_checkpoint_by_different_names_make_one_model(new_store_url: str) -> None:
    """A model is its fingerprint: names given at the same instant all become aliases of one row."""
    url = new_store_url
    open_store(url)
    results = _run(_register_by_own_name, url)
    assert [r for r in results if r[0] != "ok"] == []
    assert len({model_id for _, (_, model_id) in results}) == 1  # type: ignore[misc]
    with open_store(url).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM models")).scalar() == 1
        aliases = set(conn.execute(sa.text("SELECT alias FROM model_aliases")).scalars())
    assert {name for _, (name, _) in results} <= aliases  # type: ignore[misc]


def test_each_unit_is_claimed_by_exactly_one_process(new_store_url: str) -> None:
    url = new_store_url
    open_store(url)
    keys = [f"unit-{i}" for i in range(40)]
    results = _run(_claim, url, keys)
    assert [r for r in results if r[0] != "ok"] == []
    won = [key for _, claimed in results for key in claimed]  # type: ignore[union-attr]
    assert sorted(won) == sorted(keys)  # every unit once: none twice, none lost


def _hold_forever(url: str, run_id: str, ready: mp.Event) -> None:  # type: ignore[type-arg]
    store = open_store(url)
    claim(store, [run_key(run_id), "unit-x"], "run", run_id=run_id)
    model_id = upsert_model(store, ModelRecord(name="m", source="/m", fingerprint="sha256:m"))
    create_run(store, model_id, {"suite": None, "tasks": [], "config": {}, "config_hash": "h", "backend": "hf",
                                 "versions": {}}, run_id=run_id)
    ready.set()
    time.sleep(600)


def test_a_killed_run_is_interrupted_and_its_units_are_free_again(new_store_url: str) -> None:
    url = new_store_url
    run_id = new_run_id()
    ready = _ctx.Event()
    proc = _ctx.Process(target=_hold_forever, args=(url, run_id, ready))
    proc.start()
    assert ready.wait(60)
    store = open_store(url)
    assert [r["status"] for r in list_runs(store)] == ["running"]  # alive: left alone
    assert claim(store, ["unit-x"], "eval") == set()
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    reopened = open_store(url)  # a dead owner's run is reconciled when the store is next opened
    run = list_runs(reopened)[0]
    assert run["status"] == "interrupted" and "process is gone" in run["error"]
    assert claim(reopened, ["unit-x"], "eval") == {"unit-x"}  # its unit is taken over
    assert holders(reopened, ["unit-x"])["unit-x"].owner == this_process().id
    release(reopened, ["unit-x"])
    assert holders(reopened, ["unit-x"]) == {}


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(new_store_url: str) -> None:
    url = new_store_url
    store = open_store(url)
    other = this_process().__class__("elsewhere", 1, "abcd")  # a process on another machine
    assert claim(store, ["a"], "judge", owner=other, ttl=3600) == {"a"}
    assert claim(store, ["b"], "judge", owner=other, ttl=-1) == {"b"}  # its heartbeat stopped long ago
    assert claim(store, ["a", "b", "c"], "judge") == {"b", "c"}
    assert holders(store, ["a"])["a"].owner == other.id


def test_opening_the_store_releases_the_claims_of_dead_owners(new_store_url: str) -> None:
    """A killed judge's claims on calls nobody asks for again are dropped the next time the store is opened;
    claims of live owners, here or on another machine within their expiry, stay."""
    import socket

    store = open_store(new_store_url)
    dead_here = this_process().__class__(socket.gethostname(), _ended_pid(), "dead")  # a pid that no longer runs
    elsewhere = this_process().__class__("elsewhere", 1, "live")
    claim(store, ["dead-call"], "judge", owner=dead_here, ttl=3600)
    claim(store, ["expired-call"], "judge", owner=elsewhere, ttl=-1)
    claim(store, ["live-call"], "judge", owner=elsewhere, ttl=3600)
    claim(store, ["mine"], "unit")
    open_store(new_store_url)
    assert set(holders(store, ["dead-call", "expired-call", "live-call", "mine"])) == {"live-call", "mine"}


def _ended_pid() -> int:
    proc = _ctx.Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    return int(proc.pid or 0)


def test_a_new_store_opens_while_another_connection_holds_its_write_lock(tmp_path: Path) -> None:
    """SQLite answers `PRAGMA journal_mode = WAL` on a file still in rollback mode with "database is locked" at
    once (no busy handler) while another connection holds the write lock, as when processes open a new store
    together: the store waits for the lock instead (the race behind a rare failure of the test above)."""
    import sqlite3
    import threading

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE elsewhere (a)")
    with sqlite3.connect(path, isolation_level=None) as plain, pytest.raises(sqlite3.OperationalError, match="locked"):
        plain.execute("PRAGMA busy_timeout = 60000")
        plain.execute("PRAGMA journal_mode = WAL")  # what SQLite alone does: no wait
    released = threading.Timer(0.5, holder.execute, args=("COMMIT",))
    released.start()
    store = open_store(f"sqlite:///{path}")
    released.join()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.execute(sa.text("SELECT count(*) FROM _migrations")).scalar() == len(MIGRATIONS)
