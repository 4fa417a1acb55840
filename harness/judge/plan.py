"""What `harness judge` will ask: the config, and the plan of judge calls (jobs) and pairs (matches).

Every pair of models is judged per question and turn in both answer orders (two jobs, one match); a job's
cache key covers the judge model, the prompt's hash, the question, both answers (with the models that gave
them, in the order shown) and so the order itself. Planning reads the store but writes nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import HarnessError
from harness.fingerprint import content_hash
from harness.formats.questions import load_questions
from harness.judge.offline import OFFLINE_JUDGE
from harness.judge.prompts import JudgePrompt, choose_prompt, load_prompts
from harness.records import Question, QuestionSet
from harness.store import Store
from harness.store.generations import read_answers

JUDGE_KEY_VERSION = 1  # bump when the meaning of a stored judgment changes
Mode = Literal["pairwise-all", "pairwise-baseline", "single"]


class JudgeConfig(BaseModel):
    """Everything `harness judge` needs; the CLI builds one from its flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(min_length=1)
    """Model names as given to `harness generate` (--model or --name)."""
    questions: str
    """Question set name from tasks/questions/ or a question file."""
    judge: str | None = None
    """Judge model name at the endpoint; None (and no base URL) means the offline reference-matching judge."""
    judge_base_url: str | None = None
    """OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1); None means OpenAI's when --judge is set."""
    judge_api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key itself is never stored)."""
    mode: Mode = "pairwise-all"
    """pairwise-all: every pair; pairwise-baseline: each model against --baseline; single: 1-10 grades."""
    baseline: str | None = None
    """The baseline model of pairwise-baseline."""
    concurrency: int = Field(16, ge=1, le=1024)
    """Judge calls in flight at once (over all workers)."""
    workers: int | None = Field(None, ge=1, le=64)
    """Processes that share the calls, each with its own async pool; None: one per 32 calls in flight, at
    most one per CPU (one process spends 1-2 ms of CPU per call)."""
    max_cost: float | None = Field(None, ge=0)
    """Stop starting judge calls once this many USD are spent."""
    price_per_mtok: tuple[float, float] | None = None
    """USD per million prompt and completion tokens, overriding the built-in price list."""
    max_tokens: int = Field(1024, ge=16)
    """Judge output budget per call."""
    timeout: float = Field(120.0, gt=0)
    """Seconds before a judge call counts as timed out (and is retried)."""
    prompts: Literal["fastchat", "harness"] = "fastchat"
    """fastchat: FastChat's MT-bench judge prompts (references only for math, reasoning, coding); harness: the
    project's own prompts (a reference wherever the question has one)."""

    @field_validator("models")
    @classmethod
    def _distinct(cls, models: list[str]) -> list[str]:
        if len(set(models)) != len(models):
            raise ValueError("each model may be named once")
        return models

    @model_validator(mode="after")
    def _named_judge(self) -> JudgeConfig:
        if self.judge_base_url and not self.judge:
            # a HarnessError (not a ValueError) passes through pydantic with its hint intact
            raise HarnessError("--judge-base-url needs --judge MODEL", hint="the model name the endpoint serves")
        return self

    @property
    def offline(self) -> bool:
        return self.judge is None and self.judge_base_url is None

    @property
    def judge_name(self) -> str:
        return OFFLINE_JUDGE if self.offline else str(self.judge)


@dataclass(frozen=True)
class Job:
    """One judge call: a pairwise comparison in one answer order, or one single-answer grade."""

    key: str
    question_set: str
    mode: str  # pairwise | single
    prompt: JudgePrompt | None  # None for the offline judge
    question: Question
    turn: int
    model_a: str  # the pair's first model (the graded model in single mode)
    model_b: str | None
    order: str  # ab: model_a shown first; ba: model_b shown first; a: single
    first: tuple[str, ...]  # answer turns shown as A (or graded)
    second: tuple[str, ...] | None

    @property
    def shown(self) -> tuple[str, str | None]:
        """(model shown as A, model shown as B)."""
        return (self.model_a, self.model_b) if self.order != "ba" else (str(self.model_b), self.model_a)


@dataclass(frozen=True)
class Match:
    """One pair of models on one question and turn: the two jobs (orders ab and ba) that make a battle."""

    ab: Job
    ba: Job


@dataclass(frozen=True)
class Plan:
    """The jobs of a run, the matches they form, and what was left out."""

    question_set: QuestionSet
    jobs: list[Job]
    matches: list[Match]
    skipped_no_reference: int
    answers: dict[str, dict[str, list[str]]]


