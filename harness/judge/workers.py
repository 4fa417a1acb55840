"""`harness judge --workers N`: the calls split over N processes, each with its own async pool and store
connection, because one Python process spends 1-2 ms of CPU per call (the SDK, HTTP, the store) and so cannot
keep 64 calls in flight against a fast endpoint. Share 0 runs in the calling process, shares 1..N-1 in child
processes; each claims its calls through the store's leases like any other `harness judge`.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from harness.errors import RunFailed
from harness.parallel import usable_cpus

T = TypeVar("T")
CALLS_PER_WORKER = 32  # calls in flight one process keeps up with (docs/performance.md, judge section)
_POLL_S = 0.2

# share index, number of shares, a callback per finished call -> the share's result
RunShare = Callable[[int, int, Callable[[], None]], T]


def worker_count(requested: int | None, concurrency: int, units: int) -> int:
    """Processes for a run: `requested`, or one per CALLS_PER_WORKER calls in flight and at most one per CPU
    this process may run on (its affinity: a container or `taskset` may allow fewer than the machine has);
    never more than the calls in flight (each needs one) or the units of work (a pair's two orders are one)."""
    wanted = requested or min(usable_cpus(), -(-concurrency // CALLS_PER_WORKER))
    return max(1, min(wanted, concurrency, units))


def share_of(total: int, index: int, shares: int) -> int:
    """Share `index`'s part of `total` (calls in flight), the remainder going to the first shares."""
    return total // shares + (index < total % shares)


def _context() -> Any:
    # fork: a child starts in milliseconds with harness already imported (spawn re-imports: ~1 s a child)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _child(run_share: RunShare[Any], index: int, shares: int, done: Any, results: Any) -> None:
    def advance() -> None:
        with done.get_lock():
            done.value += 1

    try:
        results.put((index, run_share(index, shares, advance), None))
    except BaseException as exc:  # noqa: BLE001 -- not swallowed: the parent raises it
        try:
            pickle.dumps(exc)  # it must survive the queue to get there
        except Exception:  # noqa: BLE001 -- any unpicklable exception: its text goes instead
            exc = RunFailed(f"judge worker {index} failed: {type(exc).__name__}: {exc}")
        results.put((index, None, exc))


@dataclass
class Workers(Generic[T]):
    """Shares 1..N-1 running in child processes; `finished` counts their calls done so far."""

    processes: list[Any]
    done: Any
    results: Any

    @property
    def finished(self) -> int:
        return int(self.done.value)

    def wait(self, poll: Callable[[], None] = lambda: None) -> list[T]:
        """Each child's result in share order (calling `poll` meanwhile); raises a child's error, or RunFailed
        when a child died without a result (killed: its finished calls are stored, a re-run resumes)."""
        got: dict[int, T] = {}
        while len(got) < len(self.processes):
            try:
                index, result, error = self.results.get(timeout=_POLL_S)
            except queue.Empty:
                poll()
                dead = [i + 1 for i, p in enumerate(self.processes) if p.exitcode is not None and i + 1 not in got]
                if dead and self.results.empty():
                    code = self.processes[dead[0] - 1].exitcode
                    raise RunFailed(f"judge worker {dead[0]} died (exit code {code})",
                                    hint="finished calls are stored: re-run to resume") from None
                continue
            if error is not None:
                raise error
            got[index] = result
        poll()
        return [got[i] for i in sorted(got)]


@contextmanager
def start_workers(shares: int, run_share: RunShare[T]) -> Iterator[Workers[T]]:
    """Start shares 1..`shares`-1 of `run_share` in child processes (none when `shares` is 1); on leaving
    early (an error, Ctrl-C) the children are interrupted, so each writes what it finished and frees its claims.

    Call this before starting threads: a forked child gets only the calling thread.
    """
    context = _context()
    done, results = context.Value("i", 0), context.Queue()
    processes = [context.Process(target=_child, args=(run_share, i, shares, done, results), daemon=True,
                                 name=f"harness-judge-{i}") for i in range(1, shares)]
    for process in processes:
        process.start()
    try:
        yield Workers(processes, done, results)
    finally:
        for process in processes:
            if process.exitcode is None and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join(timeout=10)
            if process.exitcode is None:
                process.kill()
                process.join()
