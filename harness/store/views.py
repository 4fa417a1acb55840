"""Read-only views of the store as pandas frames, for the leaderboard and the benchmarks.

Every function only selects; none writes. `store_stamp` is a cheap fingerprint of the store's contents
that changes whenever a row is added or a run changes state, so callers can key caches on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from harness.store.battle_blocks import blocks_frame, judge_sources
from harness.store.engine import Store
from harness.store.schema import (
    battle_blocks,
    battles,
    contamination,
    generations,
    judgments,
    models,
    published_results,
    ratings,
    runs,
    samples,
    scores,
    task_results,
)

if TYPE_CHECKING:
    import pandas as pd

_ID_TABLES = (models, task_results, scores, samples, generations, judgments, battles, battle_blocks, ratings,
              published_results)


class StoreStamp(NamedTuple):
    """High-water marks of every table: equal stamps mean equal contents in an append-only store.

    `tables` holds (table, max id); `judge_errors` the judgments still in error (a resumed call rewrites
    its row); `runs` the runs' count, latest start, latest finish and how many still run.
    """

    tables: tuple[tuple[str, int], ...]
    judge_errors: int
    runs: tuple[int, str, str, int]

    def has(self, table: str) -> bool:
        """True when `table` holds at least one row."""
        if table == "runs":
            return self.runs[0] > 0
        names = {table, "battle_blocks"} if table == "battles" else {table}  # a block holds battles too
        return any(top > 0 for name, top in self.tables if name in names)


def existing_tables(store: Store) -> set[str]:
    """Names of the tables the database has (an unmigrated file has none)."""
    return set(sa.inspect(store.engine).get_table_names())


def store_stamp(store: Store) -> StoreStamp:
    """Max ids per table (an index lookup each, so this stays cheap on big stores), plus the runs' state."""
    present = existing_tables(store)
    tops: list[tuple[str, int]] = []
    errors = 0
    run_part: tuple[int, str, str, int] = (0, "", "", 0)
    with store.engine.connect() as conn:
        for table in _ID_TABLES:
            if table.name in present:
                tops.append((table.name, int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)))
        if "contamination" in present:  # no ids (rows are replaced): its size and flagged documents
            count, docs = conn.execute(sa.select(sa.func.count(), sa.func.sum(contamination.c.contaminated_docs))).one()
            tops += [("contamination", int(count or 0)), ("contamination_docs", int(docs or 0))]
        if "judgments" in present:
            errors = int(conn.execute(
                sa.select(sa.func.count()).where(judgments.c.status == "error")).scalar() or 0)
        if "runs" in present:
            row = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.max(runs.c.started_at),
                    sa.func.max(runs.c.finished_at),
                    sa.func.sum(sa.case((runs.c.status == "running", 1), else_=0)),
                )
            ).one()
            run_part = (int(row[0] or 0), str(row[1] or ""), str(row[2] or ""), int(row[3] or 0))
    return StoreStamp(tuple(tops), errors, run_part)


def _frame(store: Store, query: sa.Select[Any], table: str) -> pd.DataFrame:
    """Run `query`; an absent table reads as an empty frame with the query's columns."""
    import pandas as pd

    if table not in existing_tables(store):
        return pd.DataFrame(columns=[c.name for c in query.selected_columns])
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


def read_models(store: Store) -> pd.DataFrame:
    """Every model: id, name, source, fingerprint, kind, base_model, recipe, n_params, card, created_at."""
    return _frame(store, sa.select(models).order_by(models.c.id), "models")


def read_runs(store: Store) -> pd.DataFrame:
    """Every run with its model's name and fingerprint, newest first."""
    query = (
        sa.select(runs, models.c.name.label("model"), models.c.fingerprint.label("model_fingerprint"))
        .join(models, models.c.id == runs.c.model_id)
        .order_by(runs.c.started_at.desc(), runs.c.id)
    )
    return _frame(store, query, "runs")


def read_scores(store: Store) -> pd.DataFrame:
    """Every score with its run's model id, start time (UTC) and status, in the order they were written.

    `top_level` is True for a task the run was asked for (a `task_results` row: a task, or a group's own
    aggregate) and False for a group's subtasks.
    """
    import pandas as pd

    # The start time comes back as the stored text and is parsed once, vectorised: SQLAlchemy's per-row
    # SQLite datetime parsing was most of the cost on 100k scores.
    started = sa.type_coerce(runs.c.started_at, sa.String).label("started_at")
    query = (
        sa.select(
            scores.c.id, scores.c.run_id, scores.c.task, scores.c.metric, scores.c.filter, scores.c.value,
            scores.c.stderr, scores.c.n, scores.c.higher_is_better, runs.c.model_id, started, runs.c.status,
        )
        .join(runs, runs.c.id == scores.c.run_id)
        .order_by(scores.c.id)
    )
    frame = _frame(store, query, "scores")
    # Marked in pandas: an SQL outer join on (run_id, task) cost SQLite 10x the read itself.
    asked = _frame(store, sa.select(task_results.c.run_id, task_results.c.task), "task_results")
    keys = pd.MultiIndex.from_frame(frame[["run_id", "task"]])
    frame["top_level"] = keys.isin(pd.MultiIndex.from_frame(asked[["run_id", "task"]]))
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="ISO8601", errors="coerce")
    return frame


