"""The leaderboard's data access: which store, opened read-only, and cached loaders keyed on its contents.

Every loader takes the store URL and a `StoreStamp` (high-water marks of every table), so a
cached result is reused until the store changes and recomputed on the first render after it does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from harness.arena.ratings import ArenaConfig, ratings_from_report
from harness.arena.tables import rate_table, stored_table
from harness.errors import HarnessError
from harness.records import Rating
from harness.store import Store, open_store, resolve_store_url
from harness.store.contamination import read_contaminated
from harness.store.judgments import read_judgments as read_single_judgments
from harness.store.runs import read_task_result
from harness.store.views import (
    StoreStamp,
    read_battle_counts,
    read_battle_sources,
    read_generations,
    read_judgments,
    read_models,
    read_ratings,
    read_run_tasks,
    read_runs,
    read_sample_rows,
    read_sample_tasks,
    read_scores,
    read_task_results,
    read_win_counts,
    store_stamp,
)
from leaderboard_app.board import Board, build_board, display_names
from leaderboard_app.compare import Comparison, compare_models
from leaderboard_app.contamination import contaminated_tasks, with_contamination
from leaderboard_app.mt_bench import mt_bench_columns, with_mt_bench

CACHE_TTL_S = 3600  # a safety net only: the stamp already changes with every write
FALLBACK_BOOTSTRAP = 100  # rounds when ratings are fitted on the fly (none stored, or one category)
Sources = tuple[str, ...] | None  # battle sources a page shows (None: the store's only one, or all)


class Source(NamedTuple):
    """The store this session reads and the stamp of its current contents."""

    url: str
    stamp: StoreStamp

    @property
    def empty(self) -> bool:
        """True when the store holds no models (nothing to show on any page)."""
        return not self.stamp.has("models")


def store_argument(argv: list[str] | None = None) -> str | None:
    """`--store URL` after `streamlit run app.py --`; None when absent (HARNESS_STORE or the default apply)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--store", default=None)
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return known.store


@st.cache_resource(show_spinner=False)
def _open(url: str) -> Store:
    return open_store(url, readonly=True)


def store_url() -> str:
    """The URL of the store named by `--store`, HARNESS_STORE or the default."""
    return resolve_store_url(store_argument())


def shown_store_url() -> str:
    """The store URL with any password masked, for display."""
    import sqlalchemy as sa

    return sa.engine.make_url(store_url()).render_as_string(hide_password=True)


def current_source() -> Source:
    """Open the store named by `--store`/HARNESS_STORE read-only and stamp it (raises HarnessError)."""
    url = store_url()
    return Source(url, store_stamp(_open(url)))


def page_source() -> Source:
    """The store for this page run, stamped afresh; a store that cannot be opened ends the run with its error."""
    try:
        return current_source()
    except HarnessError as exc:
        st.error(exc.message + (f" — {exc.hint}" if exc.hint else ""))
        st.stop()
        raise  # st.stop() raises; this line only tells type checkers so


def store_of(source: Source) -> Store:
    """The open read-only store behind `source`."""
    return _open(source.url)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_board(url: str, stamp: StoreStamp, subtasks: bool = False, judges: Sources = None) -> Board:
    """The full leaderboard (all models, all tasks; with `subtasks`, groups' subtasks too) before filters;
    battle columns from the `judges` sources (see `load_ratings`)."""
    store = _open(url)
    models = read_models(store)
    board = build_board(models, load_scores(url, stamp), read_win_counts(store, judges=judges),
                        load_ratings(url, stamp, judges), subtasks)
    board = with_contamination(board, contaminated_tasks(models, read_contaminated(store)))
    return with_mt_bench(board, mt_bench_columns(read_single_judgments(store, mode="single"),
                                                 display_names(models)))


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_models(url: str, stamp: StoreStamp) -> pd.DataFrame:
    """Every model with a `display` column (the name the pages show)."""
    models = read_models(_open(url))
    models["display"] = display_names(models).reindex(models["id"]).to_numpy()
    return models


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_scores(url: str, stamp: StoreStamp) -> pd.DataFrame:
    """Every score with its run's model and start time."""
    return read_scores(_open(url))


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S, max_entries=64)
def load_model_scores(url: str, stamp: StoreStamp, model_id: int) -> pd.DataFrame:
    """One model's scores, every run (a small frame to hand back on each render)."""
    scores = load_scores(url, stamp)
    return scores[scores["model_id"] == model_id].reset_index(drop=True)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_runs(url: str, stamp: StoreStamp) -> pd.DataFrame:
    """Every run, newest first, with a duration in seconds."""
    runs = read_runs(_open(url))
    started = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
    finished = pd.to_datetime(runs["finished_at"], utc=True, errors="coerce")
    runs["duration (s)"] = (finished - started).dt.total_seconds()
    return runs


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_battle_counts(url: str, stamp: StoreStamp, among: tuple[str, ...], judges: Sources = None) -> pd.DataFrame:
    """Battles among these models (of the `judges` sources), aggregated per (model_a, model_b, winner, category)."""
    return read_battle_counts(_open(url), among, judges)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_win_counts(url: str, stamp: StoreStamp, by_category: bool = False, judges: Sources = None) -> pd.DataFrame:
    """Battles, wins and ties per model (and category), of the `judges` sources when given."""
    return read_win_counts(_open(url), by_category, judges)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_sources(url: str, stamp: StoreStamp) -> pd.DataFrame:
    """Every battle source (human, crowd, judge models) with its battle count, most battles first."""
    return read_battle_sources(_open(url)) if stamp.has("battles") else pd.DataFrame(columns=["source", "n"])


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_ratings(url: str, stamp: StoreStamp, judges: Sources = None) -> pd.DataFrame:
    """The newest stored ratings of each method; fitted on the fly when battles exist but none are stored,
    and always when `judges` picks some of several sources (a stored fit may pool them)."""
    store = _open(url)
    if judges:
        return computed_ratings(store, judges=judges)
    stored = read_ratings(store)
    if not stored.empty or not stamp.has("battles"):
        return stored
    return computed_ratings(store)


