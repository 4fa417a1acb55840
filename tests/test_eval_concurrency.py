"""`harness eval` as separate processes on one store: two at once compute each task once, a `kill -9` leaves no
run `running` and the re-run resumes, and a broken checkpoint is refused before any row is written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness.errors import HarnessError
from harness.store import open_store
from harness.store.runs import count_rows, list_runs

ROOT = Path(__file__).resolve().parent.parent


def _eval(model: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "harness", "eval", "--model", str(model), "--suite", "smoke", "--json",
               "--store", url, *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HARNESS_LEASE_TTL": "30"})


def _computed(url: str) -> dict[str, int]:
    """eval key -> how many task results were computed (not copied) under it."""
    with open_store(url).engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT eval_key, count(*) FROM task_results WHERE copied_from IS NULL "
                                    "GROUP BY eval_key")).all()
    return {key: n for key, n in rows}


def test_two_evals_of_one_new_model_compute_each_task_once(tiny_model_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [_eval(tiny_model_dir, url, "--limit", "40") for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-1500:] for _, err in outputs]
    docs = [json.loads(out) for out, _ in outputs]
    assert {d["model"]["fingerprint"] for d in docs} == {docs[0]["model"]["fingerprint"]}
    assert list(_computed(url).values()) == [1, 1]  # two tasks, each computed by exactly one process
    scores = [sorted((s["task"], s["metric"], s["value"]) for s in d["scores"]) for d in docs]
    assert scores[0] == scores[1]
    store = open_store(url)
    assert count_rows(store)["models"] == 1 and {r["status"] for r in list_runs(store)} == {"finished"}


def _committed_tasks(url: str) -> int:
    """Task results in the store; 0 while the file exists but its migrations are not yet committed."""
    try:
        return count_rows(open_store(url, create=False)).get("task_results", 0)
    except HarnessError:  # "store ... is empty": created, not yet migrated
        return 0


def test_an_eval_killed_mid_run_is_interrupted_and_the_rerun_resumes(tiny_model_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    proc = _eval(tiny_model_dir, url, "--limit", "200")
    deadline = time.time() + 300
    while time.time() < deadline:  # kill -9 once the first task is committed
        if (tmp_path / "killed.db").exists() and _committed_tasks(url):
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    runs = list_runs(open_store(url))
    assert [r["status"] for r in runs] == ["interrupted"], runs
    rerun = _eval(tiny_model_dir, url, "--limit", "200")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-1500:]
    assert len(json.loads(out)["cached_tasks"]) == 1  # the task finished before the kill is not redone
    assert list(_computed(url).values()) == [1, 1]
    assert {r["status"] for r in list_runs(open_store(url))} == {"interrupted", "finished"}


def _mismatched(tmp_path: Path, tiny_model_dir: Path, how: str) -> Path:
    bad = tmp_path / how
    shutil.copytree(tiny_model_dir, bad)
    if how == "corrupt_tokenizer":
        (bad / "tokenizer.json").write_text((bad / "tokenizer.json").read_text()[:500])
    else:  # a config whose shapes do not match the weights
        config = json.loads((bad / "config.json").read_text())
        config["hidden_size"] *= 2
        (bad / "config.json").write_text(json.dumps(config))
    return bad


@pytest.mark.parametrize("how, message", [("corrupt_tokenizer", "tokenizer.json does not load"),
                                          ("shapes", "implies")])
def test_broken_checkpoint_is_refused_before_any_row(tiny_model_dir: Path, tmp_path: Path, how: str,
                                                     message: str) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    model = _mismatched(tmp_path, tiny_model_dir, how)
    store_file = tmp_path / "untouched.db"
    result = CliRunner().invoke(app, ["eval", "--model", str(model), "--suite", "smoke", "--store", str(store_file)])
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not store_file.exists()
    existing = tmp_path / "existing.db"
    open_store(str(existing))
    before = count_rows(open_store(str(existing)))
    again = CliRunner().invoke(app, ["eval", "--model", str(model), "--suite", "smoke", "--store", str(existing)])
    assert again.exit_code == 2 and count_rows(open_store(str(existing))) == before


def test_dtype_is_part_of_the_cache_key(tiny_model_dir: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", "4", "--json",
                                "--dtype", "float32"])
    second = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", "4",
                                 "--json", "--dtype", "bfloat16"])
    again = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", "4",
                                "--json", "--dtype", "bfloat16"])
    assert first.exit_code == second.exit_code == again.exit_code == 0, second.stderr
    assert json.loads(first.stdout)["cached"] is False
    assert json.loads(second.stdout)["cached"] is False  # not served the float32 result
    assert json.loads(again.stdout)["cached"] is True