def battle_source_column() -> Any:
    """Who judged a battle, as `harness.arena.sources.source_of` names it (no judge: "unspecified", a Chatbot
    Arena voter: "crowd")."""
    from harness.arena.sources import CROWD, UNSPECIFIED, VOTER_PREFIX

    judge = sa.func.nullif(battles.c.judge, "")
    return sa.case((judge.startswith(VOTER_PREFIX, autoescape=True), CROWD),
                   else_=sa.func.coalesce(judge, UNSPECIFIED))


def read_battle_sources(store: Store) -> pd.DataFrame:
    """Each battle source (human, crowd, a judge model) with its battle count `n`, most battles first."""
    source = battle_source_column().label("source")
    query = sa.select(source, sa.func.count().label("n")).group_by(source).order_by(sa.desc("n"), source)
    frame = _frame(store, query, "battles")
    blocks = _blocks(store)
    if blocks.empty:
        return frame
    counted = judge_sources(blocks["judge"]).value_counts().rename_axis("source").reset_index(name="n")
    both = _summed([frame, counted], ["source"], ["n"])
    return both.sort_values(["n", "source"], ascending=[False, True], ignore_index=True)


def _blocks(store: Store, judges: Sequence[str] | None = None) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return blocks_frame(conn, judges)


def _summed(frames: list[pd.DataFrame], keys: list[str], values: list[str]) -> pd.DataFrame:
    """Rows of several frames added up per key (a null key is a key: battles without a category)."""
    import pandas as pd

    parts = [f for f in frames if not f.empty]
    both = pd.concat(parts, ignore_index=True) if parts else frames[0]
    summed = both.groupby(keys, dropna=False, sort=False)[values].sum().reset_index()
    return summed.astype({name: "int64" for name in values})


def _of_sources(query: Any, judges: Sequence[str] | None) -> Any:
    return query if not judges else query.where(battle_source_column().in_(list(judges)))


def read_battle_counts(store: Store, among: Sequence[str] | None = None,
                       judges: Sequence[str] | None = None) -> pd.DataFrame:
    """Battles aggregated in SQL: one row per (model_a, model_b, winner, category) with its count `n`.

    With `among`, only battles whose two models are both in it (a heatmap's models, a compared pair); with
    `judges`, only battles of those sources.
    """
    query = sa.select(
        battles.c.model_a, battles.c.model_b, battles.c.winner, battles.c.category, sa.func.count().label("n")
    ).group_by(battles.c.model_a, battles.c.model_b, battles.c.winner, battles.c.category)
    if among is not None:
        query = query.where(battles.c.model_a.in_(list(among)), battles.c.model_b.in_(list(among)))
    frame = _frame(store, _of_sources(query, judges), "battles")
    blocks = _blocks(store, judges)
    if among is not None:
        blocks = blocks[blocks["model_a"].isin(list(among)) & blocks["model_b"].isin(list(among))]
    if blocks.empty:
        return frame
    keys = ["model_a", "model_b", "winner", "category"]
    counted = blocks.groupby(keys, dropna=False, sort=False).size().reset_index(name="n")
    return _summed([frame, counted], keys, ["n"])


def read_win_counts(store: Store, by_category: bool = False, judges: Sequence[str] | None = None) -> pd.DataFrame:
    """Per model (and category): battles, wins and ties in either seat, aggregated in SQL (with `judges`,
    only battles of those sources).

    Only one row per model (per category) comes back, however many battles there are.
    """
    tie = battles.c.winner.like("tie%")
    keys = [battles.c.category] if by_category else []
    seats = [
        _of_sources(sa.select(
            seat.label("model"),
            *keys,
            sa.func.count().label("battles"),
            sa.func.sum(sa.case((battles.c.winner == won, 1), else_=0)).label("wins"),
            sa.func.sum(sa.case((tie, 1), else_=0)).label("ties"),
        ).group_by(seat, *keys), judges)
        for seat, won in ((battles.c.model_a, "model_a"), (battles.c.model_b, "model_b"))
    ]
    both = sa.union_all(*seats).subquery()
    groups = [both.c.model, *([both.c.category] if by_category else [])]
    query = sa.select(
        *groups,
        sa.func.sum(both.c.battles).label("battles"),
        sa.func.sum(both.c.wins).label("wins"),
        sa.func.sum(both.c.ties).label("ties"),
    ).group_by(*groups)
    frame = _frame(store, query, "battles")
    blocks = _blocks(store, judges)
    if blocks.empty:
        return frame
    names = ["model", *(["category"] if by_category else [])]
    seats = [blocks.assign(model=blocks[seat], battles=1, wins=(blocks["winner"] == seat).astype("int64"),
                           ties=blocks["winner"].str.startswith("tie").astype("int64"))[[*names, "battles", "wins", "ties"]]
             for seat in ("model_a", "model_b")]
    return _summed([frame, *seats], names, ["battles", "wins", "ties"])


