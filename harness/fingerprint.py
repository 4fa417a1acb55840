"""Content identity: canonical JSON hashes for configs and fingerprints for model checkpoints.

A fingerprint changes exactly when the weights, config, tokenizer or chat template change, so the store
can tell "the same checkpoint" from "the same path" (`harness eval` keys its cache on it).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Files that define what a checkpoint computes. Training state (optimizer.pt, trainer_state.json) and
# model cards do not change the model, so they are left out.
MODEL_FILE_PATTERNS = (
    "*.safetensors",
    "*.safetensors.index.json",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "adapter_config.json",
)
_CHUNK = 1 << 22


def canonical_json(value: Any) -> str:
    """Serialise `value` with sorted keys and no whitespace, so equal content gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any) -> str:
    """A tagged sha256 digest (`sha256:<hex>`) of the canonical JSON of `value` (or of bytes/str as is)."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = canonical_json(value).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short(digest: str, n: int = 12) -> str:
    """The first `n` hex digits of a tagged digest, for display."""
    return digest.split(":", 1)[-1][:n]


def _hash_cache_path() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness")) / "file_hashes.json"


def _load_hash_cache() -> dict[str, str]:
    try:
        return dict(json.loads(_hash_cache_path().read_text()))
    except (OSError, ValueError):
        return {}


def hash_file(path: Path, cache: dict[str, str] | None = None) -> str:
    """sha256 of a file's bytes; `cache` maps (path, size, mtime) to a known digest so big weights hash once."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if cache is not None and key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    if cache is not None:
        cache[key] = value
    return value


def model_files(directory: Path) -> list[Path]:
    """The files of a checkpoint directory that define the model, sorted by name."""
    found = {p for pattern in MODEL_FILE_PATTERNS for p in directory.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.name)


def fingerprint_directory(directory: Path, extra: dict[str, Any] | None = None) -> str:
    """Fingerprint a checkpoint directory: its defining files' digests plus `extra` (e.g. a base model's print).

    Digests of large files are remembered by (path, size, mtime) in ~/.cache/harness, so a 13 GB
    checkpoint is read once, not on every `harness eval`.
    """
    cache = _load_hash_cache()
    before = len(cache)
    files = {p.name: hash_file(p, cache) for p in model_files(directory)}
    if len(cache) != before:
        try:
            path = _hash_cache_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache))
        except OSError:
            pass  # a read-only home only costs re-hashing next time
    return content_hash({"files": files, "extra": extra or {}})
