"""Self-instruct (Alpaca's data pipeline): ask an OpenAI-compatible model for new tasks, keep the novel ones.

`harness self-instruct --seed-tasks seed_tasks.jsonl --num N --out data.json` samples seed and already
generated tasks into the project's own prompt, sends `concurrency` requests at a time through the shared
`ModelClient` (retries, usage, prices), parses the numbered tasks, filters them (length, blocklist, duplicates,
ROUGE-L >= 0.7 against every kept instruction) and writes Alpaca JSON after every round. Re-running the
command resumes from the file and its counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.client import Endpoint, ModelClient, RetryPolicy, Sampling, Usage, api_key_from_env
from harness.errors import EndpointUnavailable, HarnessError

log = logging.getLogger(__name__)
# stanford_alpaca's blocklist: tasks a text-only model cannot do.
BLOCKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw",
             "plot", "go to", "video", "audio", "music", "flowchart", "diagram")
IDLE_ROUNDS = 3  # stop when this many rounds in a row add nothing new (the model keeps repeating itself)
NO_INPUT = {"", "<noinput>", "<no input>", "noinput", "none", "n/a"}
PROMPT_HEADER = """You are helping to build a training set of instructions for a helpful text assistant.
Write {n} new tasks. Each must differ from the examples below and from the other new tasks.

Rules:
1. Vary the verbs and the phrasing; mix questions with imperative requests.
2. Vary the kind of task: open-ended writing, classification, editing, extraction, reasoning, math, code, advice.
3. A text-only model must be able to do the task: nothing that needs pictures, sound, files, browsing or
   actions in the world (no reminders, no purchases).
4. Write each instruction in English, in one or two sentences.
5. Give an input only when the task needs one: a concrete, realistic example of at most 100 words.
   Otherwise write <noinput>.
6. Give a correct, complete output of at most 100 words.

Lay out every task exactly like the examples, numbered from 1, with ### between tasks.

Examples:
"""


class SelfInstructConfig(BaseModel):
    """What `harness self-instruct` was asked to do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed_tasks: str
    """Seed tasks: self-instruct's seed_tasks.jsonl (instruction + instances) or Alpaca-format JSON."""
    num: int = Field(gt=0)
    """Stop once the output holds this many instructions."""
    out: str
    """Alpaca-format JSON file to write (and resume from); `OUT.state.json` holds the counters."""
    model: str = "gpt-3.5-turbo"
    """Model name sent to the endpoint."""
    base_url: str | None = None
    """OpenAI-compatible base URL (…/v1); None uses OPENAI_BASE_URL or OpenAI itself."""
    api_key_env: str = "OPENAI_API_KEY"
    """Variable holding the API key (a local server accepts any, or none); never written anywhere."""
    concurrency: int = Field(8, gt=0)
    """Requests in flight at once (one round)."""
    seeds_per_prompt: int = Field(3, ge=1)
    """Seed tasks shown in each prompt (stanford_alpaca shows 3)."""
    generated_per_prompt: int = Field(2, ge=0)
    """Already generated tasks shown as well, once there are some (self-instruct shows 2)."""
    tasks_per_request: int = Field(20, gt=0)
    """New tasks asked for in each request."""
    rouge_threshold: float = Field(0.7, gt=0, le=1)
    """Reject an instruction whose ROUGE-L F1 with any kept instruction reaches this."""
    temperature: float = 1.0
    """Sampling temperature."""
    max_tokens: int = 3072
    """Completion length cap per request."""
    max_rounds: int = Field(100, gt=0)
    """Give up after this many rounds in one invocation."""
    max_retries: int = Field(3, ge=0)
    """Retries after the first attempt (429, 5xx, timeouts), with the client's backoff and Retry-After."""
    seed: int = 0
    """Seed for sampling the prompt's examples."""
    prompt_price: float | None = None
    """USD per 1M prompt tokens, for the cost estimate; None (and no completion price): the client's price table."""
    completion_price: float | None = None
    """USD per 1M completion tokens."""


