"""Screenshots of every leaderboard page, taken in headless Chromium, for the README and the issue's note.

`python bench/leaderboard_screenshots.py [--store URL] [--out docs/img]`: without `--store` it builds a
synthetic demo store (bench/synthetic_store.py) in a temporary folder. Each PNG is reduced to a
256-colour palette so it stays small in git.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from synthetic_store import Spec, build

from tests.streamlit_server import browser_missing, chromium_page, serve_leaderboard

# page path, file name, selectors that must be drawn before the shot
PAGES = [
    ("", "leaderboard", ["[data-testid='stDataFrame']"]),
    ("arena", "arena", ["[data-testid='stVegaLiteChart']", "[data-testid='stDataFrame']"]),
    ("model", "model", ["[data-testid='stVegaLiteChart']", "[data-testid='stDataFrame']"]),
    ("compare", "compare", ["[data-testid='stDataFrame']", "text=answers question"]),
    ("runs", "runs", ["[data-testid='stDataFrame']"]),
]


def shrink(path: Path) -> int:
    """Quantise a PNG to 256 colours in place; returns its new size in bytes."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path.stat().st_size


def take(store_url: str, out: Path, log: Path) -> list[Path]:
    """Serve the store and screenshot each page (after its title, tables and charts are drawn)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with serve_leaderboard(store_url, log) as base, chromium_page(1500, 1000) as page:
        for path, name, selectors in PAGES:
            page.set_viewport_size({"width": 1500, "height": 1000})
            page.goto(f"{base}/{path}", wait_until="domcontentloaded")
            page.wait_for_selector("h1", timeout=60_000)
            for selector in selectors:
                page.wait_for_selector(selector, timeout=60_000)
            page.wait_for_timeout(1000)
            # Streamlit scrolls inside its main section, so grow the window to the page's full height.
            height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
            page.set_viewport_size({"width": 1500, "height": min(int(height) + 40, 4000)})
            page.wait_for_timeout(1500)  # grids and charts repaint at the new size
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            size = shrink(target)
            print(f"{target}: {size / 1024:.0f} KiB")
            written.append(target)
    return written


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="Store URL to show [default: a fresh synthetic demo store].")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    reason = browser_missing()
    if reason:
        sys.exit(f"cannot take screenshots: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"sqlite:///{tmp}/demo.db"
        if not args.store:
            build(url, Spec(models=14, tasks=6, battles=4000, samples=6 * 8 * 200, questions=4))
        take(url, args.out, Path(tmp) / "streamlit.log")


if __name__ == "__main__":
    main()