@st.cache_data(show_spinner="Fitting Bradley-Terry on this category's battles…", ttl=CACHE_TTL_S, max_entries=16)
def load_category_ratings(url: str, stamp: StoreStamp, category: str, judges: Sources = None) -> pd.DataFrame:
    """BT and Elo fitted on one question category's battles (of the `judges` sources when given)."""
    return computed_ratings(_open(url), category, judges)


def computed_ratings(store: Store, category: str | None = None, judges: Sources = None) -> pd.DataFrame:
    """BT (with a small bootstrap) and Elo rows in the `ratings` table's shape, built as `harness arena` builds them,
    on the battles of the `judges` sources (of every source when None: the pages pass sources when there are
    several)."""
    table = stored_table(store, category, judges, every_source=True)
    report = rate_table(table, ArenaConfig.model_validate({"bootstrap": FALLBACK_BOOTSTRAP}))
    source = f"store:{store.url}" + (f" judge:{'+'.join(judges)}" if judges else "")
    rows = ratings_from_report(report, source, category)
    return pd.DataFrame([asdict(r) for r in rows], columns=[f.name for f in fields(Rating)])


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S, max_entries=32)
def load_comparison(url: str, stamp: StoreStamp, runs_a: tuple[tuple[str, str], ...],
                    runs_b: tuple[tuple[str, str], ...], name_a: str, name_b: str) -> Comparison:
    """The paired comparison (`harness.gate.paired`, as `harness gate` runs it) of every task both models have
    samples for, B as the baseline; `runs_a`/`runs_b` map task → the run whose results to use."""
    store = _open(url)
    by_a, by_b = dict(runs_a), dict(runs_b)
    results = [(read_task_result(store, by_a[t], t), read_task_result(store, by_b[t], t))
               for t in sorted(set(by_a) & set(by_b))]
    return compare_models(results, name_a, name_b)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S, max_entries=64)
def load_samples(url: str, stamp: StoreStamp, run_id: str, task: str) -> pd.DataFrame:
    """The per-sample records of one task of one run."""
    return read_sample_rows(_open(url), run_id, task)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_run_tasks(url: str, stamp: StoreStamp, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """(run_id, task, task_hash, num_fewshot, n_samples) per evaluated entry (a group once) of these runs."""
    return read_run_tasks(_open(url), run_ids)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_sample_tasks(url: str, stamp: StoreStamp, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """(run_id, task, n) for the runs given that have per-sample records."""
    return read_sample_tasks(_open(url), run_ids)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_task_results(url: str, stamp: StoreStamp, run_id: str) -> pd.DataFrame:
    """The per-task rows of one run."""
    return read_task_results(_open(url), run_id)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_generations(url: str, stamp: StoreStamp, names: tuple[str, ...]) -> pd.DataFrame:
    """The named models' answers to open-ended questions."""
    return read_generations(_open(url), names)


@st.cache_data(show_spinner=False, ttl=CACHE_TTL_S)
def load_judgments(url: str, stamp: StoreStamp, model_x: str, model_y: str) -> pd.DataFrame:
    """Pairwise judgments between two models, in both seats."""
    return read_judgments(_open(url), model_x, model_y)


def clear_caches() -> None:
    """Forget every cached query (the sidebar's Refresh button)."""
    st.cache_data.clear()


def describe(value: Any) -> str:
    """A cell as one line of text: a dict as 'key value, ...', missing values (None, NaN, NaT) as ''."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    return str(value)
