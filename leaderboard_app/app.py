"""Entry point of the Streamlit leaderboard: page navigation, the store in use, and a Refresh button.

`streamlit run leaderboard_app/app.py -- --store URL` (or `harness leaderboard --store URL`); without
`--store` it reads HARNESS_STORE, then results/harness.db. The store is opened read-only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:  # `streamlit run` puts only this folder on sys.path
    sys.path.insert(0, ROOT)

from leaderboard_app import data

# Absolute, so the app also runs when another script is the entry point (a `harness publish` folder's app.py).
HERE = Path(__file__).resolve().parent
PAGES = [
    st.Page(HERE / "pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
    st.Page(HERE / "pages/arena.py", title="Arena", icon=":material/swords:"),
    st.Page(HERE / "pages/model.py", title="Model", icon=":material/model_training:"),
    st.Page(HERE / "pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page(HERE / "pages/runs.py", title="Runs", icon=":material/history:"),
]

st.set_option("client.toolbarMode", "viewer")  # read-only: no Deploy button, also under a plain `streamlit run`
st.set_page_config(page_title="harness leaderboard", page_icon=":material/leaderboard:", layout="wide")
page = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"store: `{data.shown_store_url()}` (read-only)")
    if st.button("Refresh", help="Forget cached queries and re-read the store."):
        data.clear_caches()
page.run()
