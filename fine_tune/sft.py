"""One supervised fine-tuning runner for every recipe: full vs LoRA is a config switch, not a subclass.

`run_finetune(FinetuneRequest)` loads the base, renders and masks the data (`fine_tune.data`), trains with
TRL's `SFTTrainer` (packing or length-grouped batches, gradient accumulation to the recipe's global batch,
checkpoints, `--resume`), merges LoRA adapters, and writes a Hugging Face directory with the recipe's chat
template and a `harness.json` card, then registers it in the store. Run by `harness finetune` or
`accelerate launch -m fine_tune` (one process per GPU).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fine_tune.card import build_card, read_card, register_model, write_card
from fine_tune.config import FinetuneRequest, Recipe, load_recipe
from fine_tune.data import (
    PROMPT_FORMATS,
    PreparedData,
    TrainingData,
    load_data,
    render_segments,
    tokenize_segments,
)
from harness.errors import HarnessError, ModelNotFound
from harness.eval.templates import BUILTIN_TEMPLATES
from harness.fingerprint import content_hash, fingerprint_directory

log = logging.getLogger(__name__)
PAD_TOKEN = "[PAD]"  # what stanford_alpaca adds to LLaMA's tokenizer
CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class FinetuneResult:
    """A finished (or found) fine-tune: where it is, its resolved recipe and its card."""

    out_dir: Path
    name: str
    recipe: Recipe
    card: dict[str, Any]
    cached: bool
    model_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `harness finetune --json` document."""
        card = self.card
        curve = card.get("loss_curve", [])
        return {"out": str(self.out_dir), "name": self.name, "model_id": self.model_id, "cached": self.cached,
                "recipe": self.recipe.name, "kind": self.recipe.method, "base_model": card.get("base_model"),
                "config": self.recipe.model_dump(mode="json"), "steps": card.get("training", {}).get("steps"),
                "final_loss": curve[-1]["loss"] if curve else None, "loss_curve": curve,
                "tokens_seen": card.get("tokens_seen"), "wall_time_s": card.get("wall_time_s"),
                "data": card.get("data")}


@dataclass
class BaseModelBundle:
    """The loaded base model and tokenizer, and how many tokens were added to the tokenizer."""

    model: Any
    tokenizer: Any
    n_added_tokens: int = 0


