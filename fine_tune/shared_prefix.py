"""Shared-prefix batches: the tokens every row of a batch starts with are run once, not once per row.

Alpaca and Vicuna examples open with the same text (Alpaca's preamble and "### Instruction:", Vicuna's system
prompt and "USER:"), masked out of the loss. In a causal model those positions' keys and values depend only on
the tokens before them, so they are the same in every row: `with_shared_prefix` runs the batch's longest common
prefix once (batch of one, with grad), repeats its cache over the batch and runs only the rest of each row on
top of it. The loss, the label count and the gradients are those of the whole-batch forward up to float
rounding (`tests/test_shared_prefix.py`); only the arithmetic on the prefix is saved, which on the CPU demo's
prompts is most of it (Alpaca: 43 of 44 tokens' worth of rows start alike up to the question).

It applies when the split is exact: every row has the prefix unpadded, no label inside it or on the first token
after it (the model predicts that one from the prefix), a single process (DDP and FSDP expect one forward per
backward), no gradient checkpointing, no packing, and no dropout (one prefix run would share its masks across
the rows). Otherwise the batch goes through the usual forward.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from trl import SFTTrainer

from fine_tune.data import IGNORE_INDEX

log = logging.getLogger(__name__)
MIN_PREFIX = 8  # shorter shared prefixes are not worth a second forward


def split_point(input_ids: torch.Tensor, attention_mask: torch.Tensor | None, labels: torch.Tensor) -> int:
    """Where the batch's shared, unlabelled, unpadded prefix ends (0: none worth splitting off)."""
    if input_ids.dim() != 2 or input_ids.shape[0] < 2:
        return 0
    same = (input_ids == input_ids[:1]).all(dim=0)
    if attention_mask is not None:
        same &= attention_mask.bool().all(dim=0)
    unlabelled = (labels == IGNORE_INDEX).all(dim=0)
    # the prefix ends at p: tokens [0, p) shared, labels [0, p] unused (label p is predicted from position p - 1)
    shared = int(same.long().cumprod(0).sum())
    free = int(unlabelled.long().cumprod(0).sum())
    point = min(shared, free - 1, input_ids.shape[1] - 1)
    return point if point >= MIN_PREFIX else 0


def why_not(model: Any, args: Any, processes: int) -> str | None:
    """Why shared-prefix batches would not be exact for this model and run (None: they are)."""
    if processes > 1:
        return "more than one process (DDP/FSDP expect one forward per backward)"
    if args.gradient_checkpointing:
        return "gradient checkpointing"
    if args.packing or getattr(args, "padding_free", False):
        return "packing"
    if float(getattr(model.config, "attention_dropout", 0.0) or 0.0) > 0:
        return "attention dropout"
    if any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()):
        return "dropout"
    return None


def with_shared_prefix(model: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """`inputs` with the shared prefix run once: the rest of each row as `input_ids`/`labels`, the prefix's cache
    repeated over the batch as `cache`, the attention mask kept whole (prefix + rest). Unchanged when there is
    no prefix worth splitting off."""
    ids, labels = inputs["input_ids"], inputs.get("labels")
    mask = inputs.get("attention_mask")
    if labels is None or "position_ids" in inputs or "cache" in inputs:
        return inputs
    point = split_point(ids, mask, labels)
    if not point:
        return inputs
    prefix = model(input_ids=ids[:1, :point], use_cache=True, logits_to_keep=1)
    cache = prefix.cache
    cache.batch_repeat_interleave(ids.shape[0])
    return {**inputs, "input_ids": ids[:, point:], "labels": labels[:, point:], "cache": cache,
            "attention_mask": mask if mask is not None else torch.ones_like(ids)}


def length_buckets(attention_mask: torch.Tensor, min_saving: float = 0.15) -> list[torch.Tensor]:
    """The batch's rows as one group, or as two (shorter rows, longer rows) when running them apart pads at least
    `min_saving` fewer positions: a batch of one-turn and two-turn conversations no longer pads every row to the
    longest. The rows stay in the same optimizer step, so the gradient is the same."""
    lengths = attention_mask.sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    ordered = lengths[order].tolist()
    rows, whole = len(ordered), len(ordered) * ordered[-1]
    if rows < 2:
        return [torch.arange(rows)]
    cost, cut = min((k * ordered[k - 1] + (rows - k) * ordered[-1], k) for k in range(1, rows))
    if cost > (1 - min_saving) * whole:
        return [torch.arange(rows)]
    return [order[:cut].sort().values, order[cut:].sort().values]


def _rows(inputs: dict[str, Any], picked: torch.Tensor) -> dict[str, Any]:
    """The picked rows, cut to the longest of them (right padding)."""
    width = int(inputs["attention_mask"][picked].sum(dim=1).max())
    return {key: value[picked, :width] if isinstance(value, torch.Tensor) and value.dim() == 2 else value
            for key, value in inputs.items()}


class SharedPrefixSFTTrainer(SFTTrainer):  # type: ignore[misc]
    """TRL's `SFTTrainer`, its training batches run through `with_shared_prefix` when that is exact, and a batch of
    very unequal rows run as two length buckets (`length_buckets`) whose losses add up to the batch's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = why_not(self.model, self.args, self.accelerator.num_processes)
        self.shared_prefix = reason is None
        if reason:
            log.warning("shared_prefix is off for this run: %s", reason)

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        if not (self.shared_prefix and model.training and not return_outputs):
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)
        mask = inputs.get("attention_mask")
        # each bucket's loss is its token losses over the step's token count: the buckets add up to the batch
        buckets = length_buckets(mask) if mask is not None and num_items_in_batch is not None else []
        if len(buckets) < 2:
            return super().compute_loss(model, with_shared_prefix(model, inputs), num_items_in_batch=num_items_in_batch)
        return sum(super(SharedPrefixSFTTrainer, self).compute_loss(
            model, with_shared_prefix(model, _rows(inputs, rows)), num_items_in_batch=num_items_in_batch)
            for rows in buckets)