def model_pairs(config: JudgeConfig) -> list[tuple[str, str]]:
    """The (model_a, model_b) pairs a pairwise mode judges, in FastChat's order."""
    if config.mode == "pairwise-baseline":
        if not config.baseline:
            raise HarnessError("--mode pairwise-baseline needs --baseline MODEL")
        return [(m, config.baseline) for m in config.models if m != config.baseline]
    if len(config.models) < 2:
        raise HarnessError("pairwise judging needs at least two models", hint="pass --models A,B")
    return list(itertools.combinations(config.models, 2))


def _job_key(
    config: JudgeConfig,
    prompt: JudgePrompt | None,
    qset: str,
    q: Question,
    turn: int,
    shown: list[tuple[str, tuple[str, ...]]],
) -> str:
    return content_hash(
        {
            "v": JUDGE_KEY_VERSION,
            "judge": config.judge_name,
            "prompt": prompt.hash if prompt else "offline",
            "set": qset,
            "question": q.question_id,
            "question_hash": q.content_hash,
            "turn": turn,
            "shown": [[name, list(answers[:turn])] for name, answers in shown],
        }
    )


def _load_answers(store: Store, config: JudgeConfig, qset: QuestionSet) -> dict[str, dict[str, list[str]]]:
    names = set(config.models) | (
        {config.baseline} if config.mode == "pairwise-baseline" and config.baseline else set()
    )
    answers = {}
    for name in sorted(names):
        answers[name] = read_answers(store, name, qset.name)
        if not answers[name]:
            raise HarnessError(
                f"no answers of model {name!r} on question set {qset.name!r} in the store",
                hint=f"run `harness generate --model {name} --questions {config.questions}` first",
            )
    return answers


def _turns(q: Question, *answer_lists: list[str]) -> int:
    return min([len(q.turns)] + [len(a) for a in answer_lists])


def _judgeable(config: JudgeConfig, q: Question, turn: int) -> bool:
    return not config.offline or bool(q.references and len(q.references) >= turn)


def plan_jobs(store: Store, config: JudgeConfig) -> Plan:
    """Read the questions, prompts and stored answers and list every judge call the run needs."""
    qset = load_questions(config.questions)
    prompts = {} if config.offline else load_prompts()
    answers = _load_answers(store, config, qset)
    jobs: list[Job] = []
    matches: list[Match] = []
    skipped = 0
    kind = "single" if config.mode == "single" else "pairwise"
    for q in qset.questions:
        units = [(m, None) for m in config.models] if kind == "single" else model_pairs(config)
        for a, b in units:
            first = answers[a].get(q.question_id)
            second = answers[b].get(q.question_id) if b else None
            if first is None or (b and second is None):
                continue
            for turn in range(1, _turns(q, first, *([second] if second else [])) + 1):
                if not _judgeable(config, q, turn):
                    skipped += 1
                    continue
                prompt = choose_prompt(prompts, kind, q, turn, config.prompts) if prompts else None
                made = _make_jobs(config, prompt, qset.name, q, turn, (a, tuple(first)), (b, second))
                jobs.extend(made)
                if len(made) == 2:
                    matches.append(Match(*made))
    return Plan(qset, jobs, matches, skipped, answers)


def _make_jobs(
    config: JudgeConfig,
    prompt: JudgePrompt | None,
    qset: str,
    q: Question,
    turn: int,
    a: tuple[str, tuple[str, ...]],
    b: tuple[str | None, list[str] | None],
) -> list[Job]:
    name_b, answers_b = b
    if name_b is None or answers_b is None:
        key = _job_key(config, prompt, qset, q, turn, [a])
        return [Job(key, qset, "single", prompt, q, turn, a[0], None, "a", a[1], None)]
    second = (name_b, tuple(answers_b))
    return [
        Job(_job_key(config, prompt, qset, q, turn, [first, then]), qset, "pairwise", prompt, q, turn, a[0], name_b,
            order, first[1], then[1])
        for order, first, then in (("ab", a, second), ("ba", second, a))
    ]


def judge_config_from_env(models: list[str], questions: str, **options: object) -> JudgeConfig:
    """A config whose judge comes from HARNESS_JUDGE / HARNESS_JUDGE_BASE_URL (the CLI's env vars), else offline.

    `harness demo` uses it: the offline reference-matching judge unless an endpoint is configured.
    """
    import os

    values: dict[str, object] = {
        "models": models,
        "questions": questions,
        "judge": os.environ.get("HARNESS_JUDGE") or None,
        "judge_base_url": os.environ.get("HARNESS_JUDGE_BASE_URL") or None,
    }
    return JudgeConfig(**{**values, **options})  # type: ignore[arg-type]