@dataclass(frozen=True)
class Task:
    """One instruction with its input ("" for none) and output."""

    instruction: str
    input: str
    output: str

    def to_alpaca(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}


@dataclass
class Progress:
    """Counters kept in `OUT.state.json`: prompts sent, failed ones, rejection reasons and the client's usage."""

    requests: int = 0
    failed_requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class SelfInstructResult:
    """What a run produced: rows in the file, rows added now, requests and tokens spent, rejections."""

    out: Path
    total: int
    added: int
    progress: Progress

    @property
    def cost_usd(self) -> float:
        return self.progress.usage.cost_usd

    def to_json(self) -> dict[str, Any]:
        p = self.progress
        return {"out": str(self.out), "total": self.total, "added": self.added, "requests": p.requests,
                "failed_requests": p.failed_requests, "rejected": dict(p.rejected), "usage": asdict(p.usage),
                "cost_usd": round(self.cost_usd, 6)}


def _seed_task(row: Any) -> Task:
    if not isinstance(row, dict) or not isinstance(row.get("instruction"), str) or not row["instruction"].strip():
        raise ValueError("field 'instruction' is missing or empty")
    if "instances" in row:
        instances = row["instances"]
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise ValueError("field 'instances' must be a non-empty list of {input, output}")
        first = instances[0]
        return Task(row["instruction"].strip(), str(first.get("input", "")).strip(), str(first.get("output", "")))
    return Task(row["instruction"].strip(), str(row.get("input", "")).strip(), str(row.get("output", "")))


def load_seed_tasks(path: str | Path) -> list[Task]:
    """Read seed tasks: JSONL (self-instruct's seed_tasks.jsonl) or a JSON list of Alpaca rows.

    Raises:
        HarnessError: a missing file, bad JSON, or a task without an instruction (naming line and field).
    """
    file = Path(path)
    if not file.is_file():
        raise HarnessError(f"no seed tasks at {file}", hint="pass self-instruct's seed_tasks.jsonl or Alpaca JSON")
    text = file.read_text(encoding="utf-8")
    try:
        rows = ([json.loads(line) for line in text.splitlines() if line.strip()] if file.suffix == ".jsonl"
                else json.loads(text))
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{file}: not valid JSON ({exc.msg})", hint="one task object per line") from exc
    tasks = []
    for index, row in enumerate(rows if isinstance(rows, list) else [rows]):
        try:
            tasks.append(_seed_task(row))
        except ValueError as exc:
            raise HarnessError(f"{file}: record {index}: {exc}", hint="fix or remove that task") from None
    if not tasks:
        raise HarnessError(f"{file} holds no seed tasks")
    return tasks


def format_task(number: int, task: Task) -> str:
    """One task in the prompt's numbered layout."""
    extra = task.input if task.input.strip() else "<noinput>"
    return f"###\n{number}. Instruction: {task.instruction}\n{number}. Input:\n{extra}\n{number}. Output:\n{task.output}\n"


def build_prompt(examples: list[Task], n: int) -> str:
    """The project's generation prompt with `examples` shown in the layout the answer must use."""
    shown = "".join(format_task(i, task) for i, task in enumerate(examples, start=1))
    return PROMPT_HEADER.format(n=n) + shown + "###\n\nNow the new tasks, numbered from 1:\n"


_TASK = re.compile(
    r"(?ms)^\s*(\d+)\s*\.\s*Instruction:\s*(?P<instruction>.*?)\s*^\s*\1\s*\.\s*Input:\s*(?P<input>.*?)"
    r"\s*^\s*\1\s*\.\s*Output:\s*(?P<output>.*?)\s*(?=^\s*###|^\s*\d+\s*\.\s*Instruction:|\Z)"
)


