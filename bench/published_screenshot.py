"""Screenshots of published rows beside the demo's models, and of a `harness publish` folder, in Chromium.

`python bench/published_screenshot.py [--store URL] [--data ../shared/data] [--out docs/img]`. Without
`--store` it builds a small store with the demo's three models (tiny-base, tiny-alpaca, tiny-vicuna) and
the smoke-suite scores `make demo` measured for them (fine_tune/README.md: arith_mc acc and arith_gen exact
match with their stderr), because running the demo takes ~9 minutes. Into that store it imports the real
published tables (llm-leaderboard README, the LMSYS 2023-06-22 table, AlpacaEval 1) with
`harness published import`, then `harness publish`es it and serves the folder with `streamlit run app.py`.
Writes leaderboard_published.png (all rows), leaderboard_published_vicuna.png (search "vicuna": the demo's
Vicuna variant beside the published Vicunas) and published_app.png (the published folder's app).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from leaderboard_screenshots import shrink

from tests.streamlit_server import browser_missing, chromium_page, serve_leaderboard, serve_published

# `make demo` results (fine_tune/README.md, "Measured here"): (arith_mc acc, stderr), (arith_gen EM, stderr)
DEMO = {"tiny-base": ("base", None, (0.215, 0.029), (0.000, 0.0)),
        "tiny-alpaca": ("full", "alpaca", (0.825, 0.027), (0.610, 0.035)),
        "tiny-vicuna": ("full", "vicuna", (0.160, 0.026), (0.170, 0.027))}
WIDTH = 2200  # the published columns make a wide table
TABLES = ["llm_leaderboard_stumpp/README.md", "published_tables/lmsys_blog_2023-06-22_mtbench_arena.csv",
          "alpaca_eval/leaderboards/data_AlpacaEval/alpaca_eval_gpt4_leaderboard.csv"]


def build_demo_store(url: str, data: Path) -> None:
    """The demo's models with their measured smoke scores, plus the real published tables."""
    from harness.publish.imports import import_published
    from harness.records import ModelRecord, Score, TaskResult
    from harness.store import open_store
    from harness.store.runs import create_run, finish_run, upsert_model, write_task_result

    store = open_store(url)
    for name, (kind, recipe, mc, gen) in DEMO.items():
        model_id = upsert_model(store, ModelRecord(
            name=name, source=f"results/demo/{name.removeprefix('tiny-')}", fingerprint=f"sha256:{name}", kind=kind,
            base_model=None if kind == "base" else "tiny-base", recipe=recipe, n_params=960_000))
        run_id = create_run(store, model_id, {"suite": "smoke", "tasks": [{"task": "arith_mc"}, {"task": "arith_gen"}],
                                              "config": {}, "config_hash": "h", "backend": "hf", "versions": {},
                                              "chat_template": recipe or "alpaca"})
        for task, metric, (value, stderr) in (("arith_mc", "acc", mc), ("arith_gen", "exact_match", gen)):
            write_task_result(store, run_id, TaskResult(
                task=task, task_hash="sha256:smoke", eval_key=f"{name}-{task}", num_fewshot=0, samples=[],
                scores=[Score(task=task, metric=metric, filter="none", value=value, stderr=stderr, n=200,
                              higher_is_better=True)]))
        finish_run(store, run_id, "finished")
    for relative in TABLES:
        done = import_published(data / relative, store_url=url)
        print(f"{relative}: {done.results_written} published results of {done.models} models")


def shoot(page: Any, url: str, target: Path, search: str | None = None) -> None:
    """Load the Leaderboard page, optionally search, grow the window to the page and save a PNG."""
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
    if search:
        page.get_by_label("Search models").fill(search)
        page.keyboard.press("Enter")
        page.wait_for_timeout(2500)
    page.wait_for_timeout(1000)
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": WIDTH, "height": min(int(height) + 40, 4000)})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(target), full_page=True)
    print(f"{target}: {shrink(target) / 1024:.0f} KiB")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="Store URL to show [default: the demo's models + published tables].")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        sys.exit(f"cannot take screenshots: {reason}")
    from harness.publish.snapshot import publish

    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{tmp}/demo.db"
        if not args.store:
            build_demo_store(url, args.data)
        folder = Path(publish(Path(tmp) / "site", url, title="harness demo leaderboard").out)
        with serve_leaderboard(url, Path(tmp) / "app.log") as base, chromium_page(WIDTH, 1000) as page:
            shoot(page, base, args.out / "leaderboard_published.png")
            shoot(page, base, args.out / "leaderboard_published_vicuna.png", search="vicuna")
        with serve_published(folder, Path(tmp) / "published.log") as base, chromium_page(WIDTH, 1000) as page:
            shoot(page, base, args.out / "published_app.png", search="alpaca")


if __name__ == "__main__":
    main()