def read_battle_rows(store: Store) -> pd.DataFrame:
    """Every battle (model_a, model_b, winner, category), in insertion order: what online Elo replays."""
    query = sa.select(battles.c.model_a, battles.c.model_b, battles.c.winner, battles.c.category).order_by(
        battles.c.id
    )
    frame = _frame(store, query.add_columns(battles.c.id), "battles")
    blocks = _blocks(store)
    columns = ["model_a", "model_b", "winner", "category"]
    if blocks.empty:
        return frame[columns]
    import pandas as pd

    # a block sits after the battles rows written before it (ids up to its after_battle), blocks by id
    rows = frame.assign(place=frame["id"].astype("float64"), block=0)
    placed = blocks.assign(place=blocks["after_battle"].astype("float64") + 0.5)
    parts = [part[[*columns, "place", "block"]] for part in (rows, placed) if not part.empty]
    both = pd.concat(parts, ignore_index=True)
    return both.sort_values(["place", "block"], kind="stable", ignore_index=True)[columns]


def read_ratings(store: Store) -> pd.DataFrame:
    """The newest stored ratings per method: the rows of the latest battle set each method was fit on."""
    latest = (
        sa.select(ratings.c.method, sa.func.max(ratings.c.id).label("top")).group_by(ratings.c.method).subquery()
    )
    newest_sets = (
        sa.select(ratings.c.method, ratings.c.battle_set)
        .join(latest, ratings.c.id == latest.c.top)
        .subquery()
    )
    query = (
        sa.select(ratings)
        .join(
            newest_sets,
            sa.and_(ratings.c.method == newest_sets.c.method, ratings.c.battle_set == newest_sets.c.battle_set),
        )
        .order_by(ratings.c.method, ratings.c.rating.desc())
    )
    return _frame(store, query, "ratings")


def read_sample_rows(store: Store, run_id: str, task: str) -> pd.DataFrame:
    """The per-sample records of one task of one run, in document order."""
    query = (
        sa.select(
            samples.c.doc_id, samples.c.filter, samples.c.doc_hash, samples.c.prompt, samples.c.target,
            samples.c.prediction, samples.c.metrics,
        )
        .where(samples.c.run_id == run_id, samples.c.task == task)
        .order_by(samples.c.doc_id, samples.c.id)
    )
    return _frame(store, query, "samples")


def read_sample_tasks(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """Which (run_id, task) pairs have per-sample records, with their counts."""
    query = (
        sa.select(samples.c.run_id, samples.c.task, sa.func.count().label("n"))
        .where(samples.c.run_id.in_(list(run_ids)))
        .group_by(samples.c.run_id, samples.c.task)
    )
    return _frame(store, query, "samples")


def read_run_tasks(store: Store, run_ids: Sequence[str]) -> pd.DataFrame:
    """One row per evaluated entry (a group once, with its subtasks' samples counted) of these runs."""
    query = sa.select(
        task_results.c.run_id, task_results.c.task, task_results.c.task_hash, task_results.c.num_fewshot,
        task_results.c.n_samples,
    ).where(task_results.c.run_id.in_(list(run_ids))).order_by(task_results.c.id)
    return _frame(store, query, "task_results")


def read_task_results(store: Store, run_id: str) -> pd.DataFrame:
    """The per-task rows of one run (task, few-shot, samples, reused-from run)."""
    query = (
        sa.select(
            task_results.c.task, task_results.c.num_fewshot, task_results.c.n_samples,
            task_results.c.copied_from, task_results.c.created_at,
        )
        .where(task_results.c.run_id == run_id)
        .order_by(task_results.c.id)
    )
    return _frame(store, query, "task_results")


def read_generations(store: Store, model_names: Sequence[str]) -> pd.DataFrame:
    """Answers of the named models to open-ended questions (model, question_set, question_id, turns)."""
    query = (
        sa.select(
            generations.c.model, generations.c.question_set, generations.c.question_id, generations.c.turns,
        )
        .where(generations.c.model.in_(list(model_names)))
        .order_by(generations.c.question_set, generations.c.question_id, generations.c.id)
    )
    return _frame(store, query, "generations")


def read_judgments(store: Store, model_x: str, model_y: str) -> pd.DataFrame:
    """Every pairwise judgment between two models, in either seat, oldest first."""
    pair = sa.or_(
        sa.and_(judgments.c.model_a == model_x, judgments.c.model_b == model_y),
        sa.and_(judgments.c.model_a == model_y, judgments.c.model_b == model_x),
    )
    names = ["judge", "question_set", "question_id", "turn", "model_a", "model_b", "answer_order", "status",
             "verdict", "winner", "raw_output", "error"]
    query = (
        sa.select(*[judgments.c[name] for name in names if name in judgments.c])
        .where(judgments.c.mode == "pairwise", pair)
        .order_by(judgments.c.id)
    )
    return _frame(store, query, "judgments")
