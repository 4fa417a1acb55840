"""What `harness eval` will run: each suite entry loaded from lm-eval and keyed for the store.

A task's key covers the model's fingerprint, the task's config and documents, and every setting that can change a
number (few-shot, limit, backend, dtype, device class, chat template); a stored result under the same key is
reused instead of recomputed. Project tasks also get a key from their files alone, so a store hit needs no lm-eval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError, missing_extra
from harness.eval.backends import ResolvedModel
from harness.eval.config import EvalConfig, SuiteTask
from harness.eval.suites import local_task_spec, task_manager
from harness.eval.templates import ChatTemplate, load_chat_template, tokenizer_template
from harness.fingerprint import content_hash

EVAL_KEY_VERSION = 3  # bump when the meaning of a stored result changes (2: dtype and device class keyed;
# 3: lm-eval passthrough options keyed, choices under a chat template scored with the template's reply delimiter)


@dataclass(frozen=True)
class PlannedTask:
    """A task ready to run or to be served from the store."""

    entry: SuiteTask
    loaded: Any  # lm-eval's TaskManager.load() result for this entry
    task_hash: str
    eval_key: str
    manager: Any  # the one TaskManager, reused so lm-eval never re-indexes its bundled tasks
    spec_key: str | None = None


def _task_identity(task: Any) -> dict[str, Any]:
    """A task's config without where it was read from, plus a hash of its evaluation documents.

    The documents are hashed because a config names its data but does not pin it (a hub dataset revision,
    the code behind `custom_dataset`).
    """
    config = task.dump_config()
    config["metadata"] = {k: v for k, v in (config.get("metadata") or {}).items() if k != "config_source"}
    return {"config": config, "docs": content_hash([dict(doc) for doc in task.eval_docs])}


def _task_hash(loaded: dict[str, Any]) -> str:
    tasks = {name: _task_identity(task) for name, task in sorted(loaded["tasks"].items())}
    return content_hash({"tasks": tasks, "groups": loaded.get("group_map", {})})


def chat_template_for(config: EvalConfig, model: ResolvedModel) -> ChatTemplate | None:
    if config.chat_template is None:
        return None
    if config.chat_template == "tokenizer":
        if model.chat_template is None:
            raise HarnessError(
                f"model {config.model} has no chat template of its own",
                hint="pass --chat-template alpaca|vicuna|FILE.jinja",
            )
        return tokenizer_template(model.chat_template)
    return load_chat_template(config.chat_template)


def evaluate_options(config: EvalConfig, template: ChatTemplate | None) -> dict[str, Any]:
    """The `lm_eval.simple_evaluate` arguments that follow from the config (besides tasks, limit and few-shot)."""
    chat = template is not None or config.backend == "local-chat-completions"
    multiturn = config.fewshot_as_multiturn if config.fewshot_as_multiturn is not None else chat
    if multiturn and not chat:
        raise HarnessError("--fewshot-as-multiturn needs a chat template",
                           hint="add --chat-template alpaca|vicuna|tokenizer|FILE.jinja, or drop the flag")
    seeds = {} if config.seed is None else {
        f"{name}_seed": config.seed for name in ("random", "numpy_random", "torch_random", "fewshot_random")}
    return {"system_instruction": config.system_instruction, "gen_kwargs": config.gen_kwargs,
            "apply_chat_template": chat, "fewshot_as_multiturn": multiturn, **seeds}


def key_settings(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
                  entry: SuiteTask) -> dict[str, Any]:
    """Everything besides the task's own content that decides a stored result."""
    return {
        "v": EVAL_KEY_VERSION,
        "model": model.record.fingerprint,
        "task": entry.task,
        "num_fewshot": entry.num_fewshot,
        "limit": config.limit,
        "backend": config.backend,
        "dtype": config.dtype,
        "device": config.device.split(":")[0],  # cuda:0 and cuda:1 compute alike; cpu and cuda need not
        "chat_template": template.hash if template else None,
        "reply_delimiter": template.reply_delimiter if template else None,
        "revision": config.revision,
        "max_length": config.max_length,
        "options": evaluate_options(config, template),
    }


def spec_keys(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
              entries: list[SuiteTask]) -> list[str] | None:
    """Cache keys from the task files, when every entry is one of the project's own tasks (else None)."""
    spec = local_task_spec([e.task for e in entries])
    if spec is None:
        return None
    return [content_hash({**key_settings(config, model, template, e), "spec": spec}) for e in entries]


def plan_tasks(config: EvalConfig, model: ResolvedModel, template: ChatTemplate | None,
               entries: list[SuiteTask], keys: list[str] | None) -> list[PlannedTask]:
    """Load each task from lm-eval and compute its cache key (`keys`: the entries' spec keys, if local)."""
    manager = task_manager([e.task for e in entries])
    specs: list[str | None] = list(keys) if keys is not None else [None for _ in entries]
    planned = []
    for entry, spec_key in zip(entries, specs):
        try:
            loaded = manager.load([entry.task])
        except ModuleNotFoundError as exc:  # lm-eval's task extras (IFEval: langdetect; MATH: sympy, math_verify)
            raise missing_extra(f"task {entry.task}", "tasks", str(exc.name)) from exc
        except Exception as exc:  # a hub dataset that cannot be fetched, a broken YAML
            raise HarnessError(f"cannot load task {entry.task}: {exc}", hint="check the task and network") from exc
        task_hash = _task_hash(loaded)
        key = content_hash({**key_settings(config, model, template, entry), "task_hash": task_hash})
        planned.append(PlannedTask(entry, loaded, task_hash, key, manager, spec_key))
    return planned