def check_base(base: str) -> Path:
    """A base must be a local HF directory with config, tokenizer and weights (fails before heavy imports)."""
    path = Path(base).expanduser()
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelNotFound(f"base model {base} is not a checkpoint directory (no config.json)",
                            hint="pass a local Hugging Face model directory, e.g. one from `harness tiny-model`")
    if not any((path / f).exists() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        raise ModelNotFound(f"base model {base} has no tokenizer", hint="save the tokenizer beside the weights")
    if not list(path.glob("*.safetensors")):
        raise ModelNotFound(f"base model {base} has no *.safetensors weights", hint="re-save with safetensors")
    return path.resolve()


def add_pad_token(model: Any, tokenizer: Any) -> int:
    """Give the tokenizer a pad token if it has none; new embedding rows get the mean of the old ones.

    This is stanford_alpaca's `smart_tokenizer_and_embedding_resize`, without mean_resizing's noise.
    """
    import torch

    if tokenizer.pad_token is not None:
        return 0
    added = int(tokenizer.add_special_tokens({"pad_token": PAD_TOKEN}))
    old_rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > old_rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
                if layer is not None:
                    layer.weight[old_rows:] = layer.weight[:old_rows].mean(dim=0, keepdim=True)
    model.config.pad_token_id = tokenizer.pad_token_id
    return added


def load_base(base: Path, recipe: Recipe) -> BaseModelBundle:
    """Load the base in fp32 (mixed precision autocasts to bf16), add pad, attach the recipe's template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    added = add_pad_token(model, tokenizer)
    tokenizer.chat_template = BUILTIN_TEMPLATES[recipe.chat_template]
    tokenizer.padding_side = "right"
    return BaseModelBundle(model, tokenizer, added)


def prepare_examples(data: TrainingData, tokenizer: Any, recipe: Recipe) -> PreparedData:
    """Render every example in the recipe's prompt format and tokenize it with its loss mask."""
    fmt = PROMPT_FORMATS[recipe.chat_template]
    ids, labels, truncated, n_tokens, n_trained = [], [], 0, 0, 0
    for example in data.examples:
        tokenized = tokenize_segments(render_segments(example.messages, fmt), tokenizer, recipe.max_length,
                                      recipe.train_on_inputs)
        if all(label == -100 for label in tokenized.labels):
            truncated += 1  # the prompt alone fills max_length: nothing left to learn from
            continue
        truncated += tokenized.truncated
        ids.append(tokenized.input_ids)
        labels.append(tokenized.labels)
        n_tokens += len(tokenized.input_ids)
        n_trained += sum(label != -100 for label in tokenized.labels)
    if not ids:
        raise HarnessError(f"every example is longer than max_length={recipe.max_length} before its response",
                           hint="raise --max-len")
    if truncated:
        log.warning("%d example(s) truncated to max_length=%d", truncated, recipe.max_length)
    return PreparedData({"input_ids": ids, "labels": labels}, truncated, n_tokens, n_trained)


def world_size() -> int:
    """Processes in this training run (accelerate/torchrun set WORLD_SIZE; 1 otherwise)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def grad_accumulation(recipe: Recipe, processes: int) -> int:
    """Steps to accumulate so that per-device batch x processes x steps reaches the global batch."""
    return max(1, math.ceil(recipe.global_batch_size / (recipe.per_device_batch_size * processes)))


def bf16_supported() -> bool:
    """bf16 needs a CUDA device that supports it; CPU training here is fp32."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def training_args(recipe: Recipe, checkpoint_dir: Path, processes: int) -> Any:
    """The recipe as TRL `SFTConfig` (CPU: use_cpu, fp32; the data is already tokenized and masked)."""
    import torch
    from trl import SFTConfig

    fsdp: dict[str, Any] = {}
    accelerate_shards = os.environ.get("ACCELERATE_USE_FSDP") == "true" or os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true"
    if processes > 1 and recipe.fsdp and not accelerate_shards:
        # stanford_alpaca's "--fsdp 'full_shard auto_wrap'" in transformers 5 terms (FSDP2)
        fsdp = {"fsdp": True, "fsdp_config": {"transformer_layer_cls_to_wrap": [recipe.fsdp_layer_cls],
                                              "reshard_after_forward": "full_shard" in recipe.fsdp}}
    return SFTConfig(
        output_dir=str(checkpoint_dir), learning_rate=recipe.learning_rate, num_train_epochs=recipe.num_epochs,
        max_steps=recipe.max_steps, per_device_train_batch_size=recipe.per_device_batch_size,
        gradient_accumulation_steps=grad_accumulation(recipe, processes), warmup_steps=recipe.warmup,
        lr_scheduler_type=recipe.lr_scheduler, weight_decay=recipe.weight_decay, max_grad_norm=recipe.max_grad_norm,
        bf16=recipe.bf16 and bf16_supported(), use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=recipe.gradient_checkpointing, max_length=recipe.max_length,
        packing=recipe.packing, packing_strategy="bfd",
        train_sampling_strategy="group_by_length" if recipe.group_by_length and not recipe.packing else "random",
        logging_steps=recipe.logging_steps, save_strategy="steps", save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit, seed=recipe.seed, data_seed=recipe.seed, report_to="none",
        include_num_input_tokens_seen="non_padding", dataloader_num_workers=0, disable_tqdm=True, **fsdp,
    )


def lora_config(recipe: Recipe) -> Any:
    """peft `LoraConfig` for a LoRA recipe, None for a full fine-tune."""
    if recipe.method != "lora" or recipe.lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(r=recipe.lora.r, lora_alpha=recipe.lora.alpha, lora_dropout=recipe.lora.dropout,
                      target_modules=list(recipe.lora.target_modules), bias="none", task_type="CAUSAL_LM")


def _last_checkpoint(checkpoint_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None


def has_checkpoint(out: str | Path) -> bool:
    """Whether `out/checkpoints` holds a checkpoint (of an unfinished run, unless `out` also holds the model)."""
    return _last_checkpoint(Path(out) / CHECKPOINTS) is not None


def resume_checkpoint(checkpoint_dir: Path, resume: bool, identity: str) -> str | None:
    """The last checkpoint to resume from, or None for a fresh start (which claims the directory).

    Raises:
        HarnessError: --resume without a checkpoint or with checkpoints of another configuration, or
            checkpoints left over without --resume.
    """
    last = _last_checkpoint(checkpoint_dir)
    marker = checkpoint_dir / "run_identity.json"
    if resume and last is None:
        raise HarnessError(f"nothing to resume: no checkpoint in {checkpoint_dir}", hint="run without --resume")
    if not resume and last is not None:
        raise HarnessError(f"{checkpoint_dir} holds checkpoints of an unfinished run ({Path(last).name})",
                           hint="pass --resume to continue it, or choose another --out")
    if resume:
        claimed = json.loads(marker.read_text()).get("identity") if marker.is_file() else None
        if claimed != identity:
            raise HarnessError(f"the checkpoints in {checkpoint_dir} belong to another recipe, config, base or data",
                               hint="resume with the same options as the interrupted run, or choose another --out")
        return last
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"identity": identity}))
    return None


