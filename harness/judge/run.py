"""`harness judge`: judge stored answers pairwise (both answer orders) or one by one, and write battles.

`run_judge(config, store_url)` plans the calls (`judge_plan`), serves every finished one from the
judgments cache, asks the judge for the rest (the shared async `ModelClient`, or the offline reference-matching
judge when no endpoint is configured) and writes each judgment as it completes, together with the battle
its pair completes. A killed run loses only the calls in flight; a re-run makes zero calls.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

from harness.answer_style import style_metadata
from harness.client import (
    Completion,
    Endpoint,
    ModelClient,
    RetryPolicy,
    Sampling,
    Usage,
    api_key_from_env,
)
from harness.console import progress
from harness.fingerprint import content_hash
from harness.formats.fastchat import fastchat_winner
from harness.judge.dispatch import Dispatch, RunStats
from harness.judge.offline import OFFLINE_JUDGE, grade_answer, judge_pair
from harness.judge.plan import Job, JudgeConfig, Match, Plan, plan_jobs
from harness.judge.prompts import render_pairwise, render_single
from harness.judge.verdicts import PAIRWISE_PARSERS, SINGLE_PARSERS
from harness.judge.workers import share_of, start_workers, worker_count
from harness.records import Battle, Judgment
from harness.store import Store, open_store
from harness.store.judgments import find_judgments, judge_usage, write_judgments
from harness.store.leases import Heartbeat
from harness.store.models import stored_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JudgeOutcome:
    """What `harness judge` reports."""

    judge: str
    offline: bool
    mode: str
    question_set: str
    models: list[str]
    stats: RunStats
    skipped_no_reference: int
    usage: Usage
    stopped_by_budget: bool
    results: list[dict[str, Any]] = field(default_factory=list)
    calls_by_worker: list[int] = field(default_factory=list)  # one entry per process that judged

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["judgments"] = data.pop("stats")
        data["judge_label"] = "offline reference-matching judge (not an LLM)" if self.offline else "LLM judge"
        return data


def _side(winner: str | None, match: Match) -> str:
    if winner == match.ab.model_a:
        return "model_a"
    if winner == match.ab.model_b:
        return "model_b"
    return str(winner)


def make_battle(judge: str, question_set: str, match: Match, ab: Judgment, ba: Judgment) -> Battle:
    """The battle of one match: FastChat's rule (a tie when the orders disagree or either is a tie)."""
    g1, g2 = _side(ab.winner, match), _side(ba.winner, match)
    job = match.ab
    meta = style_metadata(job.first[job.turn - 1], str(job.second[job.turn - 1]) if job.second else "")
    key = content_hash({"judge": judge, "set": question_set, "keys": [ab.cache_key, ba.cache_key]})
    return Battle(
        model_a=job.model_a,
        model_b=str(job.model_b),
        winner=fastchat_winner(g1, g2),
        source=f"judge:{judge}",
        question_set=question_set,
        question_id=job.question.question_id,
        turn=job.turn,
        category=job.question.category or None,
        judge=judge,
        battle_key=key,
        extra={
            "conv_metadata": meta,
            "g1": g1,
            "g2": g2,
            "prompt": ab.prompt_name,
            "offline": judge == OFFLINE_JUDGE,
        },
    )


class _BattleBook:
    """Remembers finished judgments and turns each match whose two orders are both ok into a battle."""

    def __init__(self, judge: str, plan: Plan, done: dict[str, Judgment]) -> None:
        self.judge, self.set_name, self.jobs = judge, plan.question_set.name, plan.jobs
        self.results = dict(done)
        self.matches: dict[str, list[Match]] = {}
        for m in plan.matches:
            self.matches.setdefault(m.ab.key, []).append(m)
            self.matches.setdefault(m.ba.key, []).append(m)

    def _battle(self, m: Match) -> Battle | None:
        ab, ba = self.results.get(m.ab.key), self.results.get(m.ba.key)
        if ab is None or ba is None or ab.status != "ok" or ba.status != "ok":
            return None
        return make_battle(self.judge, self.set_name, m, ab, ba)

    def add(self, record: Judgment) -> list[Battle]:
        self.results[record.cache_key] = record
        return [b for m in self.matches.get(record.cache_key, []) if (b := self._battle(m))]

    def existing(self) -> list[Battle]:
        seen = {id(m): m for ms in self.matches.values() for m in ms}
        return [b for m in seen.values() if (b := self._battle(m))]


