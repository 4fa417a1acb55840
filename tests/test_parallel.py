"""`harness.parallel`: a Forked result comes from a child process and equals the in-line one; what the work
raises is raised by result(); a child that dies is a clear error; threads run every job and raise the first
failure."""

from __future__ import annotations

import os
import threading

import pytest

from harness.parallel import Forked, can_fork, in_threads


@pytest.fixture
def forks() -> None:
    """Skips where a Forked would run in line: no fork, one usable CPU, or a thread another test left running."""
    if not can_fork():
        pytest.skip("needs fork, two usable CPUs and no other thread running")


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(7)


def test_forked_work_runs_in_a_child_and_returns_what_in_line_work_returns(forks: None) -> None:
    pid, total = Forked(True, _pid_and_sum, list(range(1000))).result()
    assert pid != os.getpid() and total == sum(range(1000))
    assert Forked(False, _pid_and_sum, list(range(1000))).result() == (os.getpid(), total)


def test_a_process_running_other_threads_does_not_fork(forks: None) -> None:
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


@pytest.mark.parametrize("worth", [True, False])
def test_what_the_work_raises_is_raised_by_result(worth: bool) -> None:
    job = Forked(worth, _fails, "bad row 3")
    with pytest.raises(ValueError, match="bad row 3"):
        job.result()


def test_a_child_that_dies_is_a_clear_error(forks: None) -> None:
    with pytest.raises(RuntimeError, match=r"died without a result \(exit code 7"):
        Forked(True, _dies).result()


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
