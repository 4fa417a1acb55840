"""Leases on units of work, so any number of processes and machines share one store without doing work twice.

A unit (an eval task's key, a judge call's key, a run as `run:<id>`) is claimed before it is computed: a row with
its owner (host, pid, a random token), a heartbeat and an expiry. A `Heartbeat` thread keeps an owner's leases
alive; finishing a unit releases its lease. A lease whose expiry has passed, or whose owner is a process on this
host that no longer exists, is dead: the next claim takes it over. Claims are plain inserts that ignore
conflicts, so they are atomic on SQLite and PostgreSQL alike; nothing holds a database lock while work runs.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Self

import sqlalchemy as sa

from harness.store.engine import Store, insert_new
from harness.store.runs import now
from harness.store.schema import leases, runs

DEFAULT_TTL_S = 60.0
_CHUNK = 500


@dataclass(frozen=True)
class Owner:
    """Who holds a lease: a process on a host, told apart from a later process with the same pid by `token`."""

    host: str
    pid: int
    token: str

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


@dataclass(frozen=True)
class Lease:
    """One stored lease."""

    key: str
    kind: str
    owner: str
    host: str
    pid: int
    run_id: str | None
    heartbeat_at: float
    expires_at: float


@cache
def _owner_for(pid: int) -> Owner:
    return Owner(socket.gethostname(), pid, secrets.token_hex(4))


def this_process() -> Owner:
    """The owner identity of the calling process (a forked child gets its own)."""
    return _owner_for(os.getpid())


def lease_ttl() -> float:
    """Seconds a lease lives without a heartbeat (HARNESS_LEASE_TTL, default 60)."""
    return float(os.environ.get("HARNESS_LEASE_TTL") or DEFAULT_TTL_S)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def is_dead(lease: Lease, now: float | None = None) -> bool:
    """True when the lease expired, or its owner is a process on this host that is gone."""
    now = time.time() if now is None else now
    if lease.expires_at < now:
        return True
    return lease.host == socket.gethostname() and not _pid_alive(lease.pid)


def holders(store: Store, keys: Iterable[str]) -> dict[str, Lease]:
    """The stored leases among `keys`, live or dead."""
    found: dict[str, Lease] = {}
    wanted = list(dict.fromkeys(keys))
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            query = sa.select(leases).where(leases.c.key.in_(wanted[start:start + _CHUNK]))
            found.update({r.key: Lease(r.key, r.kind, r.owner, r.host, r.pid, r.run_id, r.heartbeat_at,
                                       r.expires_at) for r in conn.execute(query)})
    return found


def claim(store: Store, keys: Iterable[str], kind: str, owner: Owner | None = None, run_id: str | None = None,
          ttl: float | None = None) -> set[str]:
    """Claim every free or dead unit among `keys`; returns the keys this owner now holds (its own included)."""
    owner = owner or this_process()
    ttl = lease_ttl() if ttl is None else ttl
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    held = holders(store, wanted)
    dead = [lease for lease in held.values() if lease.owner != owner.id and is_dead(lease)]
    now = time.time()
    with store.begin() as conn:
        for lease in dead:  # compare-and-delete: only if nobody took it over meanwhile
            conn.execute(sa.delete(leases).where(leases.c.key == lease.key, leases.c.owner == lease.owner,
                                                 leases.c.heartbeat_at == lease.heartbeat_at))
        fresh = [{"key": k, "kind": kind, "owner": owner.id, "host": owner.host, "pid": owner.pid, "run_id": run_id,
                  "acquired_at": now, "heartbeat_at": now, "expires_at": now + ttl}
                 for k in wanted if k not in held or held[k] in dead]
        insert_new(conn, leases, fresh, ["key"])
    return {k for k, lease in holders(store, wanted).items() if lease.owner == owner.id}


def release(store: Store, keys: Iterable[str], owner: Owner | None = None) -> None:
    """Drop this owner's leases on `keys` (finished or abandoned work)."""
    owner = owner or this_process()
    wanted = list(dict.fromkeys(keys))
    with store.begin() as conn:
        for start in range(0, len(wanted), _CHUNK):
            conn.execute(sa.delete(leases).where(leases.c.key.in_(wanted[start:start + _CHUNK]),
                                                 leases.c.owner == owner.id))


def renew(store: Store, owner: Owner | None = None, ttl: float | None = None) -> int:
    """Push the expiry of every lease this owner holds; returns how many it holds."""
    owner = owner or this_process()
    now = time.time()
    ttl = lease_ttl() if ttl is None else ttl
    with store.begin() as conn:
        result = conn.execute(sa.update(leases).where(leases.c.owner == owner.id)
                              .values(heartbeat_at=now, expires_at=now + ttl))
    return int(result.rowcount or 0)


class Heartbeat:
    """A daemon thread renewing this process's leases every ttl/4 seconds while a `with` block runs."""

    def __init__(self, store: Store, ttl: float | None = None) -> None:
        self.store, self.ttl = store, lease_ttl() if ttl is None else ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="harness-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                renew(self.store, ttl=self.ttl)
            except sa.exc.SQLAlchemyError:  # a busy or unreachable store: the next beat tries again
                continue

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def held(store: Store, keys: Iterable[str], kind: str, run_id: str | None = None) -> Iterator[set[str]]:
    """Claim `keys` for the block (yields those claimed) and release them after it, whatever happens."""
    claimed = claim(store, keys, kind, run_id=run_id)
    try:
        yield claimed
    finally:
        release(store, claimed)


def run_key(run_id: str) -> str:
    """The lease key that marks a run as alive."""
    return f"run:{run_id}"


def sweep_dead_leases(store: Store) -> int:
    """Drop every work lease whose owner died (expired, or its pid gone on this host): a killed process's claims
    are released even when nobody asks for the same work again. Run leases are left to `reconcile_runs`, which
    marks their runs first. Returns how many were dropped."""
    with store.engine.connect() as conn:
        stored = [Lease(r.key, r.kind, r.owner, r.host, r.pid, r.run_id, r.heartbeat_at, r.expires_at)
                  for r in conn.execute(sa.select(leases).where(leases.c.kind != "run"))]
    dead = [lease for lease in stored if is_dead(lease)]
    if dead:
        with store.begin() as conn:
            for lease in dead:  # compare-and-delete: only if nobody took it over meanwhile
                conn.execute(sa.delete(leases).where(leases.c.key == lease.key, leases.c.owner == lease.owner,
                                                     leases.c.heartbeat_at == lease.heartbeat_at))
    return len(dead)


def reconcile_runs(store: Store) -> list[str]:
    """Mark `running` runs whose run lease is dead or missing as `interrupted`; returns their ids."""
    with store.engine.connect() as conn:
        running = list(conn.execute(sa.select(runs.c.id).where(runs.c.status == "running")).scalars())
    if not running:
        return []
    alive = holders(store, [run_key(r) for r in running])
    dead = [r for r in running if run_key(r) not in alive or is_dead(alive[run_key(r)])]
    if not dead:
        return []
    with store.begin() as conn:
        for run_id in dead:
            lease = alive.get(run_key(run_id))
            why = "its process is gone" if lease is None or lease.expires_at >= time.time() else "its lease expired"
            conn.execute(sa.update(runs).where(runs.c.id == run_id, runs.c.status == "running").values(
                status="interrupted", error=f"interrupted: {why} (found when the store was next opened)",
                finished_at=now()))
            conn.execute(sa.delete(leases).where(leases.c.key == run_key(run_id)))
    return dead
