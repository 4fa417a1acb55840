"""`harness.gate.paired`: the one alignment and paired test, and the proof that the gate and the leaderboard's
Compare page give the same numbers on the same two runs (duplicated and missing documents, a group)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from harness.errors import HarnessError
from harness.gate.checks import GateConfig
from harness.gate.decide import run_gate
from harness.gate.paired import (
    MetricPolicy,
    PairedSettings,
    align,
    compare_task,
    config_mismatch,
    paired_test,
)
from harness.records import ModelRecord, RunTask, SampleRecord, Score, TaskResult
from harness.store import open_store
from harness.store.runs import create_run, finish_run, upsert_model, write_task_result

APP = str(Path(__file__).resolve().parent.parent / "leaderboard_app" / "app.py")


def sample(task: str, doc_id: int, value: float | None, doc_hash: str | None, metric: str = "acc") -> SampleRecord:
    metrics = {} if value is None else {metric: value}
    return SampleRecord(task=task, doc_id=doc_id, filter="none", doc_hash=doc_hash, prompt_hash=None,
                        target_hash=None, prompt=f"Q{doc_hash}", target="1", prediction=f"P{value}", metrics=metrics)


def result(task: str, samples: list[SampleRecord], metric: str = "acc", members: list[str] | None = None,
           task_hash: str = "h") -> TaskResult:
    tasks = sorted({s.task for s in samples})
    scores = [Score(task=t, metric=metric, filter="none", value=0.5, stderr=None, n=None, higher_is_better=True)
              for t in tasks]
    return TaskResult(task=task, task_hash=task_hash, eval_key=f"k-{task}", num_fewshot=0, scores=scores,
                      samples=samples, members=members or [])


# --- the alignment ------------------------------------------------------------------------------------------

def test_align_pairs_only_shared_documents() -> None:
    """No hashes: pairs on doc_id; with hashes: a document whose text changed pairs with nothing."""
    rows_a = [sample("t", 0, 1.0, None), sample("t", 1, 0.0, None), sample("t", 2, 1.0, None),
              sample("t", 3, None, None)]
    rows_b = [sample("t", 1, 1.0, None), sample("t", 2, 1.0, None), sample("t", 3, 0.0, None),
              sample("t", 4, 1.0, None)]
    pair = align(rows_b, rows_a, "acc", "none")
    assert list(pair.values()[1]) == [0.0, 1.0] and list(pair.values()[0]) == [1.0, 1.0]  # 3 lacks acc in A
    assert pair.notes[0] == "acc: some records lack lm-eval's doc hash; paired on doc_id instead"
    hashed_a = [replace(s, doc_hash=h) for s, h in zip(rows_a, ["h0", "h1", "h2", "h3"])]
    hashed_b = [replace(s, doc_hash=h) for s, h in zip(rows_b, ["h1", "CHANGED", "h3", "h4"])]
    assert list(align(hashed_b, hashed_a, "acc", "none").values()[1]) == [0.0]  # doc 2's text differs


def test_align_follows_the_doc_hash_and_pairs_duplicates_copy_by_copy() -> None:
    """The candidate lost document d1, so every later doc_id moved down one; d3 is held twice on both sides."""
    base = [sample("t", i, v, h) for i, (h, v) in enumerate([("d0", 1.0), ("d1", 1.0), ("d2", 0.0), ("d3", 1.0),
                                                              ("d3", 0.0)])]
    cand = [sample("t", i, v, h) for i, (h, v) in enumerate([("d0", 1.0), ("d2", 1.0), ("d3", 0.0), ("d3", 0.0)])]
    pair = align(base, cand, "acc", "none")
    assert [(k.doc, k.copy) for k in pair.keys] == [("d0", 0), ("d2", 0), ("d3", 0), ("d3", 1)]
    assert [s.doc_id for s in pair.baseline] == [0, 2, 3, 4] and [s.doc_id for s in pair.candidate] == [0, 1, 2, 3]
    base_values, cand_values = pair.values()
    assert list(base_values) == [1.0, 0.0, 1.0, 0.0] and list(cand_values) == [1.0, 1.0, 0.0, 0.0]
    assert pair.notes == ["compared on the 4 documents both runs have (baseline 5, candidate 4)"]


def test_align_keeps_a_groups_subtasks_apart_and_drops_non_finite_values() -> None:
    """Subtasks reuse doc_ids and may reuse hashes: the (sub)task is part of the key."""
    base = [sample("g_x", 0, 1.0, "same"), sample("g_y", 0, 2.0, "same"), sample("g_y", 1, 3.0, "other")]
    cand = [sample("g_y", 0, 5.0, "same"), sample("g_x", 0, 4.0, "same"), sample("g_y", 1, float("inf"), "other")]
    pair = align(base, cand, "acc", "none")
    assert [k.task for k in pair.keys] == ["g_x", "g_y"]
    assert [list(v) for v in pair.values()] == [[1.0, 2.0], [4.0, 5.0]]
    assert pair.notes == ["left out 1 document(s) whose acc is NaN or infinite"]


def test_paired_test_and_compare_task() -> None:
    base, cand = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0, 0.0])
    assert paired_test(base, cand, PairedSettings()).method == "mcnemar-exact"
    continuous = paired_test(base + 0.5, cand, PairedSettings())
    assert continuous.method == "paired-bootstrap" and continuous.effect == pytest.approx(-0.75)
    assert paired_test(base + 0.5, cand, PairedSettings(continuous_test="t")).method == "paired-t"
    left = result("t", [sample("t", 0, 1.0, "a")])
    with pytest.raises(HarnessError, match="share no documents with metric acc"):
        compare_task(left, result("t", [sample("t", 0, 1.0, "b")]), MetricPolicy(), PairedSettings())


def test_config_mismatch() -> None:
    same = RunTask(task="t", task_hash="h1", num_fewshot=0, n_samples=3)
    assert config_mismatch("t", same, same) is None
    other_hash = config_mismatch("t", same, RunTask(task="t", task_hash="h2", num_fewshot=0, n_samples=3))
    assert other_hash is not None and "ran with different configs" in other_hash.message
    shots = config_mismatch("t", same, RunTask(task="t", task_hash="h1", num_fewshot=5, n_samples=3))
    assert shots is not None and shots.message == "task t ran 0-shot in the baseline and 5-shot in the candidate"


# --- the gate and the Compare page agree --------------------------------------------------------------------

N = 120


def two_models() -> tuple[str, str]:
    """A (candidate) and B (baseline): a 0/1 task with a duplicated and a missing document, a continuous task
    and a group of two subtasks; no battles, so the gate's Holm family is the page's three tasks."""
    rng = np.random.default_rng(7)
    b_acc = (rng.random(N) < 0.7).astype(float)
    a_acc = np.where(rng.random(N) < 0.15, 1 - b_acc, b_acc)
    hashes = [f"p{i}" for i in range(N)]
    hashes[11] = hashes[10]  # one document held twice by the dataset
    a_kept = [i for i in range(N) if i != 40]  # A's data lost document 40: its later doc_ids moved down one
    b_cont = rng.uniform(0, 1, N)
    a_cont = np.clip(b_cont - 0.04 + rng.normal(0, 0.1, N), 0, 1)
    b_grp, a_grp = (rng.random(2 * N) < 0.6).astype(float), (rng.random(2 * N) < 0.5).astype(float)

    def group(values: np.ndarray) -> TaskResult:
        parts = [sample(sub, i, float(values[k * N + i]), f"{sub}{i}") for k, sub in enumerate(("grp_x", "grp_y"))
                 for i in range(N)]
        return result("grp", parts, members=["grp", "grp_x", "grp_y"])

    runs = {}
    for name, acc, kept, cont, grp in (("model-b", b_acc, range(N), b_cont, b_grp),
                                       ("model-a", a_acc, a_kept, a_cont, a_grp)):
        plain = result("plain", [sample("plain", j, float(acc[i]), hashes[i]) for j, i in enumerate(kept)])
        cont_task = result("cont", [sample("cont", i, float(cont[i]), f"c{i}", "score") for i in range(N)], "score")
        runs[name] = write_run(name, [plain, cont_task, group(grp)])
    return runs["model-a"], runs["model-b"]


def write_run(model: str, results: list[TaskResult]) -> str:
    store = open_store()
    model_id = upsert_model(store, ModelRecord(name=model, source=model, fingerprint=f"sha256:{model}"))
    run_id = create_run(store, model_id, {"suite": None, "tasks": [{"task": r.task} for r in results],
                                          "config": {}, "config_hash": "c", "backend": "hf", "versions": {}})
    for r in results:
        write_task_result(store, run_id, r)
    finish_run(store, run_id, "finished")
    return run_id


def test_compare_page_shows_the_gates_effect_ci_and_p_values() -> None:
    run_a, run_b = two_models()
    report = run_gate(GateConfig(candidate=run_a, baseline=run_b))
    gate = {c.name: c for c in report.checks}
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/compare.py").run()
    at.selectbox(key="cmp_a").select("model-a").run()
    at.selectbox(key="cmp_b").select("model-b").run()
    assert not at.exception, [e.value for e in at.exception]
    page = at.dataframe[0].value.set_index("task")
    assert sorted(page.index) == sorted(gate) == ["cont", "grp", "plain"]
    for task, check in gate.items():
        row, t = page.loc[task], check.test
        assert (row["test"], row["n paired"], row["metric"]) == (t.method, t.n, check.metric)
        assert row["A"] == t.candidate_mean and row["B"] == t.baseline_mean and row["A − B"] == t.effect
        assert (row["CI low"], row["CI high"]) == (t.ci_low, t.ci_high)
        assert row["p"] == t.p_value and row["p (Holm)"] == check.p_holm
    assert gate["plain"].test.n == N - 1  # both copies of the duplicated document, all but the missing one
    assert gate["grp"].test.n == 2 * N and gate["cont"].test.method == "paired-bootstrap"
    assert any("compared on the 119 documents both runs have (baseline 120, candidate 119)" in n
               for n in report.notes)
