"""The Leaderboard page's published parts: the cached read, the computed/published/both and "hide empty"
filters, column formats, and the table of published cells with their source links.

Used by `pages/leaderboard.py`; the row building itself is pure (`leaderboard_app.published`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from harness.store.published import read_published_frame
from harness.store.views import StoreStamp
from leaderboard_app import data
from leaderboard_app.published import (
    FILLED,
    FILLED_AVG,
    ORIGINS,
    Published,
    add_filled_average,
    filter_origin,
    fraction_columns,
    hide_empty,
    shown_cells,
)


class Choice(NamedTuple):
    """What the published filters chose."""

    origin: str
    columns: list[str]  # published columns to show
    hide_empty: bool


@st.cache_data(show_spinner=False, ttl=data.CACHE_TTL_S)
def load_published(url: str, stamp: StoreStamp) -> pd.DataFrame:
    """Every published result in the store."""
    return read_published_frame(data.store_of(data.Source(url, stamp)))


def read_choice(published: Published) -> Choice:
    """Draw the origin radio, the published-columns picker and the hide-empty toggle."""
    left, middle, right = st.columns([2, 4, 1.4])
    origin = left.radio("Rows", ORIGINS, horizontal=True, key="lb_origin",
                        help="computed: scored by this store; published: as public leaderboards printed them")
    columns = middle.multiselect("Published columns", published.columns, default=published.columns,
                                 key="lb_published_cols:" + str(len(published.columns)),
                                 help="benchmarks the store does not run, as published")
    empty = right.toggle("Hide empty", value=True, key="lb_hide_empty",
                         help="Hide columns no shown row fills, and rows with no value in the columns shown")
    return Choice(str(origin), columns, bool(empty))


def add_average(ranked: pd.DataFrame, tasks: Sequence[str], choice: Choice) -> pd.DataFrame:
    """The ranked rows with the filled-cell average over the chosen tasks and published columns (so the
    page can sort by it)."""
    return add_filled_average(ranked, [*tasks, *choice.columns])


def apply_choice(rows: pd.DataFrame, columns: list[str], tasks: Sequence[str],
                 choice: Choice) -> tuple[pd.DataFrame, list[str]]:
    """Rows of the chosen origin; the shown columns with the filled average and the published columns after
    the tasks (and, with hide empty, without the columns and published rows that are empty)."""
    rows = filter_origin(rows, choice.origin)
    head = columns[:columns.index("± 95%") + 1]  # rank, model, average, ± 95%
    per_task = [c for c in columns if c in tasks or (c.endswith(" ±") and c[:-2] in tasks)]
    rest = [c for c in columns[len(head):] if c not in per_task and c != "details"]
    shown = [*head[:2], "origin", *head[2:], FILLED_AVG, FILLED, *per_task, *choice.columns, *rest, "source",
             "details"]
    shown = list(dict.fromkeys(shown))  # a published column the page also shows (e.g. MT-bench) appears once
    if choice.hide_empty:
        rows, shown = hide_empty(rows, shown, [*tasks, *choice.columns])
        shown = [c for c in shown if not (c.endswith(" ±") and c[:-2] in tasks and c[:-2] not in shown)]
    return rows, shown


def column_config(rows: pd.DataFrame, published: Published) -> dict[str, Any]:
    """Formats of the published columns, the filled average and the source link."""
    scaled = set(fraction_columns(rows, published.columns))
    config: dict[str, Any] = {
        FILLED_AVG: st.column_config.NumberColumn(FILLED_AVG, format="%.3f",
                                                  help="Mean of the filled 0–1 cells among the columns shown"),
        FILLED: st.column_config.TextColumn(FILLED, help="Filled cells among the columns averaged"),
        "origin": st.column_config.TextColumn("origin", help="computed by this store, or published"),
        "source": st.column_config.LinkColumn("source", display_text="source",
                                              help="Where the published row's first number comes from"),
    }
    for column in published.columns:
        config[column] = st.column_config.NumberColumn(column, format="%.3f" if column in scaled else "%.4g",
                                                       help="published")
    return config


def sources_table(rows: pd.DataFrame, published: Published, columns: Sequence[str]) -> None:
    """Every published cell the table shows, with its own source link, file and date."""
    cells = shown_cells(published.cells, rows, columns)
    if cells.empty:
        return
    with st.expander(f"Sources of the {len(cells)} published numbers shown"):
        st.dataframe(cells, hide_index=True, width="stretch", column_config={
            "source_url": st.column_config.LinkColumn("source"),
            "value": st.column_config.NumberColumn("value", format="%.4g")})
