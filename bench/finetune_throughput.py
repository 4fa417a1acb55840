"""Benchmark: training throughput of the alpaca recipe: padded, packed, length-grouped, shared-prefix batches,
vs plain TRL SFTTrainer defaults.

Run: .venv/bin/python bench/finetune_throughput.py [--steps 12] [--batch 8] [--hidden 128] [--data FILE] [--threads N]
     [--demo-data]
All variants train the same tiny model on the same Alpaca data (the real 1,727-row sample in ../shared/data when
present, else the synthetic arithmetic rows) in one process, one after the other. Reported: real (non-pad)
tokens per second of training, the padding fraction of the batches, and ratios to the unpacked recipe.
On a CUDA machine the recipe trains in bf16 (the recipe's setting); on CPU everything is fp32 except TRL's
defaults, which autocast to bf16 and checkpoint activations.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAX_LENGTH = [512]  # --max-length
SHARED_ALPACA = ROOT.parent / "shared" / "data" / "alpaca" / "alpaca_data_sample.json"


@dataclass(frozen=True)
class Measurement:
    name: str
    steps: int
    real_tokens: int
    padding_fraction: float
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.real_tokens / self.seconds


def padding_fraction(trainer: Any, steps: int) -> float:
    """Share of pad positions in the batches of the first `steps` optimizer steps (same sampler seed)."""
    pad_id, real, total = trainer.processing_class.pad_token_id, 0, 0
    per_step = trainer.args.gradient_accumulation_steps
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i >= steps * per_step:
            break
        ids = batch["input_ids"]
        total += ids.numel()
        real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else int((ids != pad_id).sum())
    return 1 - real / total


def timed_train(name: str, trainer: Any, steps: int) -> Measurement:
    fraction = padding_fraction(trainer, steps)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return Measurement(name, trainer.state.global_step, int(trainer.state.num_input_tokens_seen), fraction, seconds)


def recipe_run(base: Path, data: Path, work: Path, steps: int, batch: int, **overrides: Any) -> Any:
    overrides.setdefault("max_length", MAX_LENGTH[0])
    from fine_tune.config import load_recipe
    from fine_tune.data import load_data
    from fine_tune.sft import build_trainer, load_base, prepare_examples

    recipe = load_recipe("alpaca", {"max_steps": steps, "per_device_batch_size": batch, "global_batch_size": batch,
                                    "save_steps": 10_000, "logging_steps": steps, **overrides})
    bundle = load_base(base, recipe)
    prepared = prepare_examples(load_data(data, "alpaca"), bundle.tokenizer, recipe)
    return build_trainer(recipe, bundle, prepared, work / f"recipe-{len(list(work.iterdir()))}")


def trl_defaults_run(base: Path, data: Path, work: Path, steps: int, batch: int) -> Any:
    """TRL's SFTTrainer as its docs show it: prompt/completion text, SFTConfig defaults (use_cpu on CPU)."""
    import datasets
    import torch
    from transformers import AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from harness.eval.templates import render_alpaca_prompt

    rows = json.loads(data.read_text())
    dataset = datasets.Dataset.from_list(
        [{"prompt": render_alpaca_prompt(r["instruction"], r.get("input", "")), "completion": r["output"]}
         for r in rows])
    args = SFTConfig(output_dir=str(work / "trl"), max_steps=steps, per_device_train_batch_size=batch,
                     use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no",
                     logging_steps=steps, include_num_input_tokens_seen="non_padding", disable_tqdm=True)
    trainer = SFTTrainer(model=str(base), args=args, train_dataset=dataset,
                         processing_class=AutoTokenizer.from_pretrained(base))
    trainer.remove_callback(PrinterCallback)  # keep stdout for the report
    return trainer


def report(results: list[Measurement], device: str) -> None:
    reference = results[0]
    print(f"finetune throughput on {device} (steps, real tokens, padding, seconds, real tokens/s, ratio)")
    for m in results:
        print(f"  {m.name:<34} {m.steps:>4} {m.real_tokens:>8} {m.padding_fraction:>8.1%} {m.seconds:>8.2f}s "
              f"{m.tokens_per_second:>9.0f}/s  x{m.tokens_per_second / reference.tokens_per_second:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a loaded machine)")
    parser.add_argument("--demo-data", action="store_true", help="the CPU demo's arithmetic rows, not the real sample")
    parser.add_argument("--variants", default="padded,packing,grouped,shared,shared+grouped,trl",
                        help="comma-separated, the first is the reference: padded packing grouped shared "
                             "shared+grouped trl")
    parser.add_argument("--max-length", type=int, default=512, help="the recipe's max_length (the demo: 128)")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    MAX_LENGTH[0] = args.max_length

    from harness.eval.tiny import make_tiny_model

    work = Path(tempfile.mkdtemp(prefix="bench-ft-"))
    base = make_tiny_model(work / "base", hidden=args.hidden, layers=4).path
    data = args.data or SHARED_ALPACA
    if args.demo_data or not data.is_file():
        from fine_tune.synthetic import write_arith_data

        data = write_arith_data(work / "data").alpaca
    runs = work / "runs"
    runs.mkdir()
    recipe_run(base, data, runs, 2, args.batch).train()  # warm-up: first-call costs stay out of the numbers
    variants = {
        "padded": lambda: timed_train("alpaca recipe, padded batches",
                                      recipe_run(base, data, runs, args.steps, args.batch), args.steps),
        "packing": lambda: timed_train("alpaca recipe, packing (bfd)",
                                       recipe_run(base, data, runs, args.steps, args.batch, packing=True), args.steps),
        "grouped": lambda: timed_train("alpaca recipe, group_by_length",
                                       recipe_run(base, data, runs, args.steps, args.batch, group_by_length=True),
                                       args.steps),
        "shared": lambda: timed_train("alpaca recipe, shared_prefix",
                                      recipe_run(base, data, runs, args.steps, args.batch, shared_prefix=True),
                                      args.steps),
        "shared+grouped": lambda: timed_train("shared_prefix + group_by_length",
                                              recipe_run(base, data, runs, args.steps, args.batch, shared_prefix=True,
                                                         group_by_length=True), args.steps),
        "trl": lambda: timed_train("TRL SFTTrainer defaults", trl_defaults_run(base, data, work, args.steps, args.batch),
                                   args.steps),
    }
    results = [variants[name]() for name in args.variants.split(",")]  # the first is the reference
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    print(f"data: {data.name}, model: tiny LLaMA hidden {args.hidden} x 4 layers, batch {args.batch}")
    report(results, device)


if __name__ == "__main__":
    main()
