"""Which battle sources a page shows: human votes, crowd votes and each judge model are never pooled silently.

A store whose battles come from one source shows them as they are. With several, the sidebar asks which to
show (the one with the most battles by default; several may be pooled on purpose), and every battle number
on the page (win rates, ratings, heatmaps) uses that choice, as `harness arena --judge` does.
"""

from __future__ import annotations

import streamlit as st

from leaderboard_app import data


def choose_sources(source: data.Source) -> data.Sources:
    """The battle sources the page shows: None when the store has at most one, else the sidebar's choice."""
    found = data.load_sources(source.url, source.stamp)
    if len(found) <= 1:
        return None
    names = list(found["source"])
    counts = dict(zip(found["source"], found["n"]))
    picked = st.sidebar.multiselect(
        "Battle source", names, default=names[:1], key="battle_sources",
        format_func=lambda name: f"{name} ({counts[name]:,} battles)",
        help="Human votes, crowd votes and each judge model are different raters: pick one, or several to pool "
             "them on purpose.")
    if not picked:
        st.sidebar.warning(f"No source chosen: showing {names[0]}, the one with the most battles.")
        picked = names[:1]
    st.caption(f"Battles come from {len(names)} sources ({', '.join(names)}); win rates and ratings here use "
               f"{' + '.join(picked)}.")
    return tuple(picked)