def save_model(trainer: Any, recipe: Recipe, tokenizer: Any, out: Path) -> None:
    """Write the final model to `out`: full weights, or the LoRA adapter (to out/adapter) merged into the base."""
    if recipe.method == "lora":
        trainer.save_model(str(out / "adapter"))
        if trainer.is_world_process_zero():
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(out, safe_serialization=True)
    else:
        trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)
        if (out / "training_args.bin").exists():
            (out / "training_args.bin").unlink()  # pickled; the card holds the config instead


def run_identity(recipe: Recipe, base_fingerprint: str, data: TrainingData) -> str:
    """What makes two fine-tunes the same: resolved recipe, base fingerprint and data content."""
    # shared_prefix changes how, not what, is computed: left out while off so older runs keep their identity
    settings = recipe.model_dump(mode="json", exclude=set() if recipe.shared_prefix else {"shared_prefix"})
    return content_hash({"recipe": settings, "base": base_fingerprint, "data": data.sha256})


def resolve(request: FinetuneRequest) -> Recipe:
    """The recipe with the request's overrides applied (what `harness finetune` prints and stores)."""
    return load_recipe(request.recipe, dict(request.overrides))


def _finished(out: Path, identity: str) -> dict[str, Any] | None:
    card = read_card(out)
    if card is None:
        return None
    if card.get("identity") != identity:
        raise HarnessError(f"{out} already holds a different fine-tune (recipe {card.get('recipe')})",
                           hint="choose another --out, or delete that directory")
    return card


def _identify(request: FinetuneRequest) -> tuple[Recipe, Path, TrainingData, str]:
    """The request's recipe, base directory, data and run identity (checked before any weights load)."""
    recipe = resolve(request)
    base = check_base(request.base)
    data = load_data(request.data, recipe.data_format, request.skip_bad)
    return recipe, base, data, run_identity(recipe, fingerprint_directory(base), data)


def find_finished(request: FinetuneRequest, store_url: str | None = None) -> FinetuneResult | None:
    """The finished fine-tune `request` asks for, registered in the store, or None when it has yet to run."""
    recipe, _, _, identity = _identify(request)
    return _reuse(request, recipe, identity, store_url)


def _reuse(request: FinetuneRequest, recipe: Recipe, identity: str, store_url: str | None) -> FinetuneResult | None:
    """The finished fine-tune in `request.out` with this identity, registered in the store (None: none there)."""
    out, name = Path(request.out), request.name or request.out
    if (card := _finished(out, identity)) is None:
        return None
    log.debug("%s already holds this fine-tune; nothing to do", out)
    return FinetuneResult(out, name, recipe, card, True, register_model(store_url, name, out, card))


