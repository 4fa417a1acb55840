"""How `harness judge` makes its calls: each claimed in the store (a lease) before it is asked, at most a window
in flight, the rest in this process's own shuffled order, and every finished judgment written with whatever
else finished meanwhile (group commit). Used by `harness.judge.run`; a killed run loses only calls in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.client import BudgetExceeded
from harness.judge.plan import Job
from harness.records import Battle, Judgment
from harness.store import Store
from harness.store.judgments import find_judgments, write_judgments
from harness.store.leases import claim, release

POLL_S = 1.0  # how often calls another process holds are looked for again


class Book(Protocol):
    """Where finished judgments go: each returns the battles it completes."""

    jobs: list[Job]

    def add(self, record: Judgment) -> list[Battle]: ...


@dataclass
class RunStats:
    """Counts of one `harness judge` run."""

    planned: int = 0
    cached: int = 0
    called: int = 0
    errors: int = 0
    skipped_budget: int = 0
    battles_written: int = 0


def _write(store: Store, items: list[tuple[Judgment, list[Battle]]]) -> int:
    return write_judgments(store, [j for j, _ in items], [b for _, bs in items for b in bs])


async def _writer(store: Store, queue: asyncio.Queue[Any], stats: RunStats) -> None:
    """Group commit: every finished judgment is written with whatever else finished meanwhile."""
    while True:
        batch = [await queue.get()]
        while not queue.empty():
            batch.append(queue.get_nowait())
        items = [item for item in batch if item is not None]
        if items:
            stats.battles_written += await asyncio.to_thread(_write, store, items)
        if None in batch:
            return


def _drain(store: Store, queue: asyncio.Queue[Any]) -> None:
    items = []
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            items.append(item)
    if items:
        _write(store, items)


@dataclass
class Dispatch:
    """A run's calls as they are claimed, asked and written: at most `window` in flight, the rest queued
    in this process's own shuffled order (two processes start at different ends), calls another process holds
    deferred until its judgments arrive or its lease dies."""

    store: Store
    ask: Callable[[Job], Awaitable[Judgment]]
    book: Book
    stats: RunStats
    advance: Callable[[], None]
    window: int
    order: list[Job] = field(default_factory=list)
    deferred: list[Job] = field(default_factory=list)
    running: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, queue: asyncio.Queue[Any]) -> None:
        """Claim calls for the free slots of the window and start them; the others are deferred.

        The claim runs in a thread: it may wait for another writer's lock, and replies keep being read meanwhile.
        """
        take = self.order[: 2 * (self.window - len(self.running))]
        del self.order[: len(take)]
        mine = await asyncio.to_thread(claim, self.store, [job.key for job in take], "judge")
        # a call another process finished and released after this one planned is taken, not asked again
        found = await asyncio.to_thread(find_judgments, self.store, [job.key for job in take if job.key in mine])
        done = self.arrived(found)
        for job in take:
            if job.key in done:
                continue
            if job.key in mine:
                self.running.add(asyncio.create_task(self.one(job, queue)))
            else:
                self.deferred.append(job)

    async def one(self, job: Job, queue: asyncio.Queue[Any]) -> None:
        try:
            judgment = await self.ask(job)
        except BudgetExceeded:
            self.stats.skipped_budget += 1
            release(self.store, [job.key])
            return
        self.stats.called += 1
        self.stats.errors += judgment.status == "error"
        queue.put_nowait((judgment, self.book.add(judgment)))
        self.advance()

    def arrived(self, found: dict[str, Judgment]) -> set[str]:
        """The keys of the `found` judgments another process stored ok: each counts as done here."""
        arrived = {key for key, j in found.items() if j.status == "ok"}
        for key in arrived:
            self.book.add(found[key])
            self.advance()
        self.stats.cached += len(arrived)
        return arrived

    def collect_deferred(self) -> None:
        """Judgments other processes wrote for deferred calls count as done; the rest are tried again."""
        arrived = self.arrived(find_judgments(self.store, [job.key for job in self.deferred]))
        self.order += [job for job in self.deferred if job.key not in arrived]
        self.deferred = []

    async def run(self) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        writer = asyncio.create_task(_writer(self.store, queue, self.stats))
        try:
            while self.order or self.deferred or self.running:
                if self.order and len(self.running) < self.window:
                    await self.start(queue)
                if self.running:
                    done, self.running = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
                    # a fatal error (refused key, unreachable endpoint) ends the run; every finished task's
                    # exception is read, so none is reported later as "never retrieved"
                    fatal = [exc for task in done if (exc := task.exception()) is not None]
                    if fatal:
                        raise fatal[0]
                elif self.deferred and not self.order:
                    await asyncio.sleep(POLL_S)
                    self.collect_deferred()
            queue.put_nowait(None)
            await writer
        finally:
            for task in [*self.running, writer]:
                task.cancel()
            await asyncio.gather(*self.running, writer, return_exceptions=True)
            _drain(self.store, queue)  # whatever finished but was not yet written (interrupt or fatal error)
            release(self.store, [job.key for job in self.book.jobs])  # this process's leases only
