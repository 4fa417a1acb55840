"""`harness leaderboard`: serve the Streamlit app on a store, read-only (it becomes the `streamlit run` process)."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.options import StoreOpt, handled
from harness.console import stdout


@handled
def leaderboard_command(
    store: StoreOpt = None,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 to share on the network).")] = "127.0.0.1",
) -> None:
    """Serve the Streamlit leaderboard on the store (read-only); same as `streamlit run leaderboard_app/app.py`."""
    import os

    from harness.store import open_store, resolve_store_url
    from leaderboard_app import streamlit_command

    url = resolve_store_url(store)
    shown = open_store(url, readonly=True).url  # fail here, with the hint; shown has the password masked
    stdout.print(f"leaderboard on http://{address}:{port} (store {shown}); Ctrl-C stops it", markup=False)
    command = streamlit_command(None, port, address)
    # Become streamlit (signals reach it, no orphan); the URL goes by environment so no password shows in ps.
    os.execve(command[0], command, {**os.environ, "HARNESS_STORE": url})
