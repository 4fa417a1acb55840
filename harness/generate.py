"""`harness generate`: answer an open-ended question set with a model and keep the answers in the store.

Answers are keyed by model fingerprint + question + generation config and looked up first, so only missing
ones are generated. Generation is greedy, batched and chat-templated, and multi-turn questions are answered
turn by turn (each turn sees the model's own earlier answers). hf and vllm reuse lm-eval's model classes
(`load_lm` + `generate_until`); local-chat-completions sends the messages to an OpenAI-compatible chat
endpoint through the shared `ModelClient` (the server applies its own template). Each chunk of questions
is committed when its last turn is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.client import Usage
from harness.errors import HarnessError
from harness.eval.templates import ChatTemplate, load_chat_template
from harness.fingerprint import content_hash
from harness.formats.questions import load_questions
from harness.quiet import library_bars_off
from harness.records import Generation, ModelRecord, Question, QuestionSet
from harness.store import Store, open_store
from harness.store.generations import find_by_content, find_generations, write_generations
from harness.store.models import model_name, upsert_model

log = logging.getLogger(__name__)
GEN_KEY_VERSION = 1
CHUNK = 64  # questions per commit
Messages = list[dict[str, str]]


class GenerateConfig(BaseModel):
    """Everything `harness generate` needs; the CLI builds one from its flags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """Checkpoint directory, hub id, PEFT adapter directory, or (local-chat-completions) the served model name."""
    name: str | None = None
    """Name to store the answers under; defaults to `model` as given."""
    questions: str
    """Question set from tasks/questions/ or a question file (MT-bench / Vicuna-80 format)."""
    backend: Literal["hf", "vllm", "local-chat-completions"] = "hf"
    """hf (transformers), vllm (GPU extra) or local-chat-completions (an OpenAI-compatible chat server)."""
    base_url: str | None = None
    """Base URL of the chat server for local-chat-completions, e.g. http://127.0.0.1:8000/v1."""
    api_key_env: str = "OPENAI_API_KEY"
    """Variable holding the chat server's key (local-chat-completions); never stored."""
    max_new_tokens: int = Field(256, ge=1)
    """Generation budget per turn (part of the answers' key)."""
    chat_template: str | None = None
    """alpaca, vicuna, tokenizer (the model's own) or a .jinja path; None: the model's own, else alpaca."""
    batch_size: int = Field(16, ge=1)
    """Prompts per forward batch (hf/vllm); not part of the key."""
    concurrency: int = Field(16, ge=1)
    """Requests in flight (local-chat-completions); not part of the key."""
    device: str = "cpu"
    """cpu, cuda, cuda:0 ... (hf); not part of the key."""
    dtype: str = "auto"
    """Weights dtype for hf/vllm."""
    force: bool = False
    """Generate again even when the store has the answers (new rows are not written over old ones)."""
    temperatures: Literal["greedy", "fastchat"] = "greedy"
    """greedy: every answer decoded greedily; fastchat: FastChat's MT-bench temperature per question category
    (writing/roleplay 0.7, stem/humanities 0.1, math/coding/reasoning/extraction 0, others 0.7), sampling
    above 0 (part of the answers' key)."""

    @property
    def model_name(self) -> str:
        return self.name or self.model


@dataclass(frozen=True)
class GenerateOutcome:
    """What `harness generate` reports."""

    model: str
    fingerprint: str
    question_set: str
    backend: str
    chat_template: str | None
    questions: int
    generated: int
    cached: int
    usage: Usage | None = None
    """Calls, retries, tokens and cost at the chat server (local-chat-completions only)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _eval_config(config: GenerateConfig) -> Any:
    """The `harness eval` config that `backends` resolves and loads an hf or vllm model from."""
    from harness.eval.config import EvalConfig

    backend: Literal["hf", "vllm"] = "vllm" if config.backend == "vllm" else "hf"
    return EvalConfig(
        model=config.model,
        name=config.name,
        backend=backend,
        device=config.device,
        dtype=config.dtype,
        batch_size=str(config.batch_size),
    )


def _resolve(config: GenerateConfig, store_url: str | None) -> tuple[ModelRecord, Any]:
    """The model's store record, and the `ResolvedModel` for hf/vllm (None for an API model)."""
    if config.backend == "local-chat-completions":
        if not config.base_url:
            raise HarnessError(
                "backend local-chat-completions needs --base-url", hint="e.g. http://127.0.0.1:8000/v1"
            )
        fp = content_hash({"api": config.base_url, "model": config.model})
        return ModelRecord(name=config.model_name, source=config.model, fingerprint=fp, kind="api"), None
    from harness.eval.backends import check_backend, resolve_model, with_stored_model

    eval_config = with_stored_model(_eval_config(config), store_url)
    check_backend(eval_config)
    resolved = resolve_model(eval_config)
    return resolved.record, resolved


