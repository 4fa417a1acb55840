"""Model page: one model's card, its scores over runs and time, and a browser of its per-sample records
(prompt, target, prediction, metric) that can show only the wrong answers. Run through `app.py`.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from leaderboard_app import data
from leaderboard_app.board import primary_metrics, rank_board
from leaderboard_app.sources import choose_sources

EMPTY = "The store has no models yet. Evaluate one with `harness eval --model PATH --suite smoke`."
MAX_ROWS = 1000
CARD_KEYS = ("recipe", "data", "dataset", "hyperparameters", "training", "lora", "steps", "seed")


def shown(value: object) -> str:
    """A cell as text, with '—' for missing values (None or NaN)."""
    return "—" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def show_card(model: pd.Series) -> None:
    """Kind, base, recipe, size, fingerprint, source, and the training card's main fields."""
    cols = st.columns(4)
    cols[0].metric("Type", shown(model["kind"]))
    cols[1].metric("Base model", shown(model["base_model"]))
    cols[2].metric("Recipe", shown(model["recipe"]))
    size = model["n_params"]
    cols[3].metric("Parameters", "—" if pd.isna(size) else f"{float(size) / 1e6:,.2f} M")
    st.markdown(f"**Fingerprint** `{model['fingerprint']}` · **source** `{model['source']}` · "
                f"**added** {str(model['created_at'])[:19]}")
    card = model["card"] if isinstance(model["card"], dict) else {}
    fields = {k: card[k] for k in CARD_KEYS if k in card}
    if fields:
        st.table(pd.DataFrame({"field": list(fields), "value": [json.dumps(v, default=str) if isinstance(
            v, (dict, list)) else str(v) for v in fields.values()]}).set_index("field"))
    with st.expander("Full model card (JSON)", expanded=False):
        st.json(card or {})


def show_scores(scores: pd.DataFrame) -> None:
    """The primary metric of every task per run: a chart over run start time and a run × task table."""
    primary = primary_metrics(scores)
    chosen = scores.merge(primary[["metric", "filter"]].reset_index(), on=["task", "metric", "filter"])
    chosen["started"] = pd.to_datetime(chosen["started_at"], utc=True, errors="coerce")
    chosen["low"] = chosen["value"] - 1.96 * chosen["stderr"].fillna(0)
    chosen["high"] = chosen["value"] + 1.96 * chosen["stderr"].fillna(0)
    tooltip = ["task", "metric", "value", "stderr", "run_id", "started"]
    if chosen["run_id"].nunique() > 1:  # a trend over runs
        base = alt.Chart(chosen).encode(x=alt.X("started:T", title="run started"), color="task:N")
        marks = base.mark_line(point=True).encode(y=alt.Y("value:Q", title="score"), tooltip=tooltip)
    else:  # one run: one bar per task
        base = alt.Chart(chosen).encode(x=alt.X("task:N", title=None, axis=alt.Axis(labelAngle=0)))
        marks = base.mark_bar(opacity=0.7).encode(y=alt.Y("value:Q", title="score"), color="task:N", tooltip=tooltip)
    whiskers = base.mark_rule().encode(y="low:Q", y2="high:Q")
    st.altair_chart((marks + whiskers).properties(height=260), width="stretch")
    st.caption("Whiskers: 95% CI (±1.96 stderr) of each score.")
    table = chosen.pivot_table(index=["started", "run_id"], columns="task", values="value", aggfunc="last")
    st.dataframe(table.sort_index(ascending=False).reset_index(), hide_index=True, width="stretch")


def sample_table(rows: pd.DataFrame, metric: str, wrong_only: bool, search: str) -> pd.DataFrame:
    """Samples with the chosen metric as a column; optionally only wrong answers (metric below 1)."""
    table = rows[["doc_id", "filter", "prompt", "target", "prediction"]].copy()
    table[metric] = [m.get(metric) if isinstance(m, dict) else None for m in rows["metrics"]]
    table[metric] = pd.to_numeric(table[metric], errors="coerce")
    if wrong_only:
        table = table[table[metric] < 1]
    if search.strip():
        needle = search.strip().lower()
        text = table["prompt"].fillna("") + "\n" + table["target"].fillna("") + "\n" + table["prediction"].fillna("")
        table = table[text.str.lower().str.contains(needle, regex=False)]
    return table


def browse_samples(source: data.Source, runs: pd.DataFrame) -> None:
    """Pick a run and a task of this model, then filter its per-sample records."""
    available = data.load_sample_tasks(source.url, source.stamp, tuple(runs["id"]))
    if available.empty:
        st.info("No per-sample records for this model (runs store them when lm-eval logs samples).")
        return
    labels = {r.id: f"{str(r.started_at)[:19]} · {r.id} · {r.status}" for r in runs.itertuples()
              if r.id in set(available["run_id"])}
    left, mid, right = st.columns(3)
    run_id = left.selectbox("Run", list(labels), format_func=lambda run: labels[run], key="model_run")
    tasks = sorted(available.loc[available["run_id"] == run_id, "task"])
    task = str(mid.selectbox("Task", tasks, key="model_task"))
    rows = data.load_samples(source.url, source.stamp, run_id, task)
    metrics = sorted({k for m in rows["metrics"] if isinstance(m, dict) for k in m})
    metric = right.selectbox("Metric", metrics, key="model_metric")
    a, b = st.columns([1, 3])
    wrong = a.checkbox("Only wrong answers", key="model_wrong", help=f"{metric} < 1")
    search = b.text_input("Search prompt, target, prediction", key="model_search")
    table = sample_table(rows, metric, wrong, search)
    st.caption(f"{len(table)} of {len(rows)} samples" + (f" (first {MAX_ROWS} shown)" if len(table) > MAX_ROWS
                                                          else ""))
    st.dataframe(table.head(MAX_ROWS), hide_index=True, width="stretch",
                 column_config={"prompt": st.column_config.TextColumn("prompt", width="large")})


st.title("Model")
source = data.page_source()
if source.empty:
    st.info(EMPTY)
    st.stop()
models = data.load_models(source.url, source.stamp)
names = list(models["display"])
judges = choose_sources(source)
board = data.load_board(source.url, source.stamp, judges=judges)
top = str(rank_board(board, board.tasks)["model"].iloc[0])
wanted = st.query_params.get("model", top)  # ?model=NAME links here; else the leaderboard's first
name = st.selectbox("Model", names, index=names.index(wanted) if wanted in names else 0, key="model_name")
model = models[models["display"] == name].iloc[0]
show_card(model)
st.subheader("Scores over runs")
own = data.load_model_scores(source.url, source.stamp, int(model["id"]))
if own.empty:
    st.info(f"No scores for {name} yet: `harness eval --model {model['source']}`.")
else:
    show_scores(own)
st.subheader("Samples")
runs = data.load_runs(source.url, source.stamp)
browse_samples(source, runs[runs["model_id"] == model["id"]])
