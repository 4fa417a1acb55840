"""Samples in lm-eval's format both ways: export read back by lm-eval's code, an `lm_eval` CLI folder imported with
equal scores, and rescoring from stored samples without the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.eval.suites import TASKS_DIR

runner = CliRunner()
LIMIT = "8"


def harness(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def by_key(scores: list[dict]) -> dict[tuple[str, str, str], float]:
    return {(s["task"], s["metric"], s["filter"]): s["value"] for s in scores}


@pytest.fixture(scope="module")
def lm_eval_folder(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `lm_eval run ... --log_samples --output_path OUT` writes for the tiny model on the smoke tasks."""
    out = tmp_path_factory.mktemp("lm_eval_out")
    subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args",
                    f"pretrained={tiny_model_dir}", "--tasks", "arith_mc", "arith_gen", "--include_path",
                    str(TASKS_DIR), "--device", "cpu", "--batch_size", "16", "--limit", LIMIT, "--log_samples",
                    "--output_path", str(out)], check=True, capture_output=True, env={**os.environ})
    return out


def test_export_is_read_back_by_lm_evals_own_code(tiny_model_dir: Path, tmp_path: Path) -> None:
    from datasets import load_dataset
    from lm_eval.utils import (
        get_file_task_name,
        get_latest_filename,
        get_results_filenames,
        get_sample_results_filenames,
    )

    run = harness("eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", LIMIT)
    exported = harness("runs", "export", run["run_id"], str(tmp_path / "out"), "--format", "lm-eval")
    files = [str(p) for p in (tmp_path / "out").rglob("*")]
    latest = get_latest_filename(get_results_filenames(files))
    assert latest == exported["results"]
    results = json.loads(Path(latest).read_text())
    for (task, metric, filt), value in by_key(run["scores"]).items():
        assert results["results"][task][f"{metric},{filt}"] == value
    assert set(results["task_hashes"]) == {"arith_mc", "arith_gen"}
    samples = {get_file_task_name(Path(f).name): f for f in get_sample_results_filenames(files)}
    assert set(samples) == {"arith_mc", "arith_gen"}
    mc = load_dataset("json", data_files=samples["arith_mc"], split="train")  # lm-eval sanitises for this reader
    assert len(mc) == int(LIMIT) and sorted(mc["doc_id"]) == list(range(int(LIMIT)))
    first = mc[0]
    assert len(first["resps"]) == 4 and first["arguments"]["gen_args_0"]["arg_0"].startswith("What is")
    assert sum(first["acc"] for first in mc) / len(mc) == results["results"]["arith_mc"]["acc,none"]


def test_rescore_recomputes_every_metric_from_stored_samples(tiny_model_dir: Path) -> None:
    run = harness("eval", "--model", str(tiny_model_dir), "--suite", "smoke", "--limit", LIMIT)
    rescored = harness("rescore", run["run_id"])["scores"]
    assert {(r["task"], r["metric"], r["filter"]) for r in rescored} == set(by_key(run["scores"]))
    assert all(r["equal"] and r["n"] == int(LIMIT) for r in rescored)


def test_lm_eval_cli_folder_is_imported_with_equal_scores(lm_eval_folder: Path, tiny_model_dir: Path) -> None:
    from lm_eval.utils import get_latest_filename, get_results_filenames

    files = [str(p) for p in lm_eval_folder.rglob("*.json")]
    written = json.loads(Path(get_latest_filename(get_results_filenames(files))).read_text())
    imported = harness("runs", "import", str(lm_eval_folder), "--model", str(tiny_model_dir), "--name", "tiny")
    assert imported["already_imported"] is False
    run = harness("runs", "show", imported["run_id"])
    assert run["status"] == "finished" and run["backend"] == "hf"
    ours = by_key(run["scores"])
    assert len(ours) == 3
    for (task, metric, filt), value in ours.items():
        assert value == written["results"][task][f"{metric},{filt}"]
    evaluated = harness("eval", "--model", str(tiny_model_dir), "--name", "tiny", "--suite", "smoke", "--limit", LIMIT)
    assert evaluated["model"]["fingerprint"] == imported["model"]["fingerprint"]  # the same model, by content
    assert by_key(evaluated["scores"]) == pytest.approx(ours, abs=1e-12)
    assert all(r["equal"] for r in harness("rescore", imported["run_id"])["scores"])
    again = harness("runs", "import", str(lm_eval_folder), "--model", str(tiny_model_dir), "--name", "tiny")
    assert again == {**imported, "already_imported": True}


def test_import_without_checkpoint_names_the_model_from_the_folder(lm_eval_folder: Path) -> None:
    imported = harness("runs", "import", str(lm_eval_folder))
    assert imported["model"]["name"].endswith("model")


def test_import_of_a_folder_without_results_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runs", "import", str(tmp_path)])
    assert result.exit_code == 2 and "no lm-eval results_*.json" in result.stderr