def parse_tasks(text: str, truncated: bool = False) -> list[Task]:
    """The numbered tasks of a response; when the response hit its length cap, the last one is dropped."""
    tasks = []
    for match in _TASK.finditer(text):
        extra = match["input"].strip()
        tasks.append(Task(match["instruction"].strip(), "" if extra.lower() in NO_INPUT else extra,
                          match["output"].strip().rstrip("#").strip()))
    return tasks[:-1] if truncated and tasks else tasks


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def rejection_reason(task: Task) -> str | None:
    """Alpaca's cheap filters; None when the task passes them (similarity is checked separately)."""
    words = task.instruction.split()
    if len(words) <= 3 or len(words) > 150:
        return "length"
    if any(re.search(rf"\b{re.escape(word)}\b", task.instruction, re.IGNORECASE) for word in BLOCKLIST):
        return "blocklist"
    if task.instruction.startswith("Write a program"):
        return "program"
    if not task.instruction[0].isascii():
        return "non_ascii"
    if not task.instruction[0].isalnum():
        return "punctuation"
    if not task.output.strip():
        return "empty_output"
    return None


class NoveltyFilter:
    """Keeps instructions whose ROUGE-L F1 against every kept one stays below the threshold."""

    def __init__(self, threshold: float, kept: list[str]) -> None:
        from rouge_score import rouge_scorer

        self.threshold = threshold
        self.scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        self.kept = list(kept)
        self.seen = {_normalise(text) for text in kept}

    def check(self, instruction: str) -> str | None:
        """None and remember the instruction if it is novel, else the reason it is not."""
        if _normalise(instruction) in self.seen:
            return "duplicate"
        if any(self.scorer.score(old, instruction)["rougeL"].fmeasure >= self.threshold for old in self.kept):
            return "similar"
        self.kept.append(instruction)
        self.seen.add(_normalise(instruction))
        return None


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.json")


