"""A real `streamlit run` of the leaderboard on 127.0.0.1 and headless Chromium pages on it.

Used by `tests/test_browser.py`, `bench/leaderboard_screenshots.py` and `bench/published_screenshot.py`. The server runs as a child process
whose own PID is kept (not a shell's), and is terminated on exit. Chromium is Debian's `/usr/bin/chromium`
driven by Playwright; `playwright install` is never needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_missing() -> str | None:
    """Why a browser check cannot run here, or None when it can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent: `apt-get install -y chromium` enables the browser check"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is absent: pip install -e '.[dev]'"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode} before it served")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer {base}/_stcore/health within {timeout:.0f} s")


@contextmanager
def serve(command: list[str], log: Path, env: dict[str, str], cwd: Path | None = None,
          timeout: float = 60.0) -> Iterator[str]:
    """Run a `streamlit run` command line (its port already chosen) for the block; yields its base URL."""
    port = command[command.index("--server.port") + 1]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, proc, timeout)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def serve_leaderboard(store_url: str, log: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run the leaderboard on a free port for the duration of the block; yields its base URL."""
    from leaderboard_app import streamlit_command

    env = {**os.environ, "HARNESS_STORE": store_url}
    with serve(streamlit_command(store_url, free_port()), log, env, timeout=timeout) as base:
        yield base


@contextmanager
def serve_published(folder: Path, log: Path, timeout: float = 60.0) -> Iterator[str]:
    """`streamlit run app.py` inside a `harness publish` folder, as a deployment runs it: no HARNESS_STORE,
    no PYTHONPATH, so the folder's own code and snapshot are what is served."""
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
               "--server.port", str(free_port()), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_STORE", "PYTHONPATH")}
    with serve(command, log, env, cwd=folder, timeout=timeout) as base:
        yield base


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
