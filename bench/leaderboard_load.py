"""How fast the leaderboard loads a big store, as ratios to reading the same tables with plain pandas.

`python bench/leaderboard_load.py [--models 500 --tasks 60 --battles 200000 --samples 100000]` builds a
synthetic store (bench/synthetic_store.py) in a temporary folder, then times, median of `--repeat` runs:
- plain: `pandas.read_sql("SELECT * FROM <table>")` of every table the page reads (the peer);
- the app's data loaders, cold (caches cleared) and cached;
- AppTest rendering each page, cold and cached.
Targets from the issue: the leaderboard page renders in under 2x the plain read, cached in under 0.2x.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from synthetic_store import Spec, build

# The tables each page reads, for the plain-pandas peer.
PAGE_TABLES = {
    "leaderboard": ["models", "runs", "scores", "battles", "ratings"],
    "arena": ["battles", "ratings"],
    "model": ["models", "runs", "scores", "samples"],
    "compare": ["models", "runs", "scores", "samples", "battles", "generations", "judgments"],
    "runs": ["models", "runs", "task_results"],
}


def timed(func: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain_read(url: str, tables: list[str]) -> None:
    """The peer: read whole tables with pandas, nothing else."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for table in tables:
            pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
    engine.dispose()


def load_leaderboard_data() -> None:
    """What the leaderboard page loads: the store stamp and the full board."""
    from leaderboard_app import data

    source = data.current_source()
    data.load_board(source.url, source.stamp)


def render(page: str) -> Callable[[], None]:
    """A function that renders one page with a fresh AppTest session (the process-wide caches stay)."""
    from streamlit.testing.v1 import AppTest

    def run() -> None:
        at = AppTest.from_file(str(ROOT / "leaderboard_app" / "app.py"), default_timeout=300)
        at.run()
        if page != "leaderboard":
            at.switch_page(f"pages/{page}.py").run()
        if at.exception:
            raise RuntimeError(f"{page}: {at.exception[0].value}")

    return run


def cold(func: Callable[[], None]) -> Callable[[], None]:
    """`func` after clearing every cached query, so it reads the store again."""
    import streamlit as st

    def run() -> None:
        st.cache_data.clear()
        func()

    return run


def report(name: str, seconds: float, peer: float) -> None:
    print(f"{name:<38} {seconds * 1000:9.1f} ms   {seconds / peer:6.2f}x plain read")


def main() -> None:
    """Build the store, time everything, print one line per measurement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in (("models", 500), ("tasks", 60), ("battles", 200_000), ("samples", 100_000),
                          ("repeat", 3)):
        parser.add_argument(f"--{flag}", type=int, default=default)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # Streamlit's bare-mode warnings (no runtime, no script context)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        start = time.perf_counter()
        build(url, Spec(models=args.models, tasks=args.tasks, battles=args.battles, samples=args.samples,
                        questions=20, bootstrap=100))
        print(f"store: {args.models} models x {args.tasks} tasks, {args.battles:,} battles, "
              f"{args.samples:,} samples; built in {time.perf_counter() - start:.1f} s "
              f"({os.path.getsize(f'{tmp}/bench.db') / 2**20:.0f} MiB)")
        os.environ["HARNESS_STORE"] = url
        peers = {page: timed(lambda t=tables: plain_read(url, t), args.repeat) for page, tables in PAGE_TABLES.items()}
        for page, seconds in peers.items():
            print(f"plain read_sql of the {page} page's tables{'':<5} {seconds * 1000:9.1f} ms")
        peer = peers["leaderboard"]
        report("leaderboard data, cold", timed(cold(load_leaderboard_data), args.repeat), peer)
        report("leaderboard data, cached", timed(load_leaderboard_data, args.repeat), peer)
        for page in PAGE_TABLES:
            report(f"AppTest {page} page, cold", timed(cold(render(page)), args.repeat), peers[page])
            render(page)()  # fill the caches
            report(f"AppTest {page} page, cached", timed(render(page), args.repeat), peers[page])


if __name__ == "__main__":
    main()