def _template(config: GenerateConfig, resolved: Any) -> ChatTemplate | None:
    """The template to render prompts with; None means the tokenizer's own (or the server's)."""
    if resolved is None:
        return None
    wanted = config.chat_template or ("tokenizer" if resolved.has_chat_template else "alpaca")
    if wanted == "tokenizer":
        if not resolved.has_chat_template:
            raise HarnessError(
                f"model {config.model} has no chat template of its own",
                hint="pass --chat-template alpaca|vicuna|FILE.jinja",
            )
        return None
    return load_chat_template(wanted)


# FastChat llm_judge/common.py `temperature_config`; gen_model_answer.py uses 0.7 for any other category.
FASTCHAT_TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                         "reasoning": 0.0, "stem": 0.1, "humanities": 0.1, "arena-hard-200": 0.0}
FASTCHAT_OTHER_TEMPERATURE = 0.7


def question_temperature(config: GenerateConfig, question: Question) -> float:
    """The sampling temperature of one question's answers (0: greedy)."""
    if config.temperatures == "greedy":
        return 0.0
    return FASTCHAT_TEMPERATURES.get(question.category, FASTCHAT_OTHER_TEMPERATURE)


def generation_settings(config: GenerateConfig, template: ChatTemplate | None) -> dict[str, Any]:
    """The part of the config that changes answers (and so their key)."""
    settings = {
        "backend": config.backend,
        "max_new_tokens": config.max_new_tokens,
        "greedy": config.temperatures == "greedy",
        "chat_template": template.name if template else "tokenizer",
        "chat_template_hash": template.hash if template else None,
    }
    return settings if config.temperatures == "greedy" else {**settings, "temperatures": config.temperatures}


def gen_key(content_key: str, name: str) -> str:
    """The store key of one named model's answers (the same checkpoint may be stored under several names)."""
    return content_hash({"content": content_key, "name": name})


def content_key(fingerprint: str, question_set: str, question: Question, settings: dict[str, Any]) -> str:
    """What determines one model's answers to one question: fingerprint, question and generation config."""
    return content_hash(
        {
            "v": GEN_KEY_VERSION,
            "model": fingerprint,
            "set": question_set,
            "question": question.question_id,
            "turns": list(question.turns),
            "settings": settings,
        }
    )


def history(question: Question, answers: Sequence[str], turn: int) -> Messages:
    """The conversation up to and including the user's message of `turn` (0-based)."""
    messages: Messages = []
    for i in range(turn + 1):
        messages.append({"role": "user", "content": question.turns[i]})
        if i < turn:
            messages.append({"role": "assistant", "content": answers[i]})
    return messages


Responder = Callable[[list[Messages], list[float]], list[str]]


def answer_turn_by_turn(
    questions: Sequence[Question], respond: Responder, temperature: Callable[[Question], float] = lambda q: 0.0
) -> list[list[str]]:
    """Answer every question turn by turn; `respond` answers one batch of conversations (one turn each) at
    each conversation's temperature."""
    answers: list[list[str]] = [[] for _ in questions]
    for turn in range(max(len(q.turns) for q in questions)):
        active = [i for i, q in enumerate(questions) if len(q.turns) > turn]
        replies = respond([history(questions[i], answers[i], turn) for i in active],
                          [temperature(questions[i]) for i in active])
        for i, reply in zip(active, replies):
            answers[i].append(reply.strip())
    return answers


# Extra stop strings per built-in template: a small model that runs on writes the next user turn itself.
STOP_SEQUENCES: dict[str, list[str]] = {"alpaca": ["### Instruction:"], "vicuna": ["USER:"]}


def _lm_responder(lm: Any, template: ChatTemplate | None, max_new_tokens: int) -> Responder:
    from lm_eval.api.instance import Instance

    until = STOP_SEQUENCES.get(template.name, []) if template else []

    def kwargs(temperature: float) -> dict[str, Any]:
        sampled = {"do_sample": True, "temperature": temperature} if temperature >= 1e-4 else {"do_sample": False}
        return {"until": until, "max_gen_toks": max_new_tokens, **sampled}

    def respond(conversations: list[Messages], temperatures: list[float]) -> list[str]:
        prompts = [
            lm.tokenizer.apply_chat_template(
                c,
                chat_template=template.jinja if template else None,
                tokenize=False,
                add_generation_prompt=True,
            )
            for c in conversations
        ]
        requests = [Instance("generate_until", {}, (p, kwargs(t)), i)
                    for i, (p, t) in enumerate(zip(prompts, temperatures))]
        return list(lm.generate_until(requests, disable_tqdm=True))

    return respond


