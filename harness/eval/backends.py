"""Model resolution and backends: a `--model` string becomes a fingerprinted model and an lm-eval LM.

Four backends, chosen by a dict literal: hf (transformers, CPU or GPU), vllm (GPU, optional extra),
local-completions and local-chat-completions (any OpenAI-compatible completions or chat completions server). Validation never loads weights, so bad input
fails in milliseconds and before the store is touched.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, ModelNotFound, missing_extra
from harness.eval.config import API_BACKENDS, EvalConfig
from harness.fingerprint import content_hash, fingerprint_directory
from harness.records import ModelRecord

log = logging.getLogger(__name__)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


@dataclass(frozen=True)
class ResolvedModel:
    """A validated model: where its weights (and adapter) are, and its store record."""

    record: ModelRecord
    path: str  # directory or hub snapshot of the full model (the base, for adapters)
    adapter: str | None = None
    chat_template: str | None = None  # the tokenizer's own template text, if it has one
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def has_chat_template(self) -> bool:
        return self.chat_template is not None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"corrupt checkpoint: {path} is not valid JSON", hint="re-save the model") from exc


def _check_weights(directory: Path) -> None:
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        if any(directory.glob("*.bin")) or any(directory.glob("*.pt")):
            raise ModelNotFound(
                f"{directory} has only pickle weights (.bin/.pt); harness loads safetensors only",
                hint="convert with model.save_pretrained(dir, safe_serialization=True)",
            )
        raise ModelNotFound(f"no weights in {directory}: no *.safetensors file", hint="pass a checkpoint directory")
    for path in weights:
        try:
            _check_safetensors(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"corrupt checkpoint: {path.name} does not open ({exc})", hint="re-save it") from exc


def _check_safetensors(path: Path) -> None:
    """The checks safetensors makes on open, read from the header alone (no framework import, so a store hit
    loads neither numpy nor torch): a JSON header whose tensors tile the data exactly and fill the file.

    Raises:
        ValueError, KeyError, TypeError: a header that does not parse or offsets that do not fit the file.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        length = int.from_bytes(fh.read(8), "little")
        if size < 8 or length > size - 8:
            raise ValueError("header too large for the file")
        header = json.loads(fh.read(length))
    if not isinstance(header, dict):
        raise TypeError("header is not a JSON object")
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    end = 0
    for start, stop in spans:
        if start != end or stop < start:
            raise ValueError("tensor data offsets are not contiguous")
        end = stop
    if 8 + length + end != size:
        raise ValueError(f"file is {size} bytes, its header describes {8 + length + end}")


