"""`harness finetune` and `harness self-instruct`: parse, call `fine_tune`, print what was trained or generated."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from harness.cli.options import (
    JsonOpt,
    NameOpt,
    SeedOpt,
    SkipBadOpt,
    StoreOpt,
    handled,
    print_json,
    validated,
)
from harness.console import stdout


@handled
def finetune_command(
    recipe: Annotated[str, typer.Option(help="alpaca | alpaca-lora | vicuna | vicuna-lora | RECIPE.yaml.")],
    base: Annotated[str, typer.Option(help="Base model directory (safetensors + tokenizer).")],
    data: Annotated[str, typer.Option(help="Training data: JSON/JSONL file or folder, in the recipe's format.")],
    out: Annotated[str, typer.Option(help="Output directory: the model, harness.json and checkpoints/.")],
    epochs: Annotated[float | None, typer.Option(help="Override num_epochs.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Override max_steps.")] = None,
    lr: Annotated[float | None, typer.Option(help="Override learning_rate.")] = None,
    max_len: Annotated[int | None, typer.Option(help="Override max_length.")] = None,
    packing: Annotated[bool | None, typer.Option("--packing/--no-packing", metavar="", help="Override packing.")] = None,
    train_on_inputs: Annotated[bool | None, typer.Option(
        "--train-on-inputs/--no-train-on-inputs", metavar="", help="Loss on the prompt too (alpaca-lora's option).")] = None,
    resume: Annotated[bool, typer.Option(metavar="", help="Continue from the last checkpoint in OUT/checkpoints.")] = False,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Any recipe key: key=value (repeat).")] = None,
    skip_bad: SkipBadOpt = False,
    name: NameOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune a base model with a recipe (full or LoRA); print the resolved config; register the model."""
    from fine_tune.config import FinetuneRequest, parse_overrides
    from fine_tune.sft import resolve, run_finetune

    flags = {"num_epochs": epochs, "max_steps": max_steps, "learning_rate": lr, "max_length": max_len,
             "packing": packing, "train_on_inputs": train_on_inputs}
    merged = {**parse_overrides(overrides or []), **{k: v for k, v in flags.items() if v is not None}}
    request = validated(FinetuneRequest, recipe=recipe, base=base, data=data, out=out, overrides=merged,
                         resume=resume, skip_bad=skip_bad, name=name)
    if not as_json:
        stdout.print_json(json.dumps(resolve(request).model_dump(mode="json")))
    result = run_finetune(request, store)
    if as_json:
        print_json(result.to_json())
    else:
        summary = result.to_json()
        stdout.print(f"{'found' if result.cached else 'wrote'} {result.out_dir} ({result.recipe.name}, "
                     f"{summary['steps']} steps, final loss {summary['final_loss']})")


@handled
def self_instruct_command(
    seed_tasks: Annotated[str, typer.Option(help="Seed tasks: seed_tasks.jsonl (self-instruct) or Alpaca JSON.")],
    num: Annotated[int, typer.Option(help="Instructions the output should end up with.")],
    out: Annotated[str, typer.Option(help="Alpaca JSON file to write (re-run to resume).")],
    model: Annotated[str, typer.Option(help="Model name at the endpoint.")] = "gpt-3.5-turbo",
    base_url: Annotated[str | None, typer.Option(envvar="OPENAI_BASE_URL", help="OpenAI-compatible …/v1 URL.")] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    prompt_price: Annotated[float | None, typer.Option(help="USD per 1M prompt tokens (default: price table).")] = None,
    completion_price: Annotated[float | None, typer.Option(help="USD per 1M completion tokens.")] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Generate Alpaca-format instructions with an OpenAI-compatible model (self-instruct), filtered for novelty."""
    from fine_tune.self_instruct import SelfInstructConfig, run_self_instruct

    config = validated(SelfInstructConfig, seed_tasks=seed_tasks, num=num, out=out, model=model, base_url=base_url,
                        concurrency=concurrency, prompt_price=prompt_price, completion_price=completion_price,
                        seed=seed)
    result = run_self_instruct(config)
    if as_json:
        print_json(result.to_json())
    else:
        stdout.print(f"{result.total} instructions in {result.out} (+{result.added}); "
                     f"{result.progress.requests} requests, rejected {dict(result.progress.rejected)}, "
                     f"${result.cost_usd:.4f}")