def _chat_responder(config: GenerateConfig, usage: Usage) -> Responder:
    """Answers from the chat server through the shared client; every batch's calls add up in `usage`."""
    from harness.client import Endpoint, ModelClient, Sampling, api_key_from_env, price_for
    from harness.errors import RunFailed

    hint = f"export ${config.api_key_env}"
    key = api_key_from_env(config.api_key_env, config.base_url, "chat server", hint=hint)
    endpoint = Endpoint(
        model=config.model,
        base_url=config.base_url,
        label="chat server",
        key_env=config.api_key_env,
        concurrency=config.concurrency,
        price=price_for(config.model),  # looked up once, not once per batch
        sampling=Sampling(temperature=0.0, max_tokens=config.max_new_tokens),
    )

    async def ask_all(conversations: list[Messages], temperatures: list[float]) -> list[str]:
        client = ModelClient(endpoint, key, usage)  # one per batch: the SDK's connections belong to one loop
        samplings = [Sampling(temperature=t, max_tokens=config.max_new_tokens) for t in temperatures]
        try:
            done = await asyncio.gather(*(client.complete(c, str, s) for c, s in zip(conversations, samplings)))
        finally:
            await client.close()
        failed = [d.error for d in done if not d.ok]
        if failed:
            raise RunFailed(
                f"{len(failed)} of {len(done)} requests to {config.base_url} failed: {failed[0]}",
                hint="check the server; finished questions are kept, re-run to resume",
            )
        return [str(d.value) for d in done]

    return lambda conversations, temperatures: asyncio.run(ask_all(conversations, temperatures))


def _responder(
    config: GenerateConfig, resolved: Any, template: ChatTemplate | None, usage: Usage
) -> Responder:
    if resolved is None:
        return _chat_responder(config, usage)
    from harness.eval.backends import load_lm
    with library_bars_off():  # "Loading weights"; generate's own progress is on stderr
        lm = load_lm(resolved, _eval_config(config))
    return _lm_responder(lm, template, config.max_new_tokens)


@dataclass(frozen=True)
class _Target:
    """Where one run's answers go: the store, the model's record, the question set and the content keys."""

    store: Store
    record: ModelRecord
    qset: QuestionSet
    settings: dict[str, Any]
    contents: dict[str, str]  # question_id -> content key

    def rows(self, questions: Sequence[Question], answers: Sequence[list[str]]) -> list[Generation]:
        return [
            Generation(
                gen_key=gen_key(self.contents[q.question_id], self.record.name),
                content_key=self.contents[q.question_id],
                model=self.record.name,
                model_fingerprint=self.record.fingerprint,
                question_set=self.qset.name,
                question_id=q.question_id,
                turns=list(a),
                config={**self.settings, "source": self.qset.source},
            )
            for q, a in zip(questions, answers)
        ]


def _reuse(target: _Target, force: bool) -> tuple[list[Question], int]:
    """Questions still to answer; answers stored under another name for the same checkpoint are copied."""
    if force:
        return list(target.qset.questions), 0
    names = {
        q.question_id: gen_key(target.contents[q.question_id], target.record.name)
        for q in target.qset.questions
    }
    mine = find_generations(target.store, list(names.values()))
    pending = [q for q in target.qset.questions if names[q.question_id] not in mine]
    known = find_by_content(target.store, [target.contents[q.question_id] for q in pending])
    copies = [q for q in pending if target.contents[q.question_id] in known]
    write_generations(
        target.store, target.rows(copies, [known[target.contents[q.question_id]] for q in copies])
    )
    return [q for q in pending if target.contents[q.question_id] not in known], len(copies)


def run_generate(config: GenerateConfig, store_url: str | None = None) -> GenerateOutcome:
    """Generate the missing answers of one model on one question set and store them; see the module docstring.

    Raises:
        HarnessError: unknown question set, bad model, missing --base-url.
        RunFailed: the chat server failed requests after retries.
        EndpointUnavailable: the chat server refuses the key or does not serve the model.
    """
    from harness.console import progress

    store = open_store(store_url)
    record, resolved = _resolve(config, store_url)
    qset = load_questions(config.questions)
    template = _template(config, resolved)
    settings = generation_settings(config, template)
    contents = {
        q.question_id: content_key(record.fingerprint, qset.name, q, settings) for q in qset.questions
    }
    record = replace(record, name=model_name(store, upsert_model(store, record)))  # the name it is shown by
    target = _Target(store, record, qset, settings, contents)
    todo, copied = _reuse(target, config.force)
    log.info(
        "generate %s on %s: %d questions, %d to answer, %d copied from the same checkpoint",
        record.name,
        qset.name,
        len(qset.questions),
        len(todo),
        copied,
    )
    usage = Usage()
    if todo:
        respond = _responder(config, resolved, template, usage)
        with progress(f"answering {qset.name}", len(todo)) as bar:
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start : start + CHUNK]
                rows = target.rows(chunk, answer_turn_by_turn(chunk, respond,
                                                              lambda q: question_temperature(config, q)))
                write_generations(store, rows, replace=config.force)
                bar.advance(bar.task_ids[0], len(chunk))
    return GenerateOutcome(
        record.name,
        record.fingerprint,
        qset.name,
        config.backend,
        settings["chat_template"],
        len(qset.questions),
        len(todo),
        len(qset.questions) - len(todo),
        usage if resolved is None else None,
    )