def _record(
    judge: str,
    job: Job,
    *,
    verdict: str | None = None,
    winner: str | None = None,
    score: float | None = None,
    text: str | None = None,
    error: str | None = None,
    completion: Completion[Any] | None = None,
) -> Judgment:
    return Judgment(
        cache_key=job.key,
        judge=judge,
        prompt_name=job.prompt.name if job.prompt else "offline-reference-match",
        prompt_hash=job.prompt.hash if job.prompt else "offline",
        mode=job.mode,
        question_set=job.question_set,
        question_id=job.question.question_id,
        turn=job.turn,
        model_a=job.model_a,
        model_b=job.model_b,
        answer_order=job.order,
        status="error" if error else "ok",
        verdict=verdict,
        winner=winner,
        score=score,
        raw_output=text,
        error=error,
        prompt_tokens=completion.prompt_tokens if completion else 0,
        completion_tokens=completion.completion_tokens if completion else 0,
        cost_usd=completion.cost_usd if completion else 0.0,
        attempts=completion.attempts if completion else 0,
    )


def _winner_of(job: Job, verdict: str, bothbad: bool = False) -> str:
    first, second = job.shown
    return {"A": first, "B": str(second)}.get(verdict, "tie (bothbad)" if bothbad else "tie")


def judge_offline(job: Job) -> Judgment:
    """The offline reference-matching judge's judgment of one job (no network, deterministic)."""
    reference = str(job.question.references[job.turn - 1]) if job.question.references else ""
    if job.mode == "single":
        score, text = grade_answer(reference, job.first[job.turn - 1])
        return _record(OFFLINE_JUDGE, job, score=score, text=text)
    found = judge_pair(
        reference, job.first[job.turn - 1], str(job.second[job.turn - 1]) if job.second else ""
    )
    winner = _winner_of(job, found.verdict, bothbad=found.winner_label is not None)
    return _record(OFFLINE_JUDGE, job, verdict=found.verdict, winner=winner, text=found.text)


async def _ask(client: ModelClient, judge: str, job: Job) -> Judgment:
    assert job.prompt is not None
    if job.mode == "single":
        messages = render_single(job.prompt, job.question, job.turn, job.first)
        graded = await client.complete(messages, SINGLE_PARSERS[job.prompt.output_format]())
        return _record(
            judge, job, score=graded.value, text=graded.text, error=graded.error, completion=graded
        )
    messages = render_pairwise(job.prompt, job.question, job.turn, job.first, job.second or ())
    done = await client.complete(messages, PAIRWISE_PARSERS[job.prompt.output_format]())
    winner = _winner_of(job, done.value) if done.value else None
    return _record(
        judge, job, verdict=done.value, winner=winner, text=done.text, error=done.error, completion=done
    )


def make_client(
    config: JudgeConfig, policy: RetryPolicy | None = None, spent: float = 0.0, share: float = 1.0
) -> ModelClient:
    """The judge client for `config`; the API key is read from the named environment variable here only.

    `spent` is what this judge already cost in the store: `--max-cost` caps the total, not each run. A worker's
    client may spend its `share` of what is left, so that the workers together stay under the cap.
    """
    assert config.judge is not None, "JudgeConfig guarantees a judge name with a base URL"
    key = api_key_from_env(
        config.judge_api_key_env,
        config.judge_base_url,
        f"judge {config.judge}",
        hint="export it, pass --judge-base-url for a local endpoint, or omit --judge for the offline judge",
    )
    endpoint = Endpoint(
        model=config.judge,
        base_url=config.judge_base_url,
        label="judge",
        key_env=config.judge_api_key_env,
        concurrency=config.concurrency,
        policy=policy or RetryPolicy(),
        price=config.price_per_mtok,
        max_cost=None if config.max_cost is None else max(0.0, config.max_cost - spent) * share,
        timeout=config.timeout,
        sampling=Sampling(temperature=0.0, max_tokens=config.max_tokens),
    )
    return ModelClient(endpoint, key)


async def _ask_offline(job: Job) -> Judgment:
    return judge_offline(job)


def _by_stored_names(store: Store, config: JudgeConfig) -> JudgeConfig:
    """`--models`/`--baseline` given by a path or alias mean the model's stored name (its answers' name)."""
    models = list(dict.fromkeys(stored_name(store, m) for m in config.models))
    baseline = None if config.baseline is None else stored_name(store, config.baseline)
    if models == config.models and baseline == config.baseline:
        return config
    return config.model_copy(update={"models": models, "baseline": baseline})


class ShareResult(NamedTuple):
    """What one process's share of a run did: its counts and what its calls cost."""

    stats: RunStats
    usage: Usage


def _prepare(store: Store, config: JudgeConfig) -> tuple[Store, Plan, dict[str, Judgment]]:
    plan = plan_jobs(store, config)
    stored = {k: j for k, j in find_judgments(store, [j.key for j in plan.jobs]).items() if j.status == "ok"}
    return store, plan, stored


def _units(plan: Plan) -> list[list[Job]]:
    """The run's units of work: a match's two orders (so its battle is written by the process that asks both),
    or one single-answer grade."""
    return [[m.ab, m.ba] for m in plan.matches] if plan.matches else [[job] for job in plan.jobs]


