"""The Streamlit leaderboard: `app.py` + `pages/`, reading the results store read-only.

Run it with `harness leaderboard [--store URL]` or `streamlit run leaderboard_app/app.py -- --store URL`.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_PATH = Path(__file__).resolve().parent / "app.py"


def streamlit_command(store_url: str | None, port: int = 8501, address: str = "127.0.0.1",
                      headless: bool = True) -> list[str]:
    """The `streamlit run` command line that serves the leaderboard on `store_url`.

    With `store_url=None` the app reads HARNESS_STORE (or the default store) instead.
    """
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.address", address, "--server.port", str(port),
        "--server.headless", str(headless).lower(), "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",  # a read-only board: no Deploy button, no developer menu
    ]
    return command + (["--", "--store", store_url] if store_url else [])
