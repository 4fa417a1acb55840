"""The store's migrations: ordered, named steps, each with its DDL frozen inside it.

A step never refers to the live tables in `schema.py`: those describe the newest schema, and replaying them would
create tables that already have columns a later step adds. A released step is never edited or reordered; a
schema change is a new step at the end (`add_columns` for a new column, a frozen `sa.Table` for a new table), and
`schema.py` is updated to match (`tests/test_store.py` checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

_now = sa.func.current_timestamp


# 001_eval: eval records: models, runs, per-task results, scores and samples.
_step_001 = sa.MetaData()
sa.Table(
    "models",
    _step_001,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(300), nullable=False, index=True),
    sa.Column("source", sa.String(1000), nullable=False),  # path, hub id or API model name
    sa.Column("fingerprint", sa.String(80), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),  # base | full | lora | api
    sa.Column("base_model", sa.String(1000)),
    sa.Column("recipe", sa.String(100)),
    sa.Column("n_params", sa.BigInteger),
    sa.Column("card", sa.JSON),  # harness.json of fine-tuned models, else {}
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
    sa.UniqueConstraint("name", "fingerprint"),
)
sa.Table(
    "runs",
    _step_001,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("model_id", sa.ForeignKey("models.id"), nullable=False, index=True),
    sa.Column("suite", sa.String(200)),
    sa.Column("tasks", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("config_hash", sa.String(80), nullable=False),
    sa.Column("backend", sa.String(40), nullable=False),
    sa.Column("chat_template", sa.String(200)),  # name, NULL when no template was applied
    sa.Column("chat_template_hash", sa.String(80)),
    sa.Column("versions", sa.JSON, nullable=False),
    sa.Column("git_revision", sa.String(60)),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(20), nullable=False),  # running | finished | failed | interrupted
    sa.Column("error", sa.Text),
)
# One row per task of a run, written in the same transaction as that task's scores and samples:
# a task is either wholly in the store or not at all. `eval_key` is the cache key.
sa.Table(
    "task_results",
    _step_001,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("task_hash", sa.String(80), nullable=False),
    sa.Column("eval_key", sa.String(80), nullable=False, index=True),
    # For the project's own tasks: the same key computed from the task files instead of lm-eval's loaded
    # config, so a store hit needs no lm-eval import. NULL for lm-eval's and hub tasks.
    sa.Column("spec_key", sa.String(80), index=True),
    sa.Column("num_fewshot", sa.Integer),
    sa.Column("n_samples", sa.Integer, nullable=False),
    sa.Column("members", sa.JSON),  # names its score/sample rows carry: the task, or a group and its subtasks
    sa.Column("copied_from", sa.String(40)),  # run id the result was reused from, if any
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)
sa.Table(
    "scores",
    _step_001,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("metric", sa.String(100), nullable=False),
    sa.Column("filter", sa.String(100), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("stderr", sa.Float),
    sa.Column("n", sa.Integer),
    sa.Column("higher_is_better", sa.Boolean),
)
sa.Table(
    "samples",
    _step_001,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("doc_id", sa.Integer, nullable=False),
    sa.Column("filter", sa.String(100), nullable=False),
    sa.Column("doc_hash", sa.String(80)),
    sa.Column("prompt_hash", sa.String(80)),
    sa.Column("target_hash", sa.String(80)),
    sa.Column("prompt", sa.Text),
    sa.Column("target", sa.Text),
    sa.Column("prediction", sa.Text),
    sa.Column("metrics", sa.JSON, nullable=False),  # {"acc": 1.0, "acc_norm": 0.0}
    sa.Index("ix_samples_run_task", "run_id", "task"),
)


# 002_judge_arena: judge and arena records: generations, judgments, battles, ratings.
_step_002 = sa.MetaData()
# Answers to open-ended questions (harness generate), keyed by model fingerprint + question + config.
sa.Table(
    "generations",
    _step_002,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("gen_key", sa.String(80), nullable=False, unique=True),  # content_key + the model's name
    sa.Column("content_key", sa.String(80), index=True),  # fingerprint + question + config: reusable across names
    sa.Column("model", sa.String(300), nullable=False, index=True),  # the name the model was given as
    sa.Column("model_fingerprint", sa.String(80), nullable=False),
    sa.Column("question_set", sa.String(200), nullable=False),
    sa.Column("question_id", sa.String(200), nullable=False),
    sa.Column("turns", sa.JSON, nullable=False),  # list of answers, one per question turn
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
    sa.Index("ix_generations_set_question", "question_set", "question_id"),
)
# One judge call (one answer order, or one single-answer grade). Errors are rows too, so runs resume.
sa.Table(
    "judgments",
    _step_002,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cache_key", sa.String(80), nullable=False, unique=True),
    sa.Column("judge", sa.String(300), nullable=False, index=True),
    sa.Column("prompt_name", sa.String(100), nullable=False),
    sa.Column("prompt_hash", sa.String(80), nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),  # pairwise | single
    sa.Column("question_set", sa.String(200), nullable=False),
    sa.Column("question_id", sa.String(200), nullable=False),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("model_a", sa.String(300), nullable=False),
    sa.Column("model_b", sa.String(300)),
    sa.Column("answer_order", sa.String(4), nullable=False),  # ab | ba | a (single)
    sa.Column("status", sa.String(10), nullable=False),  # ok | error
    sa.Column("verdict", sa.String(10)),  # A | B | tie (in presented order) for pairwise
    sa.Column("winner", sa.String(300)),  # the winning model's name, tie or tie (bothbad); NULL for single
    sa.Column("score", sa.Float),  # 1-10 for single
    sa.Column("attempts", sa.Integer),  # judge calls made (retries included); 0 when imported or offline
    sa.Column("raw_output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("cost_usd", sa.Float),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)
# A battle is one outcome between two models (Chatbot Arena clean_battle shape), from a judge or a file.
sa.Table(
    "battles",
    _step_002,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(300), nullable=False, index=True),  # judge:<name> | import:<file> | human
    sa.Column("battle_key", sa.String(80), unique=True),  # set when re-writing must not duplicate
    sa.Column("question_set", sa.String(200)),
    sa.Column("question_id", sa.String(200)),
    sa.Column("turn", sa.Integer),
    sa.Column("category", sa.String(100)),
    sa.Column("model_a", sa.String(300), nullable=False),
    sa.Column("model_b", sa.String(300), nullable=False),
    sa.Column("winner", sa.String(20), nullable=False),  # model_a | model_b | tie | tie (bothbad)
    sa.Column("judge", sa.String(300)),
    sa.Column("extra", sa.JSON),  # answer lengths, markdown counts, anything kept from the source
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)
sa.Table(
    "ratings",
    _step_002,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("battle_set", sa.String(80), nullable=False, index=True),  # fingerprint of the battles
    sa.Column("method", sa.String(20), nullable=False),  # bt | elo | bt-controlled
    sa.Column("model", sa.String(300), nullable=False),
    sa.Column("rating", sa.Float, nullable=False),
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("rank_low", sa.Integer),
    sa.Column("rank_high", sa.Integer),
    sa.Column("n_battles", sa.Integer),
    sa.Column("params", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)


# 003_baselines: pinned baselines for the gate.
_step_003 = sa.MetaData()
sa.Table(
    "baselines",
    _step_003,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("ref", sa.String(300), nullable=False),  # a run id
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now()),
)


# 004_leases: claims on units of work, so many processes and machines share one store.
_step_004 = sa.MetaData()
sa.Table(
    "leases",
    _step_004,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(300), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(40)),
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


# 005_published: numbers public leaderboards printed, kept apart from the scores the store computed.
_step_005 = sa.MetaData()
sa.Table(
    "published_results",
    _step_005,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("result_key", sa.String(80), nullable=False, unique=True),  # file digest + model + column
    sa.Column("leaderboard", sa.String(200), nullable=False, index=True),  # the published table
    sa.Column("format", sa.String(40), nullable=False),
    sa.Column("model", sa.String(300), nullable=False, index=True),  # the name as published
    sa.Column("benchmark", sa.String(200), nullable=False),  # the column (its label when it is a known one)
    sa.Column("task", sa.String(200)),  # the harness task it is the same as, if any
    sa.Column("metric", sa.String(100)),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("stderr", sa.Float),
    sa.Column("source_url", sa.String(1000)),
    sa.Column("source_file", sa.String(300)),  # the file's name, never its folder
    sa.Column("source_date", sa.String(10)),  # YYYY-MM-DD when the source says
    sa.Column("extra", sa.JSON),  # the column as printed, publisher, license, vote counts, ...
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)


# 006_model_aliases: every name and path of a model points at its one row (a model is its fingerprint).
_step_006 = sa.MetaData()
_aliases_006 = sa.Table(
    "model_aliases",
    _step_006,
    sa.Column("alias", sa.String(1000), primary_key=True),
    sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)
_models_006 = sa.Table("models", _step_006, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String),
                       sa.Column("source", sa.String))


def _model_aliases(conn: sa.Connection) -> None:
    """Create the alias table and give every stored model its name and source as aliases (newest row wins)."""
    _aliases_006.create(conn)
    owner: dict[str, int] = {}
    for row in conn.execute(sa.select(_models_006).order_by(_models_006.c.id)):
        owner[row.name] = owner[row.source] = row.id
    if owner:
        conn.execute(sa.insert(_aliases_006), [{"alias": a, "model_id": i} for a, i in owner.items()])


# 008_contamination: what `harness decontaminate` found, per fine-tuning data file set (its sha256, as the
# model card records it) and evaluation task, so the leaderboard can flag a model trained on a task's documents.
_step_008 = sa.MetaData()
sa.Table(
    "contamination",
    _step_008,
    sa.Column("data_sha256", sa.String(80), primary_key=True),
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("ngram", sa.Integer, primary_key=True),
    sa.Column("data", sa.String(1000), nullable=False),  # the --data path as given
    sa.Column("docs", sa.Integer, nullable=False),
    sa.Column("contaminated_docs", sa.Integer, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("contaminated_records", sa.Integer, nullable=False),
    sa.Column("examples", sa.JSON),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)


# 009_battle_blocks: a battle file's battles stored as one row of compressed columns (`harness.store.battle_blocks`).
_step_009 = sa.MetaData()
sa.Table(
    "battle_blocks",
    _step_009,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(300), nullable=False, index=True),  # import:<file name>, as its battles' source
    sa.Column("format", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False, index=True),  # the file's sha256: its rows' keys start here
    sa.Column("n_battles", sa.Integer, nullable=False),
    sa.Column("after_battle", sa.Integer, nullable=False),  # battles.id high-water mark: its place in battle order
    sa.Column("columns", sa.LargeBinary, nullable=False),  # models, codes, row numbers, fields; zlib
    sa.Column("extras", sa.LargeBinary, nullable=False),  # each battle's extra, one JSON list; zlib
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)

# 010_battle_files: a battle file's bytes, stored once, for blocks that read their rows' other fields from it.
_step_010 = sa.MetaData()
sa.Table(
    "battle_files",
    _step_010,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(80), nullable=False, unique=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)


def add_columns(conn: sa.Connection, table: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    """`ALTER TABLE ... ADD COLUMN` for each column, in the connection's dialect (for later steps)."""
    for column in columns:
        ddl = sa.schema.CreateColumn(column).compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def _sample_logs(conn: sa.Connection) -> None:
    """007_sample_logs: each sample's lm-eval log (prompt arguments, responses, log-likelihoods), compressed."""
    add_columns(conn, "samples", sa.Column("log", sa.LargeBinary))


def _create(step: sa.MetaData) -> Callable[[sa.Connection], None]:
    def migrate(conn: sa.Connection) -> None:
        step.create_all(conn)

    return migrate


# Append only.
MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("001_eval", _create(_step_001)),
    ("002_judge_arena", _create(_step_002)),
    ("003_baselines", _create(_step_003)),
    ("004_leases", _create(_step_004)),
    ("005_published", _create(_step_005)),
    ("006_model_aliases", _model_aliases),
    ("007_sample_logs", _sample_logs),
    ("008_contamination", _create(_step_008)),
    ("009_battle_blocks", _create(_step_009)),
    ("010_battle_files", _create(_step_010)),
]
SCHEMA_VERSION = len(MIGRATIONS)
