"""Work on both cores: numpy work on threads (`in_threads`), Python work in a forked child (`Forked`).

numpy releases the GIL in its loops, so independent numpy work (the bootstrap's batches of rounds) runs on
threads. `harness arena` on a large file also spends much of its time in work that holds the GIL: parsing the
file into Python objects, online Elo in battle order, the battle-set fingerprint's million byte strings. On
a thread that work would take the GIL from the rest; a forked child (a copy of the process, its memory shared
copy-on-write, started in ~10 ms) runs it without. Small inputs, one CPU, or a platform without fork: the
work runs in line, with the same result.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")

FORK_FROM = 200_000
"""Battles from which work over them goes to a child: below it, the fork costs more than it saves."""


class Forked(Generic[T]):
    """`work(*args)`, in a forked child when the caller finds it `worth` one, this process may use another
    CPU and runs no other thread (`can_fork`); `result()` waits for it and returns it, or raises what it
    raised."""

    def __init__(self, worth: bool, work: Callable[..., T], *args: Any) -> None:
        self._outcome: tuple[bool, Any] | None = None
        if not worth or not can_fork():
            self._outcome = _run(work, args)
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._child = context.Process(target=_child, args=(self._receive, send, work, args), daemon=True,
                                      name=f"harness-{getattr(work, '__name__', 'work')}")
        self._child.start()
        send.close()

    def result(self) -> T:
        if self._outcome is None:
            try:
                self._outcome = self._receive.recv()
            except EOFError:
                self._child.join()
                raise RuntimeError(f"the child process {self._child.name} died without a result "
                                   f"(exit code {self._child.exitcode}; out of memory?)") from None
            finally:
                self._receive.close()
                self._child.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def in_threads(work: Callable[..., None], jobs: list[tuple[Any, ...]], workers: int | None = None) -> None:
    """`work(*job)` for each job, on `workers` threads (default: one per usable CPU; in line for one job or
    one worker); the first exception is raised."""
    workers = min(len(jobs), workers or usable_cpus())
    if workers <= 1:
        for job in jobs:
            work(*job)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="harness") as pool:
        for future in [pool.submit(work, *job) for job in jobs]:
            future.result()


def can_fork() -> bool:
    """Whether a `Forked` would run in a child: fork exists here, this process may use two CPUs, and it runs
    only the calling thread (a lock another thread holds at the fork, in logging or a buffered stream, stays
    held in the child for good: so from a threaded caller, such as the Streamlit leaderboard, work runs in
    line), and it is not a daemon process (a pool's worker), which multiprocessing lets start no child."""
    return (usable_cpus() >= 2 and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1 and not multiprocessing.current_process().daemon)


def _run(work: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, work(*args)
    except Exception as exc:  # noqa: BLE001 - handed to result(), which raises it
        return False, exc


def _child(receive: Connection, send: Connection, work: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """In the child: close its copy of the pipe's read end first, so that when the parent dies the pipe has no
    reader left and the send fails (the child exits) instead of blocking on a full pipe for good."""
    receive.close()
    send.send(_run(work, args))
    send.close()