def load_existing(out: Path) -> tuple[list[Task], Progress]:
    """What earlier runs wrote to `out` (rows) and its state file (counters), for resuming."""
    if not out.exists():
        return [], Progress()
    try:
        rows = json.loads(out.read_text())
        tasks = [Task(r["instruction"], r.get("input", ""), r["output"]) for r in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise HarnessError(f"{out} exists but is not this command's Alpaca JSON ({exc})",
                           hint="choose another --out or delete the file") from exc
    state = json.loads(_state_path(out).read_text()) if _state_path(out).exists() else {}
    return tasks, Progress(state.get("requests", 0), state.get("failed_requests", 0),
                           Counter(state.get("rejected", {})), _stored_usage(state))


def _stored_usage(state: dict[str, Any]) -> Usage:
    if "usage" in state:
        return Usage(**state["usage"])
    # state files written before the shared client kept tokens and cost at the top level
    return Usage(calls=state.get("requests", 0), prompt_tokens=state.get("prompt_tokens", 0),
                 completion_tokens=state.get("completion_tokens", 0), cost_usd=state.get("cost_usd", 0.0))


def save(out: Path, tasks: list[Task], progress: Progress, config: SelfInstructConfig) -> None:
    """Write rows and counters atomically (a killed run leaves the last complete round)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {"requests": progress.requests, "failed_requests": progress.failed_requests,
             "rejected": dict(progress.rejected), "usage": asdict(progress.usage),
             "cost_usd": progress.usage.cost_usd, "config": config.model_dump(mode="json")}
    for path, value in ((out, [t.to_alpaca() for t in tasks]), (_state_path(out), state)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(value, indent=2, ensure_ascii=False))
        tmp.replace(path)


@dataclass(frozen=True)
class Reply:
    """One request's outcome: the parsed tasks, or the error (its usage is counted by the client)."""

    tasks: list[Task]
    error: str | None = None


async def _ask(client: ModelClient, prompt: str) -> Reply:
    done = await client.complete([{"role": "user", "content": prompt}], str)
    if not done.ok:
        return Reply([], error=done.error)
    return Reply(parse_tasks(done.text or "", truncated=done.finish_reason == "length"))


def _prompt_for(request_no: int, seeds: list[Task], generated: list[Task], config: SelfInstructConfig) -> str:
    rng = random.Random(f"{config.seed}-{request_no}")
    examples = rng.sample(seeds, min(config.seeds_per_prompt, len(seeds)))
    examples += rng.sample(generated, min(config.generated_per_prompt, len(generated)))
    return build_prompt(examples, config.tasks_per_request)


def _keep(replies: list[Reply], novelty: NoveltyFilter, tasks: list[Task], progress: Progress, num: int) -> int:
    added = 0
    for reply in replies:
        progress.requests += 1
        progress.failed_requests += reply.error is not None
        for task in reply.tasks:
            reason = rejection_reason(task) or novelty.check(task.instruction)
            if reason is None and len(tasks) < num:
                tasks.append(task)
                added += 1
            elif reason is not None:
                progress.rejected[reason] += 1
    return added


async def _round(client: ModelClient, config: SelfInstructConfig, seeds: list[Task], tasks: list[Task],
                 start: int) -> list[Reply]:
    prompts = [_prompt_for(start + i, seeds, tasks, config) for i in range(config.concurrency)]
    return list(await asyncio.gather(*(_ask(client, p) for p in prompts)))


def make_client(config: SelfInstructConfig, usage: Usage) -> ModelClient:
    """The shared client for `config`, adding to `usage`; the key is read from `config.api_key_env` here only.

    Raises:
        EndpointUnavailable: OpenAI itself (no base URL anywhere) and no key in the variable.
    """
    base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
    key = api_key_from_env(config.api_key_env, base_url, f"self-instruct model {config.model}",
                           hint="export it, or pass --base-url for a local server")
    priced = config.prompt_price is not None or config.completion_price is not None
    endpoint = Endpoint(
        model=config.model, base_url=base_url, label="self-instruct", key_env=config.api_key_env,
        concurrency=config.concurrency, policy=RetryPolicy(attempts=config.max_retries + 1, parse_attempts=1),
        price=(config.prompt_price or 0.0, config.completion_price or 0.0) if priced else None,
        sampling=Sampling(temperature=config.temperature, max_tokens=config.max_tokens))
    return ModelClient(endpoint, key, usage)


async def generate(config: SelfInstructConfig) -> SelfInstructResult:
    """Run rounds of requests until `config.num` instructions are kept (resuming from `config.out`).

    Raises:
        HarnessError: bad seed file or output file.
        EndpointUnavailable: the endpoint refuses the key or the model, or a whole round of requests fails.
    """
    seeds, out = load_seed_tasks(config.seed_tasks), Path(config.out)
    tasks, progress = load_existing(out)
    novelty = NoveltyFilter(config.rouge_threshold, [t.instruction for t in seeds + tasks])
    client = make_client(config, progress.usage)
    added, idle = 0, 0
    try:
        for _ in range(config.max_rounds):
            if len(tasks) >= config.num or idle >= IDLE_ROUNDS:
                break
            replies = await _round(client, config, seeds, tasks, progress.requests)
            kept = _keep(replies, novelty, tasks, progress, config.num)
            added, idle = added + kept, 0 if kept else idle + 1
            save(out, tasks, progress, config)
            log.info("round: %d/%d instructions kept, %d requests, %s rejected", len(tasks), config.num,
                     progress.requests, dict(progress.rejected))
            if all(r.error for r in replies):
                raise EndpointUnavailable(f"every request of a round failed: {replies[0].error}",
                                          hint="check --base-url, --model and the API key; re-run to resume")
    finally:
        await client.close()
    if len(tasks) < config.num:
        log.warning("stopped at %d of %d instructions (%d rounds in a row added nothing, or --max-rounds)",
                    len(tasks), config.num, idle)
    return SelfInstructResult(out, len(tasks), added, progress)


def run_self_instruct(config: SelfInstructConfig) -> SelfInstructResult:
    """Synchronous entry point for the CLI."""
    return asyncio.run(generate(config))
