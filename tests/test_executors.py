"""`harness eval` over several models on the local executor and on a real (session-wide, local) Ray cluster:
the same scores either way, a killed worker retried without duplicates, a re-run that submits nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.eval.config import EvalConfig
from harness.eval.executors import ClusterOptions, ScaleOutReport, run_locally, run_on_cluster

LIMIT = 20


@pytest.fixture(scope="module")
def tiny_models(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three different tiny models (the session's and two more seeds)."""
    from harness.eval.tiny import make_tiny_model

    root = tmp_path_factory.mktemp("models")
    more = [make_tiny_model(root / f"m{seed}", seed=seed, hidden=64, layers=2).path for seed in (1, 2)]
    return [str(tiny_model_dir), *map(str, more)]


def scores(report: ScaleOutReport) -> dict[tuple[str, str, str, str], float | None]:
    return {(u.model, s.task, s.metric, s.filter): s.value for u in report.units for s in u.scores}


def rows(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def test_ray_matches_local_and_a_rerun_submits_nothing(ray_cluster: None, tiny_models: list[str],
                                                       tmp_path: Path) -> None:
    from harness.eval.ray_executor import run_units

    config = EvalConfig(model=tiny_models[0], suite="smoke", limit=LIMIT)
    local = run_locally(config, tiny_models, f"sqlite:///{tmp_path / 'local.db'}")
    ray_url = f"sqlite:///{tmp_path / 'ray.db'}"
    on_ray = run_on_cluster(config, tiny_models, ClusterOptions(), ray_url, run_units)

    assert (on_ray.submitted, on_ray.count("done")) == (6, 6)
    assert len(scores(on_ray)) == 9 and scores(on_ray) == scores(local)  # 3 models x (acc, acc_norm, em)
    assert len({v for k, v in scores(on_ray).items() if k[2] == "acc"}) > 1  # the models really differ
    # one run per unit, each written by a Ray worker process, not by this driver
    assert rows(ray_url, "select count(*), count(distinct run_id) from task_results") == [(6, 6)]
    assert rows(ray_url, "select count(*) from leases") == [(0,)]

    again = run_on_cluster(config, tiny_models, ClusterOptions(), ray_url, run_units)
    assert (again.submitted, again.count("cached")) == (0, 6)
    assert scores(again) == scores(on_ray)
    assert rows(ray_url, "select count(*) from task_results") == [(6,)]

    # the group `arith` runs as its two subtasks: the same units, so all found in the store, plus one group row each
    group = run_on_cluster(config.model_copy(update={"suite": None, "tasks": ["arith"]}), tiny_models,
                           ClusterOptions(), ray_url, run_units)
    assert group.submitted == 0
    assert sorted((u.task, u.status) for u in group.units) == sorted(
        [("arith_mc", "cached"), ("arith_gen", "cached"), ("arith", "cached")] * 3)
    assert scores(group) == scores(on_ray)  # arith has no aggregate_metric_list: lm-eval reports none either


def _eval_lease_pid(url: str, deadline: float) -> int:
    """The pid of the Ray worker holding the unit's eval lease, once it has claimed it."""
    while time.monotonic() < deadline:
        try:
            found = rows(url, "select pid from leases where kind = 'eval'")
        except sa.exc.OperationalError:  # the store is still being created
            found = []
        if found:
            return int(found[0][0])
        time.sleep(0.05)
    raise AssertionError("no worker claimed the unit")


def test_a_worker_killed_mid_unit_is_retried_and_nothing_is_duplicated(ray_cluster: None, tiny_model_dir: Path,
                                                                       tmp_path: Path) -> None:
    from harness.eval.ray_executor import run_units

    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = EvalConfig(model=str(tiny_model_dir), tasks=["arith_mc"], limit=100)
    box: dict[str, ScaleOutReport] = {}
    driver = threading.Thread(target=lambda: box.update(
        report=run_on_cluster(config, [str(tiny_model_dir)], ClusterOptions(retries=2), url, run_units)))
    driver.start()
    victim = _eval_lease_pid(url, time.monotonic() + 240)
    assert victim != os.getpid()
    os.kill(victim, signal.SIGKILL)
    driver.join(timeout=300)

    report = box["report"]
    assert [u.status for u in report.units] == ["done"]
    assert rows(url, "select count(*) from task_results") == [(1,)]
    assert rows(url, "select count(*) from samples") == [(100,)]
    statuses = sorted(r[0] for r in rows(url, "select status from runs"))
    assert statuses == ["finished", "interrupted"]  # the killed attempt's run, then the retry's
    assert rows(url, "select count(*) from leases") == [(0,)]


def test_generate_over_models_on_ray_matches_local(ray_cluster: None, tiny_models: list[str], tmp_path: Path) -> None:
    from harness.eval.executors import generate_models
    from harness.eval.ray_executor import generate_on_ray
    from harness.generate import GenerateConfig

    config = GenerateConfig(model=tiny_models[0], questions="arith", max_new_tokens=4, chat_template="alpaca")
    answers = "select model, question_id, turns from generations order by model, question_id"
    local_url, ray_url = f"sqlite:///{tmp_path / 'local.db'}", f"sqlite:///{tmp_path / 'ray.db'}"
    generate_models(config, tiny_models[:2], ClusterOptions(), local_url)
    report = generate_models(config, tiny_models[:2], ClusterOptions(), ray_url, generate_on_ray)
    assert not report.errors and [o.generated for o in report.outcomes] == [16, 16]
    assert rows(ray_url, answers) == rows(local_url, answers) and len(rows(ray_url, answers)) == 32
    again = generate_models(config, tiny_models[:2], ClusterOptions(), ray_url, generate_on_ray)
    assert [(o.generated, o.cached) for o in again.outcomes] == [(0, 16), (0, 16)]


def test_a_split_group_is_aggregated_by_lm_eval() -> None:
    """A group's row comes from lm-eval's own `Group.aggregate` over its leaves' stored scores: here the
    size-weighted mean and pooled stderr lm-eval gives a group with `aggregate_metric_list: [{metric: acc}]`."""
    from lm_eval.config.group import AggMetricConfig

    from harness.eval.config import SuiteTask
    from harness.eval.executors import UnitOutcome, group_outcome, split_groups
    from harness.records import Score

    entries, [split] = split_groups([SuiteTask(task="arith", num_fewshot=3)])
    assert entries == [SuiteTask(task="arith_mc", num_fewshot=3), SuiteTask(task="arith_gen", num_fewshot=3)]
    split.group.aggregate_metric_list = [AggMetricConfig(metric="acc", weight_by_size=True)]
    leaves = [UnitOutcome("m", "arith_mc", "done", scores=[Score(task="arith_mc", metric="acc", filter="none",
                                                                 value=0.5, stderr=0.1, n=30)]),
              UnitOutcome("m", "arith_gen", "cached", scores=[Score(task="arith_gen", metric="acc", filter="none",
                                                                    value=0.8, stderr=0.05, n=10)])]
    row = group_outcome(split, "m", leaves)
    assert row.status == "done" and [(s.task, s.metric, s.n) for s in row.scores] == [("arith", "acc", 40)]
    assert row.scores[0].value == pytest.approx((0.5 * 30 + 0.8 * 10) / 40)
    # lm-eval 0.4.13's pooled_sample_stderr: sqrt(sum((n-1) se^2 n) / (N - k) / N) = sqrt(8.925 / 38 / 40)
    assert row.scores[0].stderr == pytest.approx(0.076627, abs=1e-6)
    failed = group_outcome(split, "m", [leaves[0], UnitOutcome("m", "arith_gen", "failed", error="boom")])
    assert (failed.status, failed.scores) == ("failed", [])
