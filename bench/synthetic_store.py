"""A deterministic synthetic results store for the leaderboard's screenshots and load benchmark.

Models get a latent skill; task scores, per-sample outcomes (shared document difficulty, so paired tests
have something to find) and battles (Bradley-Terry outcomes with ties) all follow from it. Rows go in
with bulk inserts, so 500 models × 60 tasks × 200k battles × 100k samples build in well under a minute.
`python bench/synthetic_store.py OUT.db [--models N ...]` writes one.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from harness.store import Store, open_store
from harness.store.schema import (
    battles,
    generations,
    judgments,
    models,
    ratings,
    runs,
    samples,
    scores,
    task_results,
)

BASES = (("tiny-llama-h128", 960_000), ("tiny-llama-h64", 310_000), ("tiny-llama-h256", 3_400_000))
RECIPES = ("alpaca", "vicuna")
CATEGORIES = ("math", "writing", "reasoning", "coding")
EPOCH = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Spec:
    """How big a store to build."""

    models: int = 12
    tasks: int = 6
    battles: int = 3000
    samples: int = 8000
    docs_per_task: int = 200
    questions: int = 6
    seed: int = 0
    rate: bool = True  # fit and store ratings with harness.arena.ratings when it is importable
    bootstrap: int = 200


def _model_rows(spec: Spec, rng: np.random.Generator) -> tuple[list[dict[str, Any]], np.ndarray]:
    rows, skills = [], []
    for i in range(spec.models):
        base, size = BASES[i % len(BASES)] if i >= len(BASES) else BASES[i]
        if i < len(BASES):
            name, kind, recipe, skill = base, "base", None, -1.5 + 0.2 * i
        else:
            recipe = RECIPES[i % 2]
            kind = "lora" if i % 3 == 0 else "full"
            steps = 200 * (1 + i % 10)
            name = f"{recipe}-{kind}-{steps}-{i:03d}"
            skill = -1.0 + 0.25 * np.log1p(steps / 100) + (0.4 if kind == "full" else 0.0) + rng.normal(0, 0.35)
        card = {} if kind == "base" else {
            "recipe": recipe, "data": f"{recipe}_arith_synthetic", "hyperparameters": {
                "steps": 200 * (1 + i % 10), "lr": 3e-3, "batch_size": 64, "lora_r": 16 if kind == "lora" else None}}
        rows.append({"id": i + 1, "name": name, "source": f"checkpoints/{name}", "fingerprint": f"sha256:{i:064x}",
                     "kind": kind, "base_model": None if kind == "base" else base, "recipe": recipe,
                     "n_params": size, "card": card, "created_at": EPOCH + dt.timedelta(hours=6 * i)})
        skills.append(skill)
    return rows, np.array(skills)


def _task_names(n: int) -> list[str]:
    named = ["arith_mc", "arith_gen", "arc_easy", "hellaswag", "mmlu", "truthfulqa_mc2", "gsm8k", "winogrande"]
    return named[:n] + [f"task_{k:02d}" for k in range(len(named), n)]


def _run_rows(model_rows: list[dict[str, Any]], tasks: list[str]) -> list[dict[str, Any]]:
    rows = []
    for m in model_rows:
        started = m["created_at"] + dt.timedelta(days=3)
        rows.append({"id": f"r-{m['id']:06d}", "model_id": m["id"], "suite": "synthetic",
                     "tasks": [{"task": t, "num_fewshot": None} for t in tasks], "config": {"limit": None},
                     "config_hash": "sha256:0", "backend": "hf", "chat_template": m["recipe"],
                     "versions": {"harness": "0.1.0", "lm_eval": "0.4.13"}, "git_revision": "abc1234",
                     "started_at": started, "finished_at": started + dt.timedelta(seconds=40 + m["id"] % 50),
                     "status": "finished", "error": None})
    for m in model_rows:  # earlier runs of every model (before an lm-eval upgrade): scores over time
        for back in (1, 2):
            started = m["created_at"] + dt.timedelta(days=3 - back)
            rows.append({**rows[m["id"] - 1], "id": f"r-{m['id']:06d}-{back}", "started_at": started,
                         "finished_at": started + dt.timedelta(seconds=45),
                         "versions": {"harness": "0.1.0", "lm_eval": f"0.4.{13 - back}"}})
    first = model_rows[0]
    rows.append({**rows[0], "id": "r-failed", "started_at": EPOCH + dt.timedelta(days=20), "status": "failed",
                 "finished_at": EPOCH + dt.timedelta(days=20, seconds=3), "model_id": first["id"],
                 "error": "RunFailed: lm-eval returned no results for arith_gen\n(traceback elided)"})
    return rows


def _task_scores(spec: Spec, skills: np.ndarray, tasks: list[str], rng: np.random.Generator) -> dict[str, Any]:
    """Per-doc correctness for (model, task) pairs that get samples, and a score row for every pair."""
    difficulty = rng.normal(0, 0.6, len(tasks))
    doc_hardness = rng.normal(0, 1.2, (len(tasks), spec.docs_per_task))
    budget = spec.samples // spec.docs_per_task
    task_rows, score_rows, sample_rows = [], [], []
    place = np.argsort(np.argsort(-skills))  # the best models get per-sample records first
    for m, skill in enumerate(skills):
        run_id = f"r-{m + 1:06d}"
        for t, task in enumerate(tasks):
            metric = "exact_match" if task.endswith("gen") or task == "gsm8k" else "acc"
            p_docs = 1 / (1 + np.exp(-(skill - difficulty[t] - doc_hardness[t])))
            correct = (rng.random(spec.docs_per_task) < p_docs).astype(float)
            value = float(correct.mean())
            stderr = float(np.sqrt(max(value * (1 - value), 1e-4) / spec.docs_per_task))
            with_samples = place[m] * len(tasks) + t < budget
            task_rows.append({"run_id": run_id, "task": task, "task_hash": "sha256:t", "eval_key": f"{run_id}:{task}",
                              "num_fewshot": 0, "n_samples": spec.docs_per_task if with_samples else 0})
            score_rows.append({"run_id": run_id, "task": task, "metric": metric, "filter": "none", "value": value,
                               "stderr": stderr, "n": spec.docs_per_task, "higher_is_better": True})
            for back in (1, 2):  # the earlier runs: fresh draws of the same documents
                earlier = float((rng.random(spec.docs_per_task) < p_docs).mean())
                score_rows.append({**score_rows[-1], "run_id": f"{run_id}-{back}", "value": earlier})
                task_rows.append({**task_rows[-1], "run_id": f"{run_id}-{back}", "n_samples": 0,
                                  "eval_key": f"{run_id}-{back}:{task}"})
            if with_samples:
                sample_rows += _samples(run_id, task, metric, correct)
    return {"task_results": task_rows, "scores": score_rows, "samples": sample_rows}


def _samples(run_id: str, task: str, metric: str, correct: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for doc, ok in enumerate(correct):
        a, b = (doc * 7) % 90 + 10, (doc * 13) % 90 + 10
        rows.append({"run_id": run_id, "task": task, "doc_id": doc, "filter": "none", "doc_hash": f"d{task}{doc}",
                     "prompt_hash": None, "target_hash": None, "prompt": f"What is {a}+{b}?",
                     "target": str(a + b), "prediction": str(a + b if ok else a + b + 1 + doc % 3),
                     "metrics": {metric: float(ok)}})
    return rows


def _battle_rows(spec: Spec, names: list[str], skills: np.ndarray, rng: np.random.Generator) -> list[dict[str, Any]]:
    a = rng.integers(0, len(names), spec.battles)
    b = (a + rng.integers(1, len(names), spec.battles)) % len(names)
    p_a = 1 / (1 + 10 ** ((skills[b] - skills[a]) * 200 / 400))
    u = rng.random(spec.battles)
    winner = np.where(u < 0.1, "tie", np.where(rng.random(spec.battles) < p_a, "model_a", "model_b"))
    category = rng.integers(0, len(CATEGORIES), spec.battles)
    return [{"source": "judge:synthetic", "model_a": names[i], "model_b": names[j], "winner": str(w),
             "category": CATEGORIES[c], "judge": "synthetic-judge", "question_set": "synthetic",
             "question_id": f"q{k % 50}", "turn": 1, "extra": {}}
            for k, (i, j, w, c) in enumerate(zip(a, b, winner, category))]


def _judged_rows(spec: Spec, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    gens, verdicts = [], []
    for q in range(spec.questions):
        question = f"q{q}"
        for rank, name in enumerate(names[:3]):
            answer = f"{name} answers question {q}: " + ("the sum is 42, because 20 + 22 = 42." if rank else
                                                         "I think it is 41.")
            gens.append({"gen_key": f"{name}:{question}", "model": name, "model_fingerprint": "sha256:x",
                         "question_set": "synthetic", "question_id": question, "turns": [answer], "config": {}})
        for order in ("ab", "ba"):
            verdict = "B" if order == "ab" else "A"  # names[1] wins in both orders
            verdicts.append({"cache_key": f"{question}:{order}", "judge": "synthetic-judge", "prompt_name": "pair",
                             "prompt_hash": "sha256:p", "mode": "pairwise", "question_set": "synthetic",
                             "question_id": question, "turn": 1, "model_a": names[0], "model_b": names[1],
                             "answer_order": order, "status": "ok", "verdict": verdict,
                             "raw_output": f"Assistant {verdict} shows the arithmetic correctly. [[{verdict}]]"})
    return {"generations": gens, "judgments": verdicts}


def _ratings_rows(store: Store, spec: Spec) -> list[dict[str, Any]]:
    try:
        from harness.arena.ratings import ArenaConfig, compute_ratings
    except ImportError:
        return []
    from harness.store.battles import read_battles

    report = compute_ratings(read_battles(store), ArenaConfig.model_validate({"bootstrap": spec.bootstrap, "seed": spec.seed}))
    rows = []
    for r in report.rows:
        rows.append({"battle_set": report.battle_set, "method": "bt", "model": r.model, "rating": r.bt,
                     "ci_low": r.ci_low, "ci_high": r.ci_high, "rank_low": r.rank_low, "rank_high": r.rank_high,
                     "n_battles": r.battles, "params": {}})
        rows.append({"battle_set": report.battle_set, "method": "elo", "model": r.model, "rating": r.elo,
                     "ci_low": None, "ci_high": None, "rank_low": None, "rank_high": None,
                     "n_battles": r.battles, "params": {}})
    return rows


def build(url: str, spec: Spec) -> Store:
    """Create and fill a store at `url` following `spec`; returns it opened read-write."""
    store = open_store(url)
    rng = np.random.default_rng(spec.seed)
    model_rows, skills = _model_rows(spec, rng)
    tasks = _task_names(spec.tasks)
    names = [m["name"] for m in model_rows]
    parts = _task_scores(spec, skills, tasks, rng)
    order = list(np.argsort(-skills))
    with store.engine.begin() as conn:
        conn.execute(sa.insert(models), model_rows)
        conn.execute(sa.insert(runs), _run_rows(model_rows, tasks))
        for table in (task_results, scores, samples):
            if parts[table.name]:
                conn.execute(sa.insert(table), parts[table.name])
        if spec.battles:
            conn.execute(sa.insert(battles), _battle_rows(spec, names, skills, rng))
        if spec.questions and len(names) >= 3:
            judged = _judged_rows(spec, [names[k] for k in order])
            conn.execute(sa.insert(generations), judged["generations"])
            conn.execute(sa.insert(judgments), judged["judgments"])
    if spec.rate and spec.battles:
        rows = _ratings_rows(store, spec)
        if rows:
            with store.engine.begin() as conn:
                conn.execute(sa.insert(ratings), rows)
    return store


def main() -> None:
    """Command line: write a synthetic store."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    for field, default in vars(Spec()).items():
        if not isinstance(default, bool):
            parser.add_argument(f"--{field.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args()
    spec = Spec(**{k: v for k, v in vars(args).items() if k != "out"})
    build(args.out, spec)


if __name__ == "__main__":
    main()
