"""The records every part of harness exchanges: models, task results, samples, generations, judgments,
battles, ratings, baselines and questions.

Frozen, keyword-only dataclasses with no I/O: the store persists them, readers in `formats/` produce them,
`eval/`, `judge/`, `arena/` and `gate/` compute over them. Importing this module loads nothing heavy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from harness.fingerprint import content_hash

# A battle's outcome, in Chatbot Arena's clean_battle terms.
WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
# Rating methods stored per battle set.
RATING_METHODS = ("bt", "elo", "bt-controlled")


@dataclass(frozen=True, kw_only=True)
class ModelRecord:
    """A model as the store knows it: the name it was given as, where it came from and its fingerprint."""

    name: str
    source: str
    fingerprint: str
    kind: str = "base"  # base | full | lora | api
    base_model: str | None = None
    recipe: str | None = None
    n_params: int | None = None
    card: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Score:
    """One aggregate metric of one task, as lm-eval reports it."""

    task: str
    metric: str
    filter: str
    value: float | None
    stderr: float | None
    n: int | None
    higher_is_better: bool | None = None


@dataclass(frozen=True, kw_only=True)
class SampleRecord:
    """One document's outcome: lm-eval's hashes, the prediction and the per-sample metric values."""

    task: str
    doc_id: int
    filter: str
    doc_hash: str | None
    prompt_hash: str | None
    target_hash: str | None
    prompt: str | None
    target: str | None
    prediction: str | None
    metrics: dict[str, float]
    log: dict[str, Any] | None = None  # the sample as lm-eval logs it (doc, arguments, resps, filtered_resps, ...)


@dataclass(frozen=True, kw_only=True)
class TaskResult:
    """Everything one task of one run produced."""

    task: str
    task_hash: str
    eval_key: str
    num_fewshot: int | None
    scores: list[Score]
    samples: list[SampleRecord]
    members: list[str] = field(default_factory=list)  # a group's own name and its subtasks'; [] means [task]
    spec_key: str | None = None  # cache key from the task files (project tasks only)


@dataclass(frozen=True, kw_only=True)
class RunTask:
    """One task of one stored run as the gate needs it: the config hash and few-shot count it ran with."""

    task: str
    task_hash: str
    num_fewshot: int | None
    n_samples: int


@dataclass(frozen=True, kw_only=True)
class Generation:
    """One model's answers (one per turn) to one question under one generation config."""

    gen_key: str
    content_key: str
    model: str
    model_fingerprint: str
    question_set: str
    question_id: str
    turns: list[str]
    config: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Judgment:
    """One judge call and its outcome; `status` is ok or error, `raw_output` the judge's text as returned."""

    cache_key: str
    judge: str
    prompt_name: str
    prompt_hash: str
    mode: str  # pairwise | single
    question_set: str
    question_id: str
    turn: int
    model_a: str
    model_b: str | None
    answer_order: str  # ab | ba | a
    status: str  # ok | error
    verdict: str | None = None  # A | B | tie, in the order the answers were shown
    winner: str | None = None  # model name, tie or tie (bothbad)
    score: float | None = None
    raw_output: str | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int | None = None


@dataclass(frozen=True, kw_only=True)
class Battle:
    """A Chatbot Arena `clean_battle`-shaped outcome; `extra` keeps anything else the source had."""

    model_a: str
    model_b: str
    winner: str  # one of WINNERS
    source: str = "import"
    question_set: str | None = None
    question_id: str | None = None
    turn: int | None = None
    category: str | None = None
    judge: str | None = None
    battle_key: str | None = None  # set it to make re-writing the same battle a no-op
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Rating:
    """One model's rating under one method for one battle set; CIs and ranks are None without a bootstrap."""

    battle_set: str
    method: str  # one of RATING_METHODS
    model: str
    rating: float
    ci_low: float | None = None
    ci_high: float | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    n_battles: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """A pinned name and the run id it stands for."""

    name: str
    run_id: str
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Question:
    """One open-ended question: its turns (asked one after another) and, where one decides, a reference per turn."""

    question_id: str
    category: str
    turns: tuple[str, ...]
    references: tuple[str, ...] | None = None

    @property
    def content_hash(self) -> str:
        return content_hash({"turns": list(self.turns), "references": list(self.references or [])})


@dataclass(frozen=True, kw_only=True)
class QuestionSet:
    """A named list of questions; `name` is what generations, judgments and battles record."""

    name: str
    source: str
    questions: tuple[Question, ...]

    def by_id(self) -> dict[str, Question]:
        return {q.question_id: q for q in self.questions}


@dataclass(frozen=True, kw_only=True)
class PublishedResult:
    """One number a public leaderboard printed for one model, with where it came from; never a computed score.

    `benchmark` is the column as published (`MMLU (few-shot)`); `task` the harness task it is the same as
    (`mmlu`), or None when no task is; `value` is on the task's scale where there is a task (accuracies as
    fractions), else as printed. `result_key` makes re-importing the same file a no-op.
    """

    result_key: str
    leaderboard: str  # which published table: llm-leaderboard, lmsys-blog-2023-06-22, alpaca-eval-2, ...
    format: str  # the reader: llm-leaderboard | lmsys-csv | alpaca-eval-csv | lm-eval-results
    model: str
    benchmark: str
    value: float
    task: str | None = None
    metric: str | None = None
    stderr: float | None = None
    source_url: str | None = None
    source_file: str | None = None  # the file's name (never its folder)
    source_date: str | None = None  # YYYY-MM-DD when the source says
    extra: dict[str, Any] = field(default_factory=dict)