def run_finetune(request: FinetuneRequest, store_url: str | None = None, callbacks: Sequence[Any] = (),
                 progress: Any = None) -> FinetuneResult:
    """Fine-tune `request.base` on `request.data` with `request.recipe`; finished identical work is reused.
    `progress`: the callback that shows it (default: a rich bar on stderr, `TrainingProgress`).

    Raises:
        HarnessError: bad recipe, base, data or output directory (before any weights load).
    """
    started = time.perf_counter()
    recipe, base, data, identity = _identify(request)
    if (found := _reuse(request, recipe, identity, store_url)) is not None:
        return found
    out, name = Path(request.out), request.name or request.out
    checkpoint = resume_checkpoint(out / CHECKPOINTS, request.resume, identity)
    from fine_tune.progress import TrainingProgress
    from harness.quiet import quiet_hugging_face

    with quiet_hugging_face():  # the one bar below instead of Hugging Face's bars and INFO lines
        bundle = load_base(base, recipe)
        prepared = prepare_examples(data, bundle.tokenizer, recipe)
        trainer = build_trainer(recipe, bundle, prepared, out, [progress or TrainingProgress(name), *callbacks])
        train_started = time.perf_counter()
        trainer.train(resume_from_checkpoint=checkpoint)
        train_seconds = time.perf_counter() - train_started
        save_model(trainer, recipe, bundle.tokenizer, out)
    if not trainer.is_world_process_zero():
        return FinetuneResult(out, name, recipe, {}, False)
    card = build_card(request=request, recipe=recipe, base=base, data=data, prepared=prepared, trainer=trainer,
                      identity=identity, n_added_tokens=bundle.n_added_tokens,
                      wall_seconds=time.perf_counter() - started, train_seconds=train_seconds)
    write_card(out, card)
    return FinetuneResult(out, name, recipe, card, False, register_model(store_url, name, out, card))


def build_trainer(recipe: Recipe, bundle: BaseModelBundle, prepared: PreparedData, out: Path,
                  callbacks: Sequence[Any] = ()) -> Any:
    """A TRL SFTTrainer for the recipe on prepared data (checkpoints go to out/checkpoints)."""
    import datasets
    from transformers import PrinterCallback, set_seed
    from trl import SFTTrainer

    trainer_class: Any = SFTTrainer
    if recipe.shared_prefix:
        from fine_tune.shared_prefix import SharedPrefixSFTTrainer

        trainer_class = SharedPrefixSFTTrainer
    set_seed(recipe.seed)
    processes = world_size()
    args = training_args(recipe, out / CHECKPOINTS, processes)
    log.debug("global batch %d = %d per device x %d process(es) x %d accumulation step(s)",
             recipe.per_device_batch_size * processes * args.gradient_accumulation_steps,
             recipe.per_device_batch_size, processes, args.gradient_accumulation_steps)
    if recipe.bf16 and not args.bf16:
        log.debug("bf16 is not supported on this device: training in fp32")
    trainer = trainer_class(model=bundle.model, args=args, train_dataset=datasets.Dataset.from_dict(prepared.rows),
                         processing_class=bundle.tokenizer, peft_config=lora_config(recipe),
                         callbacks=[loss_logger(), *callbacks])
    trainer.remove_callback(PrinterCallback)  # it prints to stdout, which `--json` keeps for one document
    return trainer


def loss_logger() -> Any:
    """A Trainer callback that makes the last step log too, and logs each train loss at DEBUG (the bar shows it)."""
    from transformers import TrainerCallback

    class LossLogger(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            if state.global_step >= state.max_steps:
                control.should_log = True  # the card's loss curve always ends at the last step

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            if logs and "loss" in logs:
                log.debug("step %d/%d  loss %.4f  lr %.3g", state.global_step, state.max_steps, logs["loss"],
                         logs.get("learning_rate", 0.0))

    return LossLogger()
