"""Benchmark: the demo's two fine-tunes, as configured now vs as they were (issue 15), per step and in all.

Run: .venv/bin/python bench/demo_finetune.py [--steps 10] [--rounds 2] [--threads N]
Both settings train the same recipes on the same synthetic sums in this one process, alternately (`--rounds`
times each, so that a change of machine load hits both): `before` is the old demo (512-entry BPE, lr 3e-3,
random batches, 1000 steps each), `now` is `fine_tune.demo` (768-entry BPE, lr 5e-3, length-grouped batches,
DEMO_STEPS). Reported per recipe: seconds per optimizer step (median of the rounds, from the Trainer's own
train time, so imports and model loading are not counted), real (non-pad) tokens per step, and the whole fine-tune's
projected time (seconds per step x steps) as a ratio `now / before`. Multiply the ratio by a measured
`before` time on the same machine to project `now` there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BEFORE = {"learning_rate": 3e-3, "global_batch_size": 64, "per_device_batch_size": 64, "warmup": 0.05,
          "max_length": 128, "logging_steps": 10, "save_steps": 500, "save_total_limit": 1,
          "gradient_checkpointing": False}
BEFORE_STEPS = {"alpaca": 1000, "vicuna": 1000}


def one_run(base: Path, data: Path, recipe: str, overrides: dict[str, Any], steps: int, out: Path) -> dict[str, float]:
    from fine_tune.config import FinetuneRequest
    from fine_tune.sft import run_finetune

    request = FinetuneRequest(recipe=recipe, base=str(base), data=str(data), out=str(out),
                              overrides={**overrides, "max_steps": steps, "save_steps": 10_000})
    card = run_finetune(request, f"sqlite:///{out.parent / 'bench.db'}").card
    return {"seconds_per_step": card["train_time_s"] / steps, "real_tokens_per_step": card["tokens_seen"] / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import torch

    from fine_tune.demo import DEMO_OVERRIDES, DEMO_STEPS
    from fine_tune.synthetic import write_arith_data
    from harness.cli.demo import DEMO_VOCAB
    from harness.eval.tiny import make_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    data = write_arith_data(work / "data")
    settings = {
        "before": (make_tiny_model(work / "base512", seed=0).path, BEFORE, BEFORE_STEPS),
        "now": (make_tiny_model(work / "base768", seed=0, vocab_size=DEMO_VOCAB).path, DEMO_OVERRIDES, DEMO_STEPS),
    }
    measured: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for recipe, path in (("alpaca", data.alpaca), ("vicuna", data.sharegpt)):
            for name, (base, overrides, _) in settings.items():
                out = work / f"{name}-{recipe}-{round_}"
                measured.setdefault((name, recipe), []).append(one_run(base, path, recipe, overrides, args.steps, out))
                print(json.dumps({"round": round_, "recipe": recipe, "setting": name, **measured[name, recipe][-1]}),
                      file=sys.stderr, flush=True)
    report: dict[str, Any] = {"steps_measured": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads()}
    total = {"before": 0.0, "now": 0.0}
    for recipe in ("alpaca", "vicuna"):
        row = {}
        for name, (_, _, steps) in settings.items():
            runs = measured[name, recipe]
            per_step = statistics.median(r["seconds_per_step"] for r in runs)
            row[name] = {"seconds_per_step": round(per_step, 4), "real_tokens_per_step": runs[0]["real_tokens_per_step"],
                         "steps": steps[recipe], "projected_s": round(per_step * steps[recipe], 1)}
            total[name] += per_step * steps[recipe]
        row["now/before"] = round(row["now"]["projected_s"] / row["before"]["projected_s"], 3)
        report[recipe] = row
    report["both fine-tunes now/before"] = round(total["now"] / total["before"], 3)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
