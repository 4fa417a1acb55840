"""Fine-tuning recipes as typed config: `recipes/NAME.yaml` → `Recipe`, plus `--set key=value` overrides.

A recipe carries the published hyperparameters of its anchor (stanford_alpaca, alpaca-lora, FastChat); the
command line overrides single keys, and the resolved recipe is printed, stored in the model card and hashed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from harness.config import Frozen
from harness.errors import HarnessError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


class LoraSettings(Frozen):
    """The adapter of a LoRA recipe (peft `LoraConfig`)."""

    r: int = Field(8, gt=0)
    """Rank of the update matrices."""
    alpha: int = Field(16, gt=0)
    """Scaling numerator: the update is multiplied by alpha / r."""
    dropout: float = Field(0.05, ge=0, lt=1)
    """Dropout on the adapter input."""
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"])
    """Linear layers (by name suffix) that get an adapter."""


class Recipe(Frozen):
    """One fine-tuning recipe: data format, chat template, method and optimisation hyperparameters."""

    name: str
    """The recipe name given to `--recipe`."""
    description: str = ""
    """One line on where the values come from."""
    data_format: Literal["alpaca", "sharegpt"]
    """alpaca: JSON rows {instruction, input, output}; sharegpt: {conversations: [{from, value}]}."""
    chat_template: Literal["alpaca", "vicuna"]
    """The prompt format used to render training data and saved as the model's chat template."""
    method: Literal["full", "lora"] = "full"
    """full: every weight trains; lora: adapters train, then merge into the saved model."""
    learning_rate: float = Field(gt=0)
    """Peak learning rate (AdamW)."""
    num_epochs: float = Field(3.0, gt=0)
    """Passes over the data (ignored when max_steps > 0)."""
    max_steps: int = -1
    """Optimizer steps to run; -1 means num_epochs decides."""
    global_batch_size: int = Field(128, gt=0)
    """Sequences per optimizer step over all devices; gradient accumulation makes up the difference."""
    per_device_batch_size: int = Field(4, gt=0)
    """Sequences per forward pass on one device."""
    max_length: int = Field(512, gt=8)
    """Longest tokenized sequence; longer examples are truncated from the right."""
    warmup: float = Field(0.03, ge=0)
    """Warmup: a ratio of the total steps when < 1, else a number of steps."""
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    """Learning-rate schedule after warmup."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    max_grad_norm: float = Field(1.0, gt=0)
    """Gradient clipping norm."""
    bf16: bool = True
    """Train in bf16 where the device supports it; fp32 otherwise (always on CPU)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, ~30% slower)."""
    packing: bool = False
    """Pack several examples into one max_length row (TRL best-fit packing, attention kept per example)."""
    group_by_length: bool = False
    """Batch examples of similar length together (less padding) when not packing."""
    shared_prefix: bool = False
    """Run the prompt text every row of a batch starts with once per batch, not once per row (exact; one process,
    no dropout, no packing or gradient checkpointing: fine_tune/shared_prefix.py)."""
    train_on_inputs: bool = False
    """Train on the prompt too (alpaca-lora's `train_on_inputs`); off: loss on the replies only (stanford_alpaca)."""
    logging_steps: int = Field(1, gt=0)
    """Log the train loss every N steps (the card's loss_curve)."""
    save_steps: int = Field(500, gt=0)
    """Write a resumable checkpoint every N steps."""
    save_total_limit: int | None = 2
    """Keep at most this many checkpoints."""
    seed: int = 42
    """Seed for initialisation of adapters, data order and dropout."""
    fsdp: str = ""
    """TrainingArguments fsdp, e.g. "full_shard auto_wrap"; used only on more than one GPU."""
    fsdp_layer_cls: str | None = None
    """Decoder layer class FSDP wraps (LlamaDecoderLayer for LLaMA)."""
    lora: LoraSettings | None = None
    """Adapter settings; required when method is lora."""

    @model_validator(mode="after")
    def _lora_needs_settings(self) -> Recipe:
        if self.method == "lora" and self.lora is None:
            raise ValueError("method 'lora' needs a lora: section (r, alpha, dropout, target_modules)")
        return self


def recipe_names() -> list[str]:
    """The recipes shipped in fine_tune/recipes/."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def _recipe_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    candidate = RECIPES_DIR / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    raise HarnessError(f"unknown recipe {name!r}", hint=f"use one of {', '.join(recipe_names())} or a .yaml path")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`["lr_scheduler=linear", "lora.r=16"]` → nested dict; values are parsed as YAML scalars/lists."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"bad --set {pair!r}: expected key=value", hint="e.g. --set warmup=0.1 --set lora.r=16")
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    return result


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_recipe(name: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a recipe by name (or path) and apply overrides.

    Raises:
        HarnessError: unknown recipe, unreadable YAML, or a field that fails validation (names the key).
    """
    path = _recipe_path(name)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise HarnessError(f"recipe {path} is not valid YAML: {exc}") from exc
    try:
        return Recipe(**_merge(raw, overrides or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(map(str, err["loc"])) or "recipe"
        raise HarnessError(
            f"recipe {path.stem}: bad value for {key}: {err['msg']}",
            hint="fix the recipe or the --set override; see fine_tune/config.py for the fields",
        ) from None


class FinetuneRequest(Frozen):
    """What `harness finetune` was asked to do (the recipe's own values live in `Recipe`)."""

    recipe: str
    """Recipe name (alpaca, alpaca-lora, vicuna, vicuna-lora) or a recipe .yaml path."""
    base: str
    """Base model directory (safetensors + tokenizer)."""
    data: str
    """Training data: a JSON/JSONL file or a folder of them, in the recipe's data format."""
    out: str
    """Output directory: the fine-tuned model, its card and `checkpoints/`."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Recipe keys to override (`--set`, `--lr`, ...), nested for `lora.*`."""
    resume: bool = False
    """Continue from the last checkpoint in `out/checkpoints`."""
    skip_bad: bool = False
    """Skip (and count) malformed records instead of stopping at the first."""
    name: str | None = None
    """Name to register the model under; defaults to `out` as given."""