def _check_tokenizer(directory: Path) -> None:
    """The tokenizer files parse (a truncated tokenizer.json fails here, not after a run has started)."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (directory / name).exists():
            _read_json(directory / name)
    if (directory / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        try:
            Tokenizer.from_file(str(directory / "tokenizer.json"))
        except Exception as exc:  # noqa: BLE001 -- tokenizers raises a bare Exception for a corrupt file
            raise ModelNotFound(f"corrupt checkpoint: {directory / 'tokenizer.json'} does not load ({exc})",
                                hint="re-save the tokenizer: tokenizer.save_pretrained(dir)") from None


def _weight_shapes(directory: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for path in sorted(directory.glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as fh:
            shapes.update({key: tuple(fh.get_slice(key).get_shape()) for key in fh.keys()})  # noqa: SIM118
    return shapes


def check_checkpoint(model: ResolvedModel, config: EvalConfig) -> None:
    """The weights have the shapes config.json implies (a model built on the meta device, no memory used).

    Run before a run's rows are written, so a config that does not match its weights fails with exit 2 and
    leaves the store as it was. API models and models with remote code are not checked.
    """
    if config.backend in API_BACKENDS or config.trust_remote_code or not Path(model.path).is_dir():
        return
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    directory = Path(model.path)
    try:
        with torch.device("meta"):
            built = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(directory))
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelNotFound(f"{directory}/config.json does not describe a causal LM ({exc})",
                            hint="fix config.json or pass --trust-remote-code for a custom architecture") from exc
    stored = _weight_shapes(directory)
    for key, tensor in built.state_dict().items():
        if key in stored and stored[key] != tuple(tensor.shape):
            raise ModelNotFound(
                f"corrupt checkpoint: {key} has shape {list(stored[key])} in the weights but "
                f"{directory.name}/config.json implies {list(tensor.shape)}",
                hint="the config does not belong to these weights: re-save the model")
    missing = [k for k in built.state_dict() if k not in stored and not k.endswith("lm_head.weight")]
    if missing:
        raise ModelNotFound(f"corrupt checkpoint: the weights lack {len(missing)} tensors config.json needs "
                            f"(first: {missing[0]})", hint="re-save the model with save_pretrained")


def _hub_snapshot(repo_id: str, revision: str | None = None) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "tokenizer.model", "*.jinja"]
    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True, allow_patterns=patterns))
    except Exception:  # noqa: BLE001 -- huggingface_hub raises several types for "not cached"; download then
        log.info("downloading %s%s from the hub", repo_id, f"@{revision}" if revision else "")
    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except Exception as exc:
        raise ModelNotFound(
            f"model {repo_id!r} is neither a local directory nor reachable on the hub ({type(exc).__name__})",
            hint="check the path, or the hub id and network/HF_TOKEN",
        ) from exc


def _locate(model: str, revision: str | None = None) -> Path:
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFound(f"{model} is a file, not a checkpoint directory", hint="pass its directory")
        if revision is not None:
            raise HarnessError(f"--revision {revision} names a hub revision, but {model} is a local directory",
                               hint="drop --revision, or pass a hub id like org/name")
        return path.resolve()
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ModelNotFound(f"no checkpoint at {model} and no stored model of that name",
                            hint="pass a model directory, a hub id like org/name or a name from `harness runs list`")
    return _hub_snapshot(model, revision)


def _own_chat_template(directory: Path) -> str | None:
    """The chat template saved with a tokenizer (chat_template.jinja/.json or tokenizer_config.json)."""
    if (directory / "chat_template.jinja").exists():
        return (directory / "chat_template.jinja").read_text()
    for name in ("chat_template.json", "tokenizer_config.json"):
        if (directory / name).exists() and (template := _read_json(directory / name).get("chat_template")):
            return template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    return None


def check_files(model: ResolvedModel) -> None:
    """The weights open and the tokenizer loads (a local checkpoint; an adapter's base): `harness eval` calls
    it once the store lacks a task (a hit's fingerprint is that of files a finished run loaded)."""
    if model.record.kind != "api" and Path(model.path).is_dir():
        _check_weights(Path(model.path))
        _check_tokenizer(Path(model.path))


def _resolve_full(directory: Path, name: str, source: str, check: bool = True) -> ResolvedModel:
    if not (directory / "config.json").exists():
        raise ModelNotFound(f"{directory} is not a checkpoint: no config.json", hint="pass a model directory")
    config = _read_json(directory / "config.json")
    if not any((directory / f).exists() for f in TOKENIZER_FILES):
        raise ModelNotFound(
            f"model {source} has no tokenizer (none of {', '.join(TOKENIZER_FILES)})",
            hint="save the tokenizer beside the weights: tokenizer.save_pretrained(dir)",
        )
    if check:
        _check_weights(directory)
        _check_tokenizer(directory)
    card = _read_json(directory / "harness.json") if (directory / "harness.json").exists() else {}
    record = ModelRecord(
        name=name,
        source=source,
        fingerprint=fingerprint_directory(directory),
        kind=str(card.get("kind", "base")),
        base_model=card.get("base_model"),
        recipe=card.get("recipe"),
        n_params=card.get("n_params") or _estimate_params(config),
        card=card,
    )
    return ResolvedModel(record, str(directory), None, _own_chat_template(directory), card)


def _estimate_params(config: dict[str, Any]) -> int | None:
    """LLaMA-shaped parameter count from config.json (no weights loaded)."""
    try:
        h, i, n, v = (int(config[k]) for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size"))
    except (KeyError, TypeError, ValueError):
        return None
    heads = int(config.get("num_attention_heads", 1))
    kv = int(config.get("num_key_value_heads", heads))
    attention = h * h * 2 + 2 * h * (h // heads) * kv
    embeddings = v * h * (1 if config.get("tie_word_embeddings") else 2)
    return n * (attention + 3 * h * i + 2 * h) + embeddings + h


def with_stored_model(config: EvalConfig, store_url: str | None) -> EvalConfig:
    """`--model NAME` where NAME is a stored model's name or alias: evaluate its checkpoint, under its name.

    A path that exists always wins; API backends take the served model's name as given. Reads the store only.
    """
    from harness.store import open_store, store_exists
    from harness.store.models import find_model

    if config.backend == "local-completions" or Path(config.model).expanduser().exists():
        return config
    if not store_exists(store_url):
        return config
    found = find_model(open_store(store_url, readonly=True), config.model)
    if found is None or found["kind"] == "api" or found["source"] == config.model:
        return config
    return config.model_copy(update={"model": found["source"], "name": config.name or found["name"]})


def resolve_model(config: EvalConfig, check: bool = True) -> ResolvedModel:
    """Validate `--model` and fingerprint it, without loading weights (`check=False`: without opening the
    weights' headers or loading the tokenizer either; `check_files` does that later).

    A PEFT adapter directory resolves to its base model plus the adapter; its fingerprint covers both.

    Raises:
        ModelNotFound: missing, corrupt or incomplete checkpoints.
    """
    name = config.name or config.model
    if config.backend in API_BACKENDS:
        if not config.base_url:
            raise HarnessError(f"backend {config.backend} needs --base-url",
                               hint="e.g. http://127.0.0.1:8000/v1/completions (or .../v1/chat/completions)")
        if config.revision is not None:
            raise HarnessError(f"--revision does not apply to backend {config.backend}", hint="drop --revision")
        fp = content_hash({"api": config.base_url, "model": config.model})
        return ResolvedModel(ModelRecord(name=name, source=config.model, fingerprint=fp, kind="api"), config.model)
    directory = _locate(config.model, config.revision)
    if (directory / "adapter_config.json").exists():
        adapter_config = _read_json(directory / "adapter_config.json")
        base_id = adapter_config.get("base_model_name_or_path")
        if not base_id:
            raise ModelNotFound(f"adapter {directory} names no base_model_name_or_path", hint="fix adapter_config.json")
        base = _resolve_full(_locate(str(base_id)), str(base_id), str(base_id), check)
        card = _read_json(directory / "harness.json") if (directory / "harness.json").exists() else {}
        tokenizer_dir = directory if any((directory / f).exists() for f in TOKENIZER_FILES) else Path(base.path)
        record = ModelRecord(
            name=name,
            source=config.model,
            fingerprint=fingerprint_directory(directory, extra={"base": base.record.fingerprint}),
            kind="lora",
            base_model=str(base_id),
            recipe=card.get("recipe"),
            n_params=base.record.n_params,
            card=card,
        )
        return ResolvedModel(record, base.path, str(directory), _own_chat_template(tokenizer_dir), card)
    return _resolve_full(directory, name, config.model, check)


def hf_args(model: ResolvedModel, config: EvalConfig) -> dict[str, Any]:
    """The keyword arguments `lm_eval`'s HFLM gets (`parallelize` shards over every visible GPU)."""
    return {
        "pretrained": model.path,
        "peft": model.adapter,
        "tokenizer": model.adapter if model.adapter and model.has_chat_template else None,
        "device": config.device,
        "dtype": config.dtype,
        "batch_size": config.batch_size or ("16" if config.device == "cpu" else "auto"),
        "max_length": config.max_length,
        "trust_remote_code": config.trust_remote_code,
        "parallelize": config.parallelize,
    }


def vllm_args(model: ResolvedModel, config: EvalConfig) -> dict[str, Any]:
    """The keyword arguments `lm_eval`'s VLLM gets; unset memory/length options keep vLLM's defaults."""
    args: dict[str, Any] = {
        "pretrained": model.path,
        "lora_local_path": model.adapter,
        "dtype": config.dtype,
        "batch_size": config.batch_size or "auto",
        "max_length": config.max_length,
        "trust_remote_code": config.trust_remote_code,
        "tensor_parallel_size": config.tensor_parallel_size,
        "data_parallel_size": config.data_parallel_size,
    }
    if config.gpu_memory_utilization is not None:
        args["gpu_memory_utilization"] = config.gpu_memory_utilization
    if config.max_model_len is not None:
        args["max_model_len"] = config.max_model_len
    return args


def _hf(model: ResolvedModel, config: EvalConfig) -> Any:
    from lm_eval.models.huggingface import HFLM

    return HFLM(**hf_args(model, config))


def _vllm(model: ResolvedModel, config: EvalConfig) -> Any:
    if importlib.util.find_spec("vllm") is None:
        raise missing_extra("backend 'vllm'", "vllm", "vllm")
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(**vllm_args(model, config))


def _local_completions(model: ResolvedModel, config: EvalConfig) -> Any:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    # tokenizer_backend=None: loglikelihood tasks need the server's tokens, so this backend runs
    # generate_until tasks only (lm-eval's own limitation); tiktoken would download its files.
    length = {} if config.max_length is None else {"max_length": config.max_length}
    return LocalCompletionsAPI(
        model=config.model, base_url=config.base_url, tokenizer_backend=None, num_concurrent=8, max_retries=3, **length
    )


def _local_chat_completions(model: ResolvedModel, config: EvalConfig) -> Any:
    from lm_eval.models.openai_completions import LocalChatCompletion

    # Messages go to the server as they are (lm-eval applies no template of its own): generate_until tasks only.
    length = {} if config.max_length is None else {"max_length": config.max_length}
    return LocalChatCompletion(
        model=config.model, base_url=config.base_url, tokenizer_backend=None, num_concurrent=8, max_retries=3, **length
    )


BACKENDS: dict[str, Callable[[ResolvedModel, EvalConfig], Any]] = {
    "hf": _hf,
    "vllm": _vllm,
    "local-completions": _local_completions,
    "local-chat-completions": _local_chat_completions,
}


def score_after_delimiter(lm: Any, delimiter: str) -> None:
    """Score log-likelihood continuations after `delimiter` when the context ends without one.

    Under a chat template lm-eval appends each choice right after the generation prompt (`ASSISTANT:`) with no
    delimiter, but a model trained on the template saw its replies after the template's reply delimiter (Vicuna:
    a space). The changed arguments are what lm-eval logs with each sample, so the record shows what was scored.
    """
    if not delimiter:
        return
    loglikelihood = lm.loglikelihood

    def delimited(requests: list[Any], disable_tqdm: bool = False) -> Any:
        for request in requests:
            context, continuation = request.arguments
            if continuation[:1].strip() and context[-1:].strip():
                request.arguments = (context, delimiter + continuation)
        return loglikelihood(requests, disable_tqdm=disable_tqdm)

    lm.loglikelihood = delimited


def check_backend(config: EvalConfig) -> None:
    """Fail early (before the store is touched) when a backend's extra is missing."""
    if config.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise missing_extra("backend 'vllm'", "vllm", "vllm")


def load_lm(model: ResolvedModel, config: EvalConfig) -> Any:
    """Instantiate the lm-eval LM for `config.backend` (this is where weights load)."""
    return BACKENDS[config.backend](model, config)
