"""The Compare page's arithmetic: per-task paired tests of two models and the judge's verdicts per question.

Each task goes through `harness.gate.paired.compare_task`, the comparison `harness gate` runs, with B as the
baseline and A as the candidate, so the page shows the gate's effect, CI and p-value on the same two runs;
p-values are Holm-corrected across the page's tasks. Effects are A − B: positive favours A on higher-is-better.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.gate.paired import (
    ALPHA,
    MetricPolicy,
    PairedSettings,
    TaskComparison,
    compare_task,
    config_mismatch,
)
from harness.gate.stats import holm, sign_test
from harness.records import TaskResult

COMPARE_COLUMNS = ["task", "metric", "n paired", "A", "B", "A − B", "CI low", "CI high", "test", "p", "p (Holm)",
                   "verdict"]


class Comparison(NamedTuple):
    """The tasks that could be compared (B as baseline, A as candidate) and the verdict table of every task."""

    pairs: list[TaskComparison]
    verdicts: pd.DataFrame


def _verdict(compared: TaskComparison, p_holm: float, name_a: str, name_b: str) -> str:
    if p_holm >= ALPHA:
        return "no real difference"
    effect = compared.test.effect
    a_better = effect > 0 if compared.choice.direction == "higher" else effect < 0
    return f"{name_a} better" if a_better else f"{name_b} better"


def compare_models(results: list[tuple[TaskResult, TaskResult]], name_a: str, name_b: str) -> Comparison:
    """One verdict row per (A's result, B's result) task: both means, A − B with its CI, the test, raw and
    Holm-adjusted p; a task that cannot be compared (other config, no shared documents) says why."""
    pairs: list[TaskComparison] = []
    rows: list[dict[str, Any]] = []
    for result_a, result_b in results:
        try:
            mismatch = config_mismatch(result_a.task, result_b, result_a)
            if mismatch is not None:
                raise mismatch
            compared = compare_task(result_b, result_a, MetricPolicy(), PairedSettings())
        except HarnessError as exc:
            rows.append({"task": result_a.task, "test": "not compared", "verdict": exc.message})
            continue
        t = compared.test
        pairs.append(compared)
        rows.append({"task": compared.task, "metric": compared.choice.metric, "n paired": t.n,
                     "A": t.candidate_mean, "B": t.baseline_mean, "A − B": t.effect, "CI low": t.ci_low,
                     "CI high": t.ci_high, "test": t.method, "p": t.p_value})
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    tested = frame["p"].notna().to_numpy()
    adjusted = holm([p.test.p_value for p in pairs])
    frame["p (Holm)"] = np.nan
    frame["verdict"] = frame["verdict"].astype(object)
    frame.loc[tested, "p (Holm)"] = adjusted
    frame.loc[tested, "verdict"] = [_verdict(c, p, name_a, name_b) for c, p in zip(pairs, adjusted)]
    return Comparison(pairs, frame)


def template_mismatch(runs: pd.DataFrame, runs_a: dict[str, str], runs_b: dict[str, str], name_a: str,
                      name_b: str) -> str | None:
    """The warning when A's and B's compared runs prompted them through different chat templates, as the gate
    notes it; None when the templates agree (or no runs are compared)."""
    def templates(chosen: dict[str, str]) -> list[str]:
        used = runs.loc[runs["id"].isin(list(chosen.values())), "chat_template"]
        return sorted({"none" if pd.isna(t) else str(t) for t in used})

    a, b = templates(runs_a), templates(runs_b)
    if not a or not b or a == b:
        return None
    return (f"Prompts differ: {name_a} was prompted with chat template {', '.join(a)}, {name_b} with "
            f"{', '.join(b)}; a score difference mixes the model with the prompt format.")


def disagreements(compared: TaskComparison, name_a: str, name_b: str) -> pd.DataFrame:
    """The paired documents where A's and B's metric values differ, with both predictions."""
    metric = compared.alignment.metric
    rows = [{"task": b.task, "doc_id": a.doc_id, "prompt": a.prompt, "target": a.target, name_a: a.prediction,
             f"{metric} A": a.metrics[metric], name_b: b.prediction, f"{metric} B": b.metrics[metric]}
            for a, b in zip(compared.alignment.candidate, compared.alignment.baseline)
            if a.metrics[metric] != b.metrics[metric]]
    return pd.DataFrame(rows, columns=["task", "doc_id", "prompt", "target", name_a, f"{metric} A", name_b,
                                       f"{metric} B"])


def head_to_head(counts: pd.DataFrame, name_a: str, name_b: str) -> dict[str, Any] | None:
    """Battles between A and B: wins, losses, ties and the sign test's p-value (None when they never met)."""
    ab = counts[(counts["model_a"] == name_a) & (counts["model_b"] == name_b)]
    ba = counts[(counts["model_a"] == name_b) & (counts["model_b"] == name_a)]
    wins = int(ab.loc[ab["winner"] == "model_a", "n"].sum() + ba.loc[ba["winner"] == "model_b", "n"].sum())
    losses = int(ab.loc[ab["winner"] == "model_b", "n"].sum() + ba.loc[ba["winner"] == "model_a", "n"].sum())
    total = int(ab["n"].sum() + ba["n"].sum())
    if total == 0:
        return None
    test = sign_test(wins, losses, total - wins - losses, ALPHA)
    return {"wins": wins, "losses": losses, "ties": total - wins - losses, "win_rate": test.candidate_mean,
            "p": test.p_value}


def judged_winner(row: pd.Series) -> str:
    """The model a pairwise verdict favours: `answer_order` 'ba' means model_b's answer was shown first."""
    verdict = str(row["verdict"] or "")
    if row["status"] != "ok" or not verdict:
        return f"error: {row['error'] or 'no verdict'}"
    stored = row.get("winner")
    if isinstance(stored, str) and stored:
        return stored
    if verdict.lower().startswith("tie"):
        return "tie"
    first, second = (row["model_b"], row["model_a"]) if row["answer_order"] == "ba" else (row["model_a"],
                                                                                          row["model_b"])
    return str(first if verdict.upper() == "A" else second)


def answer_turns(generations: pd.DataFrame, model: str, question_set: str, question_id: str) -> list[str]:
    """One model's answer turns to one question ([] when it has none)."""
    hit = generations[(generations["model"] == model) & (generations["question_set"] == question_set)
                      & (generations["question_id"] == question_id)]
    if hit.empty:
        return []
    turns = hit.iloc[-1]["turns"]
    return [str(t) for t in turns] if isinstance(turns, list) else [str(turns)]
