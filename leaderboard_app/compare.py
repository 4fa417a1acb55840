"""The Compare page's arithmetic: per-task paired tests of two models and the judge's verdicts per question.

Tests come from `harness.gate.stats` (the gate's statistics): exact McNemar for 0/1 metrics, a paired
bootstrap otherwise, Holm-corrected across tasks. Effects are A − B, so a positive effect favours A.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

ALPHA = 0.05
N_BOOT = 2000
COMPARE_COLUMNS = ["task", "metric", "n paired", "A", "B", "A − B", "CI low", "CI high", "test", "p", "p (Holm)",
                   "verdict"]


class Comparison(NamedTuple):
    """Two models' aligned per-task values and the verdict table computed from them."""

    pairs: list[PairedTask]
    verdicts: pd.DataFrame


class PairedTask(NamedTuple):
    """Both models' per-document values of one task's metric, aligned on the same documents."""

    task: str
    metric: str
    higher_is_better: bool
    a: np.ndarray
    b: np.ndarray


def metric_values(rows: pd.DataFrame, metric: str) -> pd.Series:
    """One metric out of the samples' `metrics` dicts, keyed by document (doc_id, filter)."""
    values = [m.get(metric) if isinstance(m, dict) else None for m in rows["metrics"]]
    index = pd.MultiIndex.from_arrays([rows["doc_id"].to_numpy(), rows["filter"].to_numpy()])
    return pd.Series(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(), index=index)


def _same_documents(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop documents whose content hash differs between the two runs (another dataset version or split)."""
    if "doc_hash" not in rows_a or "doc_hash" not in rows_b:
        return rows_a, rows_b
    key = ["doc_id", "filter"]
    hashes = rows_a[[*key, "doc_hash"]].merge(rows_b[[*key, "doc_hash"]], on=key, suffixes=("_a", "_b"))
    clash = hashes[hashes["doc_hash_a"].notna() & hashes["doc_hash_b"].notna()
                   & (hashes["doc_hash_a"] != hashes["doc_hash_b"])]
    if clash.empty:
        return rows_a, rows_b
    bad = set(zip(clash["doc_id"], clash["filter"]))
    keep_a = [k not in bad for k in zip(rows_a["doc_id"], rows_a["filter"])]
    keep_b = [k not in bad for k in zip(rows_b["doc_id"], rows_b["filter"])]
    return rows_a[keep_a], rows_b[keep_b]


def align(task: str, metric: str, higher: bool, rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> PairedTask:
    """Pair the two models' values on the documents both have, with the same content hash (NaNs dropped)."""
    rows_a, rows_b = _same_documents(rows_a, rows_b)
    a = metric_values(rows_a, metric)
    b = metric_values(rows_b, metric)
    a = a[~a.index.duplicated(keep="last")]
    b = b[~b.index.duplicated(keep="last")]
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    return PairedTask(task, metric, higher, joined["a"].to_numpy(float), joined["b"].to_numpy(float))


def _verdict(effect: float, p_holm: float, higher: bool, name_a: str, name_b: str) -> str:
    if np.isnan(p_holm) or p_holm >= ALPHA:
        return "no real difference"
    a_better = effect > 0 if higher else effect < 0
    return f"{name_a} better" if a_better else f"{name_b} better"


def paired_verdicts(pairs: list[PairedTask], name_a: str, name_b: str) -> pd.DataFrame:
    """One row per task: both means, A − B with its 95% CI, the test, raw and Holm-adjusted p, the verdict."""
    from harness.gate.stats import holm, is_binary, mcnemar_exact, paired_bootstrap

    rows: list[dict[str, Any]] = []
    for pair in pairs:
        row: dict[str, Any] = {"task": pair.task, "metric": pair.metric, "n paired": len(pair.a)}
        if len(pair.a) == 0:
            rows.append({**row, "test": "no shared documents", "p": np.nan})
            continue
        # harness.gate.stats reports candidate − baseline: B as baseline gives A − B.
        if is_binary(pair.a, pair.b):
            test = mcnemar_exact(pair.b, pair.a, ALPHA)
        else:
            test = paired_bootstrap(pair.b, pair.a, ALPHA, n_boot=N_BOOT)
        rows.append({**row, "A": test.candidate_mean, "B": test.baseline_mean, "A − B": test.effect,
                     "CI low": test.ci_low, "CI high": test.ci_high, "test": test.method, "p": test.p_value})
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS[:-2])
    tested = frame["p"].notna()
    frame["p (Holm)"] = np.nan
    if tested.any():
        frame.loc[tested, "p (Holm)"] = holm(frame.loc[tested, "p"].astype(float).tolist())
    higher = {p.task: p.higher_is_better for p in pairs}
    frame["verdict"] = [
        _verdict(float(e) if pd.notna(e) else 0.0, float(p), higher[t], name_a, name_b)
        for t, e, p in zip(frame["task"], frame["A − B"], frame["p (Holm)"])
    ]
    return frame


def head_to_head(counts: pd.DataFrame, name_a: str, name_b: str) -> dict[str, Any] | None:
    """Battles between A and B: wins, losses, ties and the sign test's p-value (None when they never met)."""
    from harness.gate.stats import sign_test

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
