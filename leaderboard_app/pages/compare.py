"""Compare page: two models side by side. Per-task differences with paired-test verdicts (Holm-corrected),
their head-to-head battles, their answers to the same question beside the judge's verdicts in both orders,
and the documents where their lm-eval answers disagree. Run through `leaderboard_app/app.py`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.gate.paired import TaskComparison
from leaderboard_app import data
from leaderboard_app.board import rank_board, table_height
from leaderboard_app.compare import (
    answer_turns,
    disagreements,
    head_to_head,
    judged_winner,
    template_mismatch,
)
from leaderboard_app.sources import choose_sources


def newest_sample_runs(runs: pd.DataFrame, available: pd.DataFrame, model_id: int) -> dict[str, str]:
    """Task → the newest finished run of this model that stored per-sample records for it (as the gate
    takes only finished runs)."""
    own = runs[(runs["model_id"] == model_id) & (runs["status"] == "finished")]  # newest first
    sampled = available[available["n_samples"] > 0]
    found: dict[str, str] = {}
    for run_id in own["id"]:
        for task in sampled.loc[sampled["run_id"] == run_id, "task"]:
            found.setdefault(task, run_id)
    return found


def show_battles(counts: pd.DataFrame, name_a: str, name_b: str) -> None:
    """Head-to-head battle record with the sign test's p-value."""
    record = head_to_head(counts, name_a, name_b)
    if record is None:
        st.caption("These two models have not met in a battle.")
        return
    cols = st.columns(4)
    cols[0].metric(f"{name_a} wins", record["wins"])
    cols[1].metric(f"{name_b} wins", record["losses"])
    cols[2].metric("ties", record["ties"])
    real = "a real difference" if record["p"] < 0.05 else "not a real difference"
    cols[3].metric(f"{name_a} win rate", f"{record['win_rate']:.2f}", help=f"sign test p = {record['p']:.3g}")
    st.caption(f"Sign test on decisive battles: p = {record['p']:.3g} ({real} at 5%).")


def show_answers(source: data.Source, name_a: str, name_b: str) -> None:
    """Both models' answers to one question, then every judge verdict on the pair for it, in both orders."""
    gens = data.load_generations(source.url, source.stamp, (name_a, name_b))
    keys_a = set(zip(*[gens.loc[gens["model"] == name_a, c] for c in ("question_set", "question_id")]))
    keys_b = set(zip(*[gens.loc[gens["model"] == name_b, c] for c in ("question_set", "question_id")]))
    shared = sorted(keys_a & keys_b)
    if not shared:
        st.info("No open-ended question answered by both models (`harness generate` stores answers).")
        return
    qset, qid = st.selectbox("Question", shared, format_func=lambda k: f"{k[0]} / {k[1]}", key="cmp_question")
    left, right = st.columns(2)
    for column, name in ((left, name_a), (right, name_b)):
        column.markdown(f"**{name}**")
        for turn, text in enumerate(answer_turns(gens, name, qset, qid), start=1):
            box = column.container(border=True)
            box.caption(f"turn {turn}")
            box.markdown(text)
    verdicts = data.load_judgments(source.url, source.stamp, name_a, name_b)
    verdicts = verdicts[(verdicts["question_set"] == qset) & (verdicts["question_id"] == qid)]
    if verdicts.empty:
        st.caption("No judge verdicts on this question for this pair yet.")
        return
    verdicts = verdicts.assign(shown_first=verdicts.apply(
        lambda r: r["model_b"] if r["answer_order"] == "ba" else r["model_a"], axis=1),
        winner=verdicts.apply(judged_winner, axis=1))
    st.dataframe(verdicts[["judge", "turn", "answer_order", "shown_first", "verdict", "winner"]],
                 hide_index=True, width="stretch")
    for row in verdicts.itertuples():
        with st.expander(f"{row.judge} · turn {row.turn} · order {row.answer_order} → {row.winner}"):
            st.text(row.raw_output or row.error or "")


def show_disagreements(pairs: list[TaskComparison], name_a: str, name_b: str) -> None:
    """Paired documents of one task where the two models' metric differs, with both predictions."""
    tables = {p.task: disagreements(p, name_a, name_b) for p in pairs}
    most = max(tables, key=lambda t: len(tables[t]))
    task = st.selectbox("Task", list(tables), index=list(tables).index(most), key="cmp_task",
                        help="Starts at the task where the two models disagree most often.")
    pair = next(p for p in pairs if p.task == task)
    differ = tables[task]
    st.caption(f"{len(differ)} of {pair.test.n} paired documents differ on {pair.choice.metric}.")
    st.dataframe(differ.head(500), hide_index=True, width="stretch")


st.title("Compare")
source = data.page_source()
models = data.load_models(source.url, source.stamp) if not source.empty else pd.DataFrame()
if len(models) < 2:
    st.info("Comparing needs at least two models in the store (`harness eval` each of them).")
    st.stop()
names = list(models["display"])
judges = choose_sources(source)
board = data.load_board(source.url, source.stamp, judges=judges)
ranked = list(rank_board(board, board.tasks)["model"])  # default pair: the two best on the leaderboard
left, right = st.columns(2)
name_a = left.selectbox("Model A", names, index=names.index(ranked[0]), key="cmp_a")
name_b = right.selectbox("Model B", names, index=names.index(ranked[1]), key="cmp_b")
if name_a == name_b:
    st.warning("Pick two different models.")
    st.stop()
id_a, id_b = (int(models.loc[models["display"] == n, "id"].iloc[0]) for n in (name_a, name_b))
store_a, store_b = (str(models.loc[models["display"] == n, "name"].iloc[0]) for n in (name_a, name_b))
runs = data.load_runs(source.url, source.stamp)
pair_runs = runs[runs["model_id"].isin([id_a, id_b])]
available = data.load_run_tasks(source.url, source.stamp, tuple(pair_runs["id"]))
runs_a, runs_b = newest_sample_runs(pair_runs, available, id_a), newest_sample_runs(pair_runs, available, id_b)
st.subheader("Per-task differences (paired tests)")
if (mismatch := template_mismatch(pair_runs, runs_a, runs_b, name_a, name_b)) is not None:
    st.warning(mismatch)
pairs, verdicts = data.load_comparison(source.url, source.stamp, tuple(sorted(runs_a.items())),
                                       tuple(sorted(runs_b.items())), name_a, name_b)
if not verdicts.empty:
    st.dataframe(verdicts, hide_index=True, width="stretch", height=table_height(len(verdicts)), column_config={
        c: st.column_config.NumberColumn(c, format="%.3f") for c in ("A", "B", "A − B", "CI low", "CI high")
    } | {c: st.column_config.NumberColumn(c, format="%.2g") for c in ("p", "p (Holm)")})
    st.caption("The test `harness gate --candidate A --baseline B` runs: documents paired on lm-eval's doc "
               "hash, exact McNemar for 0/1 metrics, paired bootstrap otherwise; p-values Holm-corrected across "
               "tasks. 'no real difference' means the 95% evidence does not separate the two models.")
else:
    st.info("The two models share no task with per-sample records, so no paired test can be run.")
st.subheader("Head-to-head battles")
show_battles(data.load_battle_counts(source.url, source.stamp, (store_a, store_b), judges), store_a, store_b)
st.subheader("Answers to the same question")
show_answers(source, store_a, store_b)
if pairs:
    st.subheader("Where their answers differ")
    show_disagreements(pairs, name_a, name_b)
