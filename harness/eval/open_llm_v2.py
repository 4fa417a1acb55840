"""The Open LLM Leaderboard v2's normalised average over a run of the `open_llm_v2` suite. Pure: scores in.

Each benchmark's score is rescaled so that random guessing is 0 and a perfect score 100:
`max(0, (raw - baseline) / (1 - baseline)) * 100`, where the baseline is 1 / (number of choices) for multiple
choice (per subtask for BBH and MuSR, whose subtasks differ in choices) and 0 for generation (IFEval, MATH).
IFEval's raw score is the mean of its prompt-level and instruction-level strict accuracies; BBH and MuSR average
their normalised subtasks. The average is the mean of the six benchmarks, as the leaderboard reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.records import Score

# benchmark -> (task name or subtask prefix, metrics averaged into its raw score)
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "IFEval": ("leaderboard_ifeval", ("prompt_level_strict_acc", "inst_level_strict_acc")),
    "BBH": ("leaderboard_bbh_", ("acc_norm",)),
    "MATH Lvl 5": ("leaderboard_math_", ("exact_match",)),
    "GPQA": ("leaderboard_gpqa_", ("acc_norm",)),
    "MuSR": ("leaderboard_musr_", ("acc_norm",)),
    "MMLU-Pro": ("leaderboard_mmlu_pro", ("acc",)),
}
# the leaderboard's GPQA is one subtask set; MATH's subtasks are pooled by lm-eval's group (weighted by size)
POOLED = {"MATH Lvl 5", "GPQA"}
GROUPS = {"leaderboard_math_hard"}  # a group's own aggregate, not a subtask of it


@dataclass(frozen=True)
class NormalisedScores:
    """Each benchmark's normalised score (0-100) and their mean; None where a benchmark is missing."""

    benchmarks: dict[str, float | None]
    average: float | None


def normalise(raw: float, baseline: float) -> float:
    """Random guessing -> 0, perfect -> 100, below random clipped to 0."""
    return max(0.0, (raw - baseline) / (1.0 - baseline)) * 100.0


def _subtask_scores(scores: list[Score], prefix: str, metrics: tuple[str, ...]) -> dict[str, tuple[float, int]]:
    """subtask -> (raw score, n) for tasks named `prefix` (or starting with it when it ends in '_')."""
    found: dict[str, list[tuple[float, int]]] = {}
    for s in scores:
        match = (s.task.startswith(prefix) if prefix.endswith("_") else s.task == prefix) and s.task not in GROUPS
        if match and s.metric in metrics and s.value is not None:
            found.setdefault(s.task, []).append((s.value, s.n or 0))
    return {task: (sum(v for v, _ in vals) / len(vals), max(n for _, n in vals)) for task, vals in found.items()
            if len(vals) == len(metrics)}


def open_llm_v2_scores(scores: list[Score], choices: dict[str, float]) -> NormalisedScores:
    """The normalised benchmarks and average from a run's scores.

    Args:
        scores: every score of the run (subtasks included).
        choices: subtask -> mean number of answer choices of its documents (from the stored samples); a task
            missing here is a generation task (baseline 0).
    """
    out: dict[str, float | None] = {}
    for name, (prefix, metrics) in BENCHMARKS.items():
        subtasks = _subtask_scores(scores, prefix, metrics)
        if not subtasks:
            out[name] = None
            continue
        if name in POOLED:
            total = sum(n for _, n in subtasks.values()) or len(subtasks)
            raw = sum(v * (n or 1) for v, n in subtasks.values()) / total
            baseline = 1.0 / min(choices.get(t, float("inf")) for t in subtasks) if name == "GPQA" else 0.0
            out[name] = normalise(raw, baseline)
            continue
        normalised = [normalise(raw, 1.0 / choices[t] if t in choices else 0.0) for t, (raw, _) in subtasks.items()]
        out[name] = sum(normalised) / len(normalised)
    present = [v for v in out.values() if v is not None]
    return NormalisedScores(out, sum(present) / len(present) if len(present) == len(BENCHMARKS) else None)