def _sum_into(total: Any, part: Any) -> None:
    for name in (f.name for f in fields(part)):
        setattr(total, name, getattr(total, name) + getattr(part, name))


@dataclass(frozen=True)
class _Share:
    """Judges share `index` of `shares` of a run's calls in this process; picklable, so a worker gets it."""

    config: JudgeConfig
    store_url: str | None
    policy: RetryPolicy | None
    spent: float

    def __call__(self, index: int, shares: int, advance: Callable[[], None],
                 prepared: tuple[Store, Plan, dict[str, Judgment]] | None = None) -> ShareResult:
        store, plan, stored = prepared or _prepare(open_store(self.store_url, create=False), self.config)
        jobs = [job for u, unit in enumerate(_units(plan)) if u % shares == index
                for job in unit if job.key not in stored]
        if not jobs:
            return ShareResult(RunStats(), Usage())
        config = self.config.model_copy(update={"concurrency": share_of(self.config.concurrency, index, shares)})
        client = None if config.offline else make_client(config, self.policy, self.spent, share=1 / shares)
        ask = _ask_offline if client is None else functools.partial(_ask, client, config.judge_name)
        random.Random(os.getpid()).shuffle(jobs)  # two runs on one store start at different ends
        stats = RunStats()
        book = _BattleBook(config.judge_name, plan, stored)
        with Heartbeat(store):
            dispatch = Dispatch(store, ask, book, stats, advance, window=2 * config.concurrency, order=jobs)
            asyncio.run(_ask_all(dispatch, client))
        return ShareResult(stats, client.usage if client else Usage())


def run_judge(
    config: JudgeConfig, store_url: str | None = None, policy: RetryPolicy | None = None
) -> JudgeOutcome:
    """Judge the stored answers of `config.models` on `config.questions`; see the module docstring.

    Each call is claimed in the store (a lease) before it is made: a second `harness judge` on the same store
    asks only what the first is not asking, then waits for and takes the first one's judgments. With several
    workers (`config.workers`) the calls are split over that many processes, this one included.

    Raises:
        HarnessError: a model has no stored answers, or the options contradict each other.
        EndpointUnavailable: the endpoint refuses the key, cannot serve the judge model, or is unreachable.
    """
    store = open_store(store_url, create=False)  # it holds the answers to judge: a missing store is a typo
    config = _by_stored_names(store, config)
    _, plan, stored = prepared = _prepare(store, config)
    missing = sum(job.key not in stored for job in plan.jobs)
    spent = float(judge_usage(store, config.judge_name)["cost_usd"]) if config.max_cost is not None else 0.0
    stats, usage = RunStats(planned=len(plan.jobs), cached=len(plan.jobs) - missing), Usage()
    log.info("judge %s: %d calls planned, %d stored", config.judge_name, stats.planned, stats.cached)
    by_worker: list[int] = []
    if missing:
        units = sum(any(job.key not in stored for job in unit) for unit in _units(plan))
        shares = 1 if config.offline else worker_count(config.workers, config.concurrency, units)
        share = _Share(config, store_url, policy, spent)
        with start_workers(shares, share) as workers, progress(f"judging with {config.judge_name}", missing) as bar:
            own = [0]

            def show(step: int = 0) -> None:
                own[0] += step
                bar.update(bar.task_ids[0], completed=own[0] + workers.finished)

            parts = [share(0, shares, lambda: show(1), prepared), *workers.wait(show)]
        for part in parts:
            _sum_into(stats, part.stats)
            _sum_into(usage, part.usage)
        by_worker = [part.stats.called for part in parts]
        stored = {k: j for k, j in find_judgments(store, [j.key for j in plan.jobs]).items() if j.status == "ok"}
    book = _BattleBook(config.judge_name, plan, stored)
    stats.battles_written += write_judgments(store, [], book.existing())  # matches finished by any process
    return _outcome(store, config, plan, stats, usage, by_worker)


async def _ask_all(dispatch: Dispatch, client: ModelClient | None) -> None:
    try:
        await dispatch.run()
    finally:
        if client is not None:
            await client.close()


def _outcome(store: Store, config: JudgeConfig, plan: Plan, stats: RunStats, usage: Usage,
             by_worker: list[int]) -> JudgeOutcome:
    from harness.judge.results import results_for_run

    if stats.errors:
        log.warning(
            "%d judge calls failed (stored as errors, left out of the results); re-run to retry them",
            stats.errors,
        )

    results = results_for_run(
        store, config.judge_name, config.mode, plan.question_set.name, config.models, config.baseline
    )
    return JudgeOutcome(
        config.judge_name,
        config.offline,
        config.mode,
        plan.question_set.name,
        list(config.models),
        stats,
        plan.skipped_no_reference,
        usage,
        stats.skipped_budget > 0,
        results,
        by_worker,
    )
