"""The results store's tables as they are now: what every query in `harness.store` is written against.

Every table lives here so that one file shows the whole data model. The DDL that creates them lives, frozen
step by step, in `harness.store.migrations`; a test checks that migrating a new database gives these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_now = sa.func.current_timestamp

migrations_table = sa.Table(
    "_migrations",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), server_default=_now()),
)

models = sa.Table(
    "models",
    metadata,
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

# Every name and path a model was registered or asked for by (`--name`, a checkpoint path, a hub id), each
# pointing at one model row: a model is its fingerprint, a name is an alias (migration 006_model_aliases).
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("alias", sa.String(1000), primary_key=True),
    sa.Column("model_id", sa.ForeignKey("models.id"), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)

runs = sa.Table(
    "runs",
    metadata,
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
task_results = sa.Table(
    "task_results",
    metadata,
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

scores = sa.Table(
    "scores",
    metadata,
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

samples = sa.Table(
    "samples",
    metadata,
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
    sa.Column("log", sa.LargeBinary),  # 006: the lm-eval sample (arguments, resps, ...) as zlib-compressed JSON
    sa.Index("ix_samples_run_task", "run_id", "task"),
)

# Answers to open-ended questions (harness generate), keyed by model fingerprint + question + config.
generations = sa.Table(
    "generations",
    metadata,
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
judgments = sa.Table(
    "judgments",
    metadata,
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
battles = sa.Table(
    "battles",
    metadata,
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

# 009: a battle file's battles as one row of compressed columns; read with the battles (`battle_blocks`).
battle_blocks = sa.Table(
    "battle_blocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(300), nullable=False, index=True),  # import:<file name>, as its battles' source
    sa.Column("format", sa.String(40), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False, index=True),  # the file's sha256: its rows' keys start here
    sa.Column("n_battles", sa.Integer, nullable=False),
    sa.Column("after_battle", sa.Integer, nullable=False),  # battles.id high-water mark: its place in battle order
    sa.Column("columns", sa.LargeBinary, nullable=False),  # models, codes, row numbers, fields; zlib
    # each battle's extra, one JSON list; zlib (empty: its fields and extras are read from its battle_files row)
    sa.Column("extras", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)

# 010: a battle file's bytes, stored once, for the blocks that keep their rows' other fields in the file.
battle_files = sa.Table(
    "battle_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(80), nullable=False, unique=True),  # the file's sha256, as its blocks' digest
    sa.Column("data", sa.LargeBinary, nullable=False),  # the file's bytes; zstd
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now()),
)

ratings = sa.Table(
    "ratings",
    metadata,
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

baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("ref", sa.String(300), nullable=False),  # a run id
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now()),
)

# A claim on one unit of work (an eval task key, a judge call key, `run:<id>` for a live run); see store.leases.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # eval | judge | generate | run
    sa.Column("owner", sa.String(300), nullable=False, index=True),  # host:pid:token
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(40)),
    sa.Column("acquired_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# A number a public leaderboard printed (harness published import); never mixed with `scores`.
published_results = sa.Table(
    "published_results",
    metadata,
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

# What `harness decontaminate` found per fine-tuning data set (the model card's data sha256) and task.
contamination = sa.Table(
    "contamination",
    metadata,
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
