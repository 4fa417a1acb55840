"""`harness.parallel`: a Forked result comes from a child process and equals the in-line one; what the work
raises is raised by result(); a child that dies is a clear error; a process running another thread, or a
daemon process, does not fork; threads run every job and raise the first failure.

The fork checks run in a spawned process of their own: the test session runs other threads once Ray's shared
cluster is up (its listener threads), and a process running other threads rightly never forks."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.parallel import Forked, can_fork, in_threads


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(7)


def _forks_a_child() -> None:
    pid, total = Forked(True, _pid_and_sum, list(range(1000))).result()
    assert pid != os.getpid() and total == sum(range(1000))
    assert Forked(False, _pid_and_sum, list(range(1000))).result() == (os.getpid(), total)
    with pytest.raises(ValueError, match="bad row 3"):
        Forked(True, _fails, "bad row 3").result()


def _reports_a_dead_child() -> None:
    with pytest.raises(RuntimeError, match=r"died without a result \(exit code 7"):
        Forked(True, _dies).result()


def _does_not_fork_from_a_daemon() -> None:
    pool = multiprocessing.get_context("fork").Pool(1)  # its workers are daemons: they may not start children
    try:
        pid, total = pool.apply(_forked_pid_and_sum, ([1, 2],))
    finally:
        pool.terminate()
    assert pid != os.getpid() and total == 3


def _forked_pid_and_sum(values: list[int]) -> tuple[int, int]:
    assert not can_fork()
    pid, total = Forked(True, _pid_and_sum, values).result()
    assert pid == os.getpid()
    return pid, total


def _does_not_fork_beside_another_thread() -> None:
    assert can_fork()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        assert Forked(True, _pid_and_sum, [1, 2]).result() == (os.getpid(), 3)
    finally:
        release.set()
        other.join()
    assert can_fork()


def _arena_rates_the_same_with_its_loops_in_children() -> None:
    """`harness arena --battles` with Elo, the fingerprint and the file's second half in children (the
    thresholds lowered to 0) gives the report the in-line run gives."""
    import json
    import tempfile
    from pathlib import Path

    from harness.arena import ratings, run
    from harness.arena.battles import ArenaConfig
    from harness.formats import core_columns

    rows = [{"model_a": f"m{k % 5}", "model_b": f"m{(k % 5 + 1 + k // 5 % 4) % 5}",
             "winner": ("model_a", "tie", "model_b")[k % 3], "judge": f"user{k % 4}"} for k in range(400)]
    config = ArenaConfig(bootstrap=30)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "battles.json"
        path.write_text(json.dumps(rows))
        in_line = run.run_arena(config, path, store=f"sqlite:///{tmp}/a.db").to_json()
        assert can_fork()
        ratings.FORK_FROM = run.FORK_FROM = core_columns._SPLIT_FROM = 0
        forked = run.run_arena(config, path, store=f"sqlite:///{tmp}/b.db").to_json()
    assert forked == in_line and len(in_line["models"]) == 5


@pytest.mark.parametrize("check", [_forks_a_child, _reports_a_dead_child, _does_not_fork_beside_another_thread,
                                   _does_not_fork_from_a_daemon, _arena_rates_the_same_with_its_loops_in_children])
def test_forks_in_a_process_of_its_own(check: Callable[[], None]) -> None:
    if not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs fork and two usable CPUs")
    process = multiprocessing.get_context("spawn").Process(target=check)
    process.start()
    process.join(120)
    assert process.exitcode == 0  # a failed check prints its traceback and exits 1


def _big(seconds: float) -> bytes:
    time.sleep(seconds)
    return b"x" * (4 << 20)  # more than a pipe holds: the send blocks until someone reads


def _dies_with_a_child_at_work(pid_file: str) -> None:
    job = Forked(True, _big, 0.5)
    Path(pid_file).write_text(str(job._child.pid))
    os._exit(0)  # as a kill -9 would: the child's result is never read


def test_a_child_whose_parent_died_exits(tmp_path: Path) -> None:
    if not hasattr(os, "fork") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs fork and two usable CPUs")
    pid_file = tmp_path / "child.pid"
    parent = multiprocessing.get_context("spawn").Process(target=_dies_with_a_child_at_work, args=(str(pid_file),))
    parent.start()
    parent.join(60)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie has exited


@pytest.mark.parametrize("worth", [True, False])
def test_what_the_work_raises_is_raised_by_result(worth: bool) -> None:
    with pytest.raises(ValueError, match="bad row 3"):
        Forked(worth, _fails, "bad row 3").result()


def test_threads_run_every_job_and_raise_the_first_failure() -> None:
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        with lock:
            seen.append((k, threading.current_thread().name))

    in_threads(work, [(k,) for k in range(20)], workers=3)
    assert sorted(k for k, _ in seen) == list(range(20))
    assert all(name.startswith("harness") for _, name in seen)
    in_threads(work, [(99,)], workers=3)  # one job: in line
    assert seen[-1] == (99, threading.current_thread().name)

    def fails(k: int) -> None:
        if k == 5:
            raise KeyError(k)

    with pytest.raises(KeyError):
        in_threads(fails, [(k,) for k in range(10)], workers=2)
