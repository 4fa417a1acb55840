"""Runs page: every run with its model, status, duration, backend, versions, git revision and error, and
one run's config, versions and per-task results in detail. Run through `leaderboard_app/app.py`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from leaderboard_app import data
from leaderboard_app.board import table_height

EMPTY = "No runs in the store yet. `harness eval --model PATH --suite smoke` records one."
COLUMNS = ["id", "model", "status", "error", "suite/tasks", "backend", "chat_template", "started_at",
           "duration (s)", "versions", "git_revision"]


def run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs table as shown: tasks and versions as one line each, the error's first line."""
    table = runs.copy()
    table["suite/tasks"] = [suite or ", ".join(str(t.get("task", t)) if isinstance(t, dict) else str(t)
                                               for t in (tasks or []))
                            for suite, tasks in zip(table["suite"], table["tasks"])]
    table["versions"] = table["versions"].map(data.describe)
    table["error"] = table["error"].fillna("").astype(str).str.split("\n").str[0]
    return table[COLUMNS]


st.title("Runs")
source = data.page_source()
runs = data.load_runs(source.url, source.stamp)
if runs.empty:
    st.info(EMPTY)
    st.stop()
left, right = st.columns(2)
statuses = left.multiselect("Status", sorted(runs["status"].unique()), key="runs_status")
chosen_models = right.multiselect("Model", sorted(runs["model"].unique()), key="runs_model")
keep = pd.Series(True, index=runs.index)
if statuses:
    keep &= runs["status"].isin(statuses)
if chosen_models:
    keep &= runs["model"].isin(chosen_models)
shown = runs[keep]
counts = runs["status"].value_counts()
st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()) + f" · {len(shown)} shown")
st.dataframe(run_rows(shown), hide_index=True, width="stretch", height=table_height(len(shown), 15), column_config={
    "duration (s)": st.column_config.NumberColumn("duration (s)", format="%.1f"),
    "error": st.column_config.TextColumn("error", width="medium"),
    "started_at": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
})
if not shown.empty:
    run_id = st.selectbox("Run details", list(shown["id"]), key="runs_pick")
    run = shown[shown["id"] == run_id].iloc[0]
    if data.describe(run["error"]):
        st.error(f"{run['status']}: {run['error']}")
    a, b = st.columns(2)
    with a:
        st.markdown("**Config**")
        st.json(run["config"] or {})
    with b:
        st.markdown("**Versions**")
        st.json(run["versions"] or {})
        st.markdown(f"**Git revision** `{data.describe(run['git_revision']) or '—'}` · **template** "
                    f"`{data.describe(run['chat_template']) or 'none'}` · **finished** "
                    f"{data.describe(run['finished_at'])[:19] or '—'}")
    st.markdown("**Tasks**")
    done = data.load_task_results(source.url, source.stamp, run_id)
    if done.empty:
        st.caption("This run stored no task results.")
    else:
        st.dataframe(done, hide_index=True, width="stretch")
