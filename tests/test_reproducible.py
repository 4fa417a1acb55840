"""Reproducibility on one machine: the same command and seed give byte-identical weights and scores.

Two 20-step fine-tunes of the tiny model with one command (only --out differs), then one eval of each into its
own store (so both are computed, not served from the store): the weight files are equal byte for byte, and so
are the scores and every per-sample prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.store import open_store
from harness.store.runs import read_samples

runner = CliRunner()


def _finetune(base: Path, data: Path, out: Path) -> dict:
    args = ["finetune", "--recipe", "alpaca", "--base", str(base), "--data", str(data), "--out", str(out),
            "--max-steps", "20", "--lr", "3e-3", "--set", "per_device_batch_size=8", "--set", "global_batch_size=8",
            "--set", "warmup=0", "--set", "save_steps=1000", "--set", "seed=7", "--store", str(out.parent / "ft.db"),
            "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _eval(model: Path, store: Path) -> tuple[dict, list]:
    result = runner.invoke(app, ["eval", "--model", str(model), "--tasks", "arith_mc,arith_gen", "--limit", "20",
                                 "--chat-template", "alpaca", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["cached"] is False
    samples = [(s.task, s.doc_id, s.prediction, s.metrics) for task in ("arith_mc", "arith_gen")
               for s in read_samples(open_store(str(store)), doc["run_id"], task)]
    return doc, samples


def test_same_command_and_seed_give_byte_identical_weights_and_scores(tiny_model_dir: Path, tmp_path: Path) -> None:
    from fine_tune.synthetic import arith_alpaca_rows

    data = tmp_path / "arith_alpaca.json"
    data.write_text(json.dumps(arith_alpaca_rows()[:400]))
    first = _finetune(tiny_model_dir, data, tmp_path / "one" / "model")
    second = _finetune(tiny_model_dir, data, tmp_path / "two" / "model")
    assert not first["cached"] and not second["cached"]
    assert first["loss_curve"] == second["loss_curve"] and len(first["loss_curve"]) == 20
    weights = [(tmp_path / run / "model" / "model.safetensors").read_bytes() for run in ("one", "two")]
    assert weights[0] == weights[1]
    base = (tiny_model_dir / "model.safetensors").read_bytes()
    assert weights[0] != base  # it trained
    (doc_one, samples_one), (doc_two, samples_two) = (_eval(tmp_path / run / "model", tmp_path / run / "eval.db")
                                                      for run in ("one", "two"))
    assert doc_one["model"]["fingerprint"] == doc_two["model"]["fingerprint"]
    assert doc_one["scores"] == doc_two["scores"] and len(doc_one["scores"]) >= 2
    assert samples_one == samples_two and len(samples_one) == 40
