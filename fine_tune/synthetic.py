"""Synthetic instruction data for the CPU demo: two-digit addition from the `train` pairs of `tasks/arith`.

The held-out `test` pairs (what `harness eval --suite smoke` scores) never appear here. `write_arith_data`
writes the same task twice: Alpaca JSON rows and ShareGPT conversations (some of them two-turn).
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.resources import tasks_dir

ARITH_BUILD = tasks_dir() / "arith" / "build.py"


@dataclass(frozen=True)
class SyntheticData:
    """Where the two files were written and how many records each holds."""

    alpaca: Path
    sharegpt: Path
    n_alpaca: int
    n_sharegpt: int


@lru_cache(maxsize=1)
def arith_module() -> ModuleType:
    """`tasks/arith/build.py`, imported by path (`tasks/` is data, not a package)."""
    spec = importlib.util.spec_from_file_location("harness_tasks_arith_build", ARITH_BUILD)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {ARITH_BUILD}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_pairs() -> list[tuple[int, int]]:
    """The addition pairs that are neither test nor few-shot examples."""
    pairs: list[tuple[int, int]] = arith_module().split_pairs()["train"]
    return pairs


def arith_alpaca_rows() -> list[dict[str, str]]:
    """One Alpaca row per training pair: "What is A+B?" → "A+B's sum", no input (the eval's prompt text)."""
    return [{"instruction": f"What is {a}+{b}?", "input": "", "output": str(a + b)} for a, b in train_pairs()]


def arith_sharegpt_rows(seed: int = 0) -> list[dict[str, Any]]:
    """The same pairs as ShareGPT conversations: two in three single-turn, the rest two-turn."""
    pairs = list(train_pairs())
    random.Random(seed).shuffle(pairs)
    rows: list[dict[str, Any]] = []
    i = 0
    while i < len(pairs):
        turns = 2 if len(rows) % 3 == 2 and i + 1 < len(pairs) else 1
        conversation = []
        for a, b in pairs[i : i + turns]:
            conversation += [{"from": "human", "value": f"What is {a}+{b}?"}, {"from": "gpt", "value": str(a + b)}]
        rows.append({"id": f"arith_{len(rows)}", "conversations": conversation})
        i += turns
    return rows


def write_arith_data(out_dir: str | Path) -> SyntheticData:
    """Write `arith_alpaca.json` and `arith_sharegpt.json` into `out_dir` (deterministic content)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    alpaca, sharegpt = arith_alpaca_rows(), arith_sharegpt_rows()
    (out / "arith_alpaca.json").write_text(json.dumps(alpaca, indent=1))
    (out / "arith_sharegpt.json").write_text(json.dumps(sharegpt, indent=1))
    return SyntheticData(out / "arith_alpaca.json", out / "arith_sharegpt.json", len(alpaca), len(sharegpt))
