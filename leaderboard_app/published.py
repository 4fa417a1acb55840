"""Published rows beside computed ones: the numbers public leaderboards printed, as leaderboard rows.

Pure pandas over `harness.store.published.read_published_frame`. A published cell goes in the store's task
column when it is the same benchmark with the same metric (`mmlu`, acc), else in a column of its own
(`Arena Elo`, `MT-bench`, `HellaSwag (zero-shot)`). One row per published model (names matched without
case across tables; where tables disagree on a cell, the newest dated source wins). Sparse columns are
handled as llm-leaderboard.streamlit.app does: averages over the filled cells, and a "hide empty" filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from leaderboard_app.board import Board

ORIGINS = ("both", "computed", "published")
FILLED_AVG, FILLED = "avg (filled)", "filled"


class Published(NamedTuple):
    """The board with published rows added, and what the page needs to show them."""

    board: Board
    columns: list[str]  # published columns that are not store task columns: harness tasks first, by name
    cells: pd.DataFrame  # one row per shown cell: row key, column, value, leaderboard, source, file, date


def board_column(task: object, metric: object, benchmark: str, metrics: dict[str, str]) -> str:
    """Where a published cell goes: its task's column when the store shows that task with the same metric
    (or the task is not in the store), else `task (metric)`; its own label when it is no task."""
    if not isinstance(task, str) or not task:
        return benchmark
    shown = metrics.get(task)
    if shown is None or not isinstance(metric, str) or shown.split(" ")[0] == metric:
        return task
    return f"{task} ({metric})"


def published_cells(frame: pd.DataFrame, metrics: dict[str, str]) -> pd.DataFrame:
    """The published results as cells: `row` (a lowercased model name), `name` (the row's name as first
    imported), `column`, value and source; where several results fill one cell the newest dated one wins
    (undated ones count as oldest)."""
    if frame.empty:
        return pd.DataFrame(columns=["row", "name", "model", "column", "value", "stderr", "leaderboard", "source_url",
                                     "source_file", "source_date", "id"])
    cells = frame.sort_values("id").assign(
        row=frame["model"].astype(str).str.strip().str.lower(),
        column=[board_column(t, m, b, metrics) for t, m, b in zip(frame["task"], frame["metric"], frame["benchmark"])],
    )
    cells["name"] = cells.groupby("row")["model"].transform("first")  # as first imported
    ordered = cells.assign(_date=cells["source_date"].fillna("")).sort_values(["_date", "id"], kind="stable")
    return ordered.drop_duplicates(["row", "column"], keep="last").drop(columns="_date").sort_values("id")


def published_rows(cells: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One leaderboard row per published model: its name as first published, origin and kind `published`,
    the link of its first cell as `source`, and a value per column."""
    if cells.empty:
        return pd.DataFrame(columns=["model", "origin", "kind", "source", *columns])
    first = cells.sort_values("id").drop_duplicates("row").set_index("row")
    values = cells.pivot(index="row", columns="column", values="value").reindex(columns=list(columns))
    rows = pd.DataFrame({"model": first["name"], "origin": "published", "kind": "published",
                         "source": first["source_url"]}).join(values)
    rows["created"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns, UTC]")
    rows["params (M)"] = np.nan
    return rows.reset_index(drop=True)


def with_published(board: Board, frame: pd.DataFrame) -> Published:
    """`board` with a row per published model; published columns that are no store task come after it."""
    cells = published_cells(frame, board.metrics)
    order = sorted(set(cells["column"]), key=lambda c: (c not in set(cells["task"].dropna()), c.lower()))
    own = [c for c in order if c not in board.tasks]
    computed = board.frame.assign(origin="computed", source=None)
    rows = published_rows(cells, [*[t for t in board.tasks if t in order], *own])
    if rows.empty:
        return Published(board._replace(frame=computed), [], cells)
    combined = pd.concat([computed, rows], ignore_index=True)
    combined["created"] = pd.to_datetime(combined["created"], utc=True)
    return Published(board._replace(frame=combined), own, cells)


def filter_origin(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Rows of one origin (computed or published), or all of them for `both`."""
    return frame if origin == "both" else frame[frame["origin"] == origin]


def fraction_columns(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns whose filled values all lie in [0, 1] (accuracies, rates): the ones averaging may mix."""
    keep = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").dropna() if column in frame else pd.Series()
        if len(values) and values.between(0.0, 1.0).all():
            keep.append(column)
    return keep


def add_filled_average(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`avg (filled)`: the mean over a row's filled cells among `columns` (0–1 scales only), and `filled`:
    how many of those cells it has, as llm-leaderboard averages its sparse table."""
    used = fraction_columns(frame, columns)
    values = frame[used].apply(pd.to_numeric, errors="coerce") if used else pd.DataFrame(index=frame.index)
    out = frame.copy()
    out[FILLED_AVG] = values.mean(axis=1, skipna=True) if used else np.nan
    out[FILLED] = [f"{n}/{len(used)}" for n in values.notna().sum(axis=1)] if used else ""
    return out


def hide_empty(frame: pd.DataFrame, columns: Sequence[str], values: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Drop the `values` columns no shown row fills, then the published rows that fill none of those left
    (computed rows always stay: their arena columns or facts may be all they have)."""
    filled = [c for c in values if c in frame and frame[c].notna().any()]
    kept = [c for c in columns if c not in values or c in filled]
    has_value = frame[filled].notna().any(axis=1) if filled else pd.Series(False, index=frame.index)
    return frame[(frame["origin"] != "published") | has_value], kept


def shown_cells(cells: pd.DataFrame, rows: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The published cells the table shows (its published rows, its columns), with their sources."""
    names = set(rows.loc[rows["origin"] == "published", "model"].astype(str).str.strip().str.lower())
    shown = cells[cells["row"].isin(names) & cells["column"].isin(list(columns))]
    return shown[["model", "column", "value", "leaderboard", "source_url", "source_file", "source_date"]]
