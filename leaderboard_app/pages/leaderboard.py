"""Leaderboard page: one row per model, a column per task, the average with its 95% CI, arena columns, and
published rows beside them (`leaderboard_app.published_view`).

Ranks are ranges where 95% intervals overlap; filters narrow the rows and the average is recomputed over
the tasks chosen. Run through `leaderboard_app/app.py`.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

from leaderboard_app import data, published_view
from leaderboard_app.board import ARENA_COLUMNS, Board, Filters, apply_filters, rank_board, table_height
from leaderboard_app.contamination import COLUMN, warning_lines
from leaderboard_app.mt_bench import mt_bench_column_names
from leaderboard_app.published import with_published
from leaderboard_app.sources import choose_sources

EMPTY = "The store has no models yet. Evaluate one with `harness eval --model PATH --suite smoke`, then refresh."


def read_filters(board: Board) -> tuple[Filters, list[str]]:
    """Draw the filter widgets; return the filters and the tasks to average."""
    frame = board.frame
    top = st.columns([2, 2, 2, 2])
    search = top[0].text_input("Search models", key="lb_search", placeholder="name contains…")
    bases = top[1].multiselect("Base model", sorted(frame["base model"].dropna().unique()), key="lb_base")
    recipes = top[2].multiselect("Recipe", sorted(frame["recipe"].dropna().unique()), key="lb_recipe")
    kinds = top[3].multiselect("Type", sorted(frame["kind"].dropna().unique()), key="lb_kind",
                               help="base, full fine-tune, LoRA adapter or API model")
    bottom = st.columns([2, 2, 4])
    size = None
    sizes = frame["params (M)"].dropna()
    if len(sizes) and sizes.min() < sizes.max():
        low, high = float(sizes.min()), float(sizes.max())
        # Keys carry the bounds: when new models widen them, the filter starts over at the full range.
        size = bottom[0].slider("Size (M params)", low, high, (low, high), key=f"lb_size:{low:g}:{high:g}")
    created = None
    days = frame["created"].dropna()
    if len(days):
        first, last = days.min().date(), days.max().date()
        chosen = bottom[1].date_input("Created between", (first, last), key=f"lb_date:{first}:{last}")
        created = tuple(chosen) if isinstance(chosen, (tuple, list)) and len(chosen) == 2 else None
    # Keyed on the task list: when tasks appear (a new eval, subtasks shown) the choice starts over at all.
    task_key = "lb_tasks:" + hashlib.sha1("\n".join(board.tasks).encode()).hexdigest()[:8]
    tasks = bottom[2].multiselect("Tasks in the average", board.tasks, default=board.tasks, key=task_key)
    filters = Filters(search, tuple(bases), tuple(recipes), tuple(kinds), size, created)  # type: ignore[arg-type]
    return filters, tasks


def column_config(board: Board, tasks: list[str]) -> dict[str, Any]:
    """Number formats and header help for the table."""
    config: dict[str, Any] = {
        "rank": st.column_config.TextColumn("rank", help="Ranks this model can take given overlapping 95% CIs"),
        "average": st.column_config.NumberColumn("average", format="%.3f"),
        "± 95%": st.column_config.NumberColumn("± 95%", format="%.3f", help="Half-width of the average's 95% CI"),
        "judge win rate": st.column_config.ProgressColumn("judge win rate", min_value=0.0, max_value=1.0,
                                                          format="%.2f"),
        "params (M)": st.column_config.NumberColumn("params (M)", format="%.2f"),
        "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD"),
        "details": st.column_config.LinkColumn("details", display_text="model page",
                                               help="Card, scores over runs and samples"),
    }
    for task in tasks:
        config[task] = st.column_config.NumberColumn(task, format="%.3f", help=board.metrics.get(task))
        config[f"{task} ±"] = st.column_config.NumberColumn(f"{task} ±", format="%.3f", help="stderr")
    for column in ("arena (BT)", "arena CI low", "arena CI high", "Elo"):
        config[column] = st.column_config.NumberColumn(column, format="%.0f")
    return config


def shown_columns(frame: pd.DataFrame, tasks: list[str], with_stderr: bool) -> list[str]:
    """Rank, model, average, task columns, arena columns that have data, then the model's facts."""
    per_task = [c for t in tasks for c in ([t, f"{t} ±"] if with_stderr else [t]) if c in frame]
    arena = [c for c in ARENA_COLUMNS if c in frame and frame[c].replace("", pd.NA).notna().any()]
    arena += mt_bench_column_names(frame)
    facts = ["kind", "base model", "recipe", "params (M)", "created"]
    flags = [COLUMN] if COLUMN in frame and frame[COLUMN].notna().any() else []
    return ["rank", "model", "average", "± 95%", *per_task, *flags, *arena, *facts, "details"]


def sort_rows(frame: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Apply the 'Sort by' choice (default: the average, as ranked)."""
    options = ["average", "avg (filled)", "arena (BT)", "judge win rate", "model", "params (M)", "created", *tasks]
    left, right = st.columns([3, 1])
    key = left.selectbox("Sort by", [o for o in options if o in frame], key="lb_sort")
    descending = right.toggle("Descending", value=key != "model", key="lb_desc")
    return frame.sort_values(key, ascending=not descending, na_position="last", kind="stable")


st.title("Leaderboard")
source = data.page_source()
published_frame = published_view.load_published(source.url, source.stamp)
if source.empty and published_frame.empty:
    st.info(EMPTY)
    st.stop()
judges = choose_sources(source)
board = data.load_board(source.url, source.stamp, judges=judges)
if board.has_subtasks and st.toggle("Show subtasks of groups", key="lb_subtasks",
                                    help="Groups show their own aggregate; this adds a column per subtask."):
    board = data.load_board(source.url, source.stamp, subtasks=True, judges=judges)
published = with_published(board, published_frame)
board = published.board
filters, tasks = read_filters(board)
choice = None if published_frame.empty else published_view.read_choice(published)
ranked = rank_board(board, tasks)
ranked["details"] = ["model?model=" + quote(str(name)) if origin == "computed" else None  # relative: works under a prefix
                     for name, origin in zip(ranked["model"], ranked["origin"])]
if choice is not None:
    ranked = published_view.add_average(ranked, tasks, choice)
rows = sort_rows(apply_filters(ranked, filters), tasks)
with_stderr = st.toggle("Show stderr columns", value=True, key="lb_stderr")
columns = shown_columns(rows, tasks, with_stderr)
if choice is not None:
    rows, columns = published_view.apply_choice(rows, columns, tasks, choice)
st.caption(f"{len(rows)} of {len(ranked)} models · average of {len(tasks)} task(s) · rank ranges: "
           "models whose 95% intervals overlap share ranks, so their order is not statistically real.")
if rows.empty:
    st.warning("No model matches these filters.")
else:
    config = {**column_config(board, tasks), **published_view.column_config(rows, published)}
    st.dataframe(rows[columns], hide_index=True, column_config=config, width="stretch",
                 height=table_height(len(rows)))
    published_view.sources_table(rows, published, columns)
    for line in warning_lines(rows, tasks):
        st.warning(line)
if not board.tasks:
    st.info("No task scores yet: run `harness eval` to add columns.")
if ranked["battles"].isna().all():
    st.caption("No battles in the store yet: arena columns appear after `harness judge` / `harness arena`.")
shown = rows[columns]
st.download_button("Download CSV", lambda: shown.to_csv(index=False), "leaderboard.csv", "text/csv",
                   key="lb_csv")  # the CSV is written only when the button is clicked
