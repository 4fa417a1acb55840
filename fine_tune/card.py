"""The fine-tuned model's card (`harness.json`) and its registration in the results store.

The card records what `harness eval` and the leaderboard need (kind, base_model, recipe, n_params) plus the
provenance of the run: base fingerprint, resolved config, data hash and size, loss curve, wall time, tokens.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.fingerprint import fingerprint_directory
from harness.records import ModelRecord
from harness.store import open_store
from harness.store.runs import upsert_model

if TYPE_CHECKING:
    from fine_tune.config import FinetuneRequest, Recipe
    from fine_tune.data import PreparedData, TrainingData

CARD = "harness.json"


def _versions() -> dict[str, str]:
    found = {}
    for package in ("harness", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def loss_curve(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The train loss entries of a Trainer's log history as [{step, loss}]."""
    return [{"step": int(e["step"]), "loss": float(e["loss"])} for e in log_history if "loss" in e and "step" in e]


def build_card(*, request: FinetuneRequest, recipe: Recipe, base: Path, data: TrainingData, prepared: PreparedData,
               trainer: Any, identity: str, n_added_tokens: int, wall_seconds: float,
               train_seconds: float) -> dict[str, Any]:
    """Everything the card says about one finished fine-tune."""
    args, state = trainer.args, trainer.state
    model = trainer.model
    return {
        "kind": recipe.method,
        "base_model": request.base,
        "base_path": str(base),
        "base_fingerprint": fingerprint_directory(base),
        "recipe": recipe.name,
        "chat_template": recipe.chat_template,
        "config": recipe.model_dump(mode="json"),
        "identity": identity,
        "n_params": sum(p.numel() for p in model.parameters()),
        "data": {"files": data.files, "sha256": data.sha256, "bytes": data.n_bytes, "records": data.n_records,
                 "skipped": data.n_skipped, "examples": len(prepared.rows["input_ids"]),
                 "truncated": prepared.n_truncated, "tokens": prepared.n_tokens,
                 "trained_tokens": prepared.n_trained_tokens, "train_on_inputs": recipe.train_on_inputs,
                 "mask": "prompt and replies" if recipe.train_on_inputs else "replies (from character offsets)"},
        "training": {"steps": state.global_step, "epochs": state.epoch, "world_size": args.world_size,
                     "per_device_batch_size": args.per_device_train_batch_size,
                     "gradient_accumulation_steps": args.gradient_accumulation_steps,
                     "global_batch_size": args.per_device_train_batch_size * args.world_size
                     * args.gradient_accumulation_steps,
                     "precision": "bf16" if args.bf16 else "fp32", "added_tokens": n_added_tokens,
                     "resumed": request.resume},
        "loss_curve": loss_curve(state.log_history),
        "wall_time_s": round(wall_seconds, 3),
        "train_time_s": round(train_seconds, 3),
        "tokens_seen": int(state.num_input_tokens_seen),
        "versions": _versions(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_card(out: Path, card: dict[str, Any]) -> None:
    """Write `harness.json` last, so its presence marks a finished model directory."""
    (out / CARD).write_text(json.dumps(card, indent=2))


def read_card(out: Path) -> dict[str, Any] | None:
    """The card of a finished fine-tune in `out`, or None."""
    path = out / CARD
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except ValueError:
        return None


def register_model(store_url: str | None, name: str, out: Path, card: dict[str, Any]) -> int:
    """Upsert the model (name + fingerprint) with its card, so the leaderboard shows recipe/base/LoRA."""
    record = ModelRecord(name=name, source=str(out), fingerprint=fingerprint_directory(out), kind=card["kind"],
                         base_model=card.get("base_model"), recipe=card.get("recipe"), n_params=card.get("n_params"),
                         card=card)
    return upsert_model(open_store(store_url), record)
