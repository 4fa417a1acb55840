"""Published benchmark columns: which harness task (and metric) a published column is the same as, its
label, and the one constructor every published reader builds its `PublishedResult`s with.

The mapping is data: a column is put beside the store's task only where the benchmark and its few-shot
setting are the ones the harness suites run (MMLU 5-shot → `mmlu`); zero- and one-shot variants of a
task evaluated few-shot here stay in their own columns.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from harness.fingerprint import content_hash
from harness.records import PublishedResult


class Column(NamedTuple):
    """What a published column is: its label and, when it is a harness task, the task and metric."""

    label: str
    task: str | None = None
    metric: str | None = None


# Lowercased published column name -> what it is. Columns not listed keep their published name.
COLUMNS: dict[str, Column] = {
    # llm-leaderboard.streamlit.app (LudwigStumpp/llm-leaderboard README)
    "mmlu (few-shot)": Column("mmlu", "mmlu", "acc"),
    "hellaswag (few-shot)": Column("hellaswag", "hellaswag", "acc"),
    "winogrande (few-shot)": Column("winogrande", "winogrande", "acc"),
    "lambada (zero-shot)": Column("lambada_openai", "lambada_openai", "acc"),
    "humaneval-python (pass@1)": Column("humaneval", "humaneval", "pass@1"),
    "chatbot arena elo": Column("Arena Elo"),
    # LMSYS blog tables (published_tables/*.csv)
    "mmlu": Column("mmlu", "mmlu", "acc"),
    "elo_rating": Column("Arena Elo"),
    "arena_elo": Column("Arena Elo"),
    "arena_elo_rating": Column("Arena Elo"),
    "mt_bench_score": Column("MT-bench"),
    # Open LLM Leaderboard v1 columns
    "arc": Column("arc_challenge", "arc_challenge", "acc_norm"),
    "hellaswag": Column("hellaswag", "hellaswag", "acc_norm"),
    "truthfulqa": Column("truthfulqa_mc2", "truthfulqa_mc2", "acc"),
    "winogrande": Column("winogrande", "winogrande", "acc"),
    "gsm8k": Column("gsm8k", "gsm8k", "exact_match"),
}


_FRACTIONS = ("acc", "acc_norm", "exact_match", "pass@1")


def column_of(name: str) -> Column:
    """The column a published header stands for (its own name when it is not a known benchmark)."""
    return COLUMNS.get(name.strip().lower(), Column(name.strip()))


def number(text: Any) -> float | None:
    """A published cell as a float; '', NaN, '-' and other non-numbers are None (an empty cell)."""
    if text is None:
        return None
    try:
        value = float(str(text).strip().rstrip("%").replace(",", ""))
    except ValueError:
        return None
    return None if math.isnan(value) else value


def result(*, fmt: str, leaderboard: str, digest: str, model: str, column: str, value: float,
           stderr: float | None = None, metric: str | None = None, source_url: str | None = None,
           source_file: str | None = None, source_date: str | None = None, known: Column | None = None,
           extra: dict[str, Any] | None = None) -> PublishedResult:
    """One published cell as a record: its column mapped (`known`, else looked up; a mapped accuracy printed
    as a percentage becomes a fraction), its key the file's digest, the model and the column, so importing
    the file again adds nothing."""
    known = known or column_of(column)
    scale = 100.0 if known.task is not None and known.metric in _FRACTIONS and value > 1.0 else 1.0
    key = content_hash({"format": fmt, "file": digest, "model": model, "column": column})
    return PublishedResult(
        result_key=key, leaderboard=leaderboard, format=fmt, model=model.strip(), benchmark=known.label,
        value=value / scale, task=known.task, metric=metric or known.metric,
        stderr=None if stderr is None else stderr / scale, source_url=source_url, source_file=source_file,
        source_date=source_date, extra={"column": column, "printed": value, **(extra or {})})
