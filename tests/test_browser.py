"""Browser check: `streamlit run` the leaderboard on 127.0.0.1 and load it in headless Chromium.

Skips with the reason when /usr/bin/chromium (Debian's `chromium` package) or Playwright is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.streamlit_server import browser_missing, chromium_page, serve_leaderboard
from tests.test_leaderboard import fill

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


def test_leaderboard_renders_its_table_in_chromium(store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    with serve_leaderboard(store_url, tmp_path / "streamlit.log") as base, chromium_page() as page:
        page.goto(base, wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Leaderboard')", timeout=60_000)
        grid = page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
        page.wait_for_timeout(500)  # let the grid paint before the screenshot
        shot = tmp_path / "leaderboard.png"
        page.screenshot(path=str(shot), full_page=True)
        text = page.inner_text("body")
        assert grid is not None and grid.bounding_box()["height"] > 100
        assert "4 of 4 models" in text
        assert "Download CSV" in text
        assert page.query_selector("[data-testid='stAppDeployButton']") is None and "Deploy" not in text  # read-only
        assert shot.stat().st_size > 20_000
        page.goto(f"{base}/arena", wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Arena')", timeout=60_000)
        page.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=60_000)
        assert "battles among 3 models" in page.inner_text("body")
        page.goto(f"{base}/model?model=vicuna-lora", wait_until="domcontentloaded")  # the table's details link
        page.wait_for_selector("text=ckpt/vicuna-lora", timeout=60_000)
        assert "sha256:vicuna-lora" in page.inner_text("body")


def test_published_folder_renders_in_chromium(store_url: str, tmp_path: Path) -> None:
    """`harness publish` a store with published rows, then `streamlit run app.py` from the folder alone."""
    from harness.publish.imports import import_published
    from harness.publish.snapshot import publish
    from tests import published_files
    from tests.streamlit_server import serve_published

    fill(store_url)
    import_published(published_files.llm_leaderboard(tmp_path))
    folder = Path(publish(tmp_path / "site", store_url).out)
    with serve_published(folder, tmp_path / "published.log") as base, chromium_page() as page:
        page.goto(base, wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Leaderboard')", timeout=60_000)
        grid = page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
        page.wait_for_timeout(500)
        shot = tmp_path / "published.png"
        page.screenshot(path=str(shot), full_page=True)
        text = page.inner_text("body")
        assert grid is not None and grid.bounding_box()["height"] > 100
        assert "7 of 7 models" in text and "leaderboard.db" in text  # 4 computed + 3 published, the snapshot
        assert "Sources of the 4 published numbers shown" in text
        assert shot.stat().st_size > 20_000
        page.goto(f"{base}/model?model=vicuna-lora", wait_until="domcontentloaded")
        page.wait_for_selector("text=ckpt/vicuna-lora", timeout=60_000)
