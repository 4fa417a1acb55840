"""The demo's numbers: reproducible on one machine, quoted in the READMEs from the demo's own output, and a
fine-tune that shows one progress bar of its own instead of Hugging Face's bars and INFO lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from fine_tune.demo_figures import FIGURES_FILE, gather, headline, headline_holds, score_rows, summarize
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
FAST = {"learning_rate": 3e-3, "global_batch_size": 8, "per_device_batch_size": 8, "warmup": 0, "max_steps": 12,
        "logging_steps": 4, "save_steps": 1000, "gradient_checkpointing": False}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _committed() -> dict[str, Any]:
    if not FIGURES_FILE.is_file():
        pytest.skip(f"no {FIGURES_FILE.name} yet: run `harness demo --seed S --out-dir D/S --store sqlite:///D/S/s.db` "
                    "for a few seeds, then `python -m fine_tune.demo_figures D/*/figures.json`")
    document: dict[str, Any] = json.loads(FIGURES_FILE.read_text())
    return document


def test_readmes_quote_the_committed_demo_figures() -> None:
    """README.md and fine_tune/README.md state what `fine_tune/demo_figures.json` (the demo's output) says."""
    document = _committed()
    assert document["summary"] == summarize(document["runs"])  # the summary was not edited by hand
    assert headline(document["summary"]) in _flat((ROOT / "README.md").read_text())
    fine_tune_readme = (ROOT / "fine_tune" / "README.md").read_text()
    for row in score_rows(document["summary"]):
        assert row in fine_tune_readme


def test_the_headline_holds_on_every_committed_seed() -> None:
    """Every seed's Alpaca variant beats its base on both held-out tasks, significantly (Holm-corrected p below
    0.01 on every seed, five times stricter than the gate's 0.05), on at least three seeds."""
    document = _committed()
    runs = document["runs"]
    assert len(runs) >= 3 and all(headline_holds(run) for run in runs)
    summary = document["summary"]
    assert summary["headline_held"] == len(runs)
    assert summary["smallest_exact_match_gain"] > 0 and summary["largest_p_holm"] < 0.01


def test_the_vicuna_variant_scores_above_chance_on_every_committed_seed() -> None:
    """Choices under the Vicuna template are scored after its reply delimiter (a space after `ASSISTANT:`), as
    the variant was trained: its multiple-choice accuracy is above chance (1 in 4) on every seed, and not by luck."""
    for run in _committed()["runs"]:
        mc = run["scores"]["tiny-vicuna"]["arith_mc_acc"]
        assert mc["value"] - 3 * mc["stderr"] > 0.25, (run["seed"], mc)


def _figures(seed: int, base_em: float, alpaca_em: float, reverse_exit: int) -> dict[str, Any]:
    scores = {model: {"arith_mc_acc": {"value": 0.25}, "arith_gen_exact_match": {"value": em}}
              for model, em in (("tiny-base", base_em), ("tiny-alpaca", alpaca_em), ("tiny-vicuna", 0.5))}
    checks = {name: {"metric": metric, "effect": base_em - alpaca_em, "ci": [0, 0], "p_holm": 1e-9,
                     "status": "fail" if reverse_exit else "pass"}
              for name, metric in (("arith_gen/exact_match", "exact_match"), ("arith_mc/acc", "acc"))}
    return {"seed": seed, "scores": scores,
            "gate": {"alpaca_vs_base": {"exit_code": 0, "checks": {}},
                     "base_vs_alpaca": {"exit_code": reverse_exit, "checks": checks}}}


def test_summary_states_mean_and_range_and_counts_the_headline(tmp_path: Path) -> None:
    paths = []
    for seed, alpaca_em, reverse_exit in ((0, 0.9, 1), (1, 0.7, 1), (2, 0.1, 0)):
        paths.append(tmp_path / f"{seed}.json")
        paths[-1].write_text(json.dumps(_figures(seed, 0.0, alpaca_em, reverse_exit)))
    summary = gather(paths)["summary"]
    assert summary["seeds"] == [0, 1, 2] and summary["headline_held"] == 2
    assert summary["scores"]["tiny-alpaca"]["arith_gen_exact_match"] == pytest.approx(
        {"mean": 0.5666667, "min": 0.1, "max": 0.9})
    assert "from 0.000 (0.000–0.000) to 0.567 (0.100–0.900) exact match" in headline(summary)
    with pytest.raises(ValueError, match="one run per seed"):
        summarize([_figures(0, 0.0, 0.9, 1), _figures(0, 0.0, 0.9, 1)])


def _finetune(tiny_model_dir: Path, data: Path, out: Path) -> Any:
    from fine_tune.config import FinetuneRequest
    from fine_tune.sft import run_finetune

    return run_finetune(FinetuneRequest(recipe="alpaca", base=str(tiny_model_dir), data=str(data), out=str(out),
                                        overrides=FAST, name="tiny-alpaca"))


@pytest.fixture(scope="module")
def alpaca_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fine_tune.synthetic import arith_alpaca_rows

    path = tmp_path_factory.mktemp("arith") / "arith_alpaca.json"
    path.write_text(json.dumps(arith_alpaca_rows()[:200]))
    return path


def test_same_command_and_seed_give_byte_identical_weights_and_scores(tiny_model_dir: Path, alpaca_data: Path,
                                                                     tmp_path: Path) -> None:
    """Two fine-tunes from one base and seed, and their evals (each in its own store), come out byte for byte equal."""
    from harness.eval.config import EvalConfig
    from harness.eval.evaluate import run_eval

    outputs = []
    for attempt in ("first", "second"):
        result = _finetune(tiny_model_dir, alpaca_data, tmp_path / attempt / "alpaca")
        outcome = run_eval(EvalConfig(model=str(result.out_dir), name="tiny-alpaca", suite="smoke",
                                      chat_template="alpaca", limit=8),
                           f"sqlite:///{tmp_path / attempt / 'store.db'}")
        scores = [(s.task, s.metric, s.filter, s.value, s.stderr) for s in outcome.scores]
        outputs.append(((result.out_dir / "model.safetensors").read_bytes(), outcome.fingerprint, scores))
    assert outputs[0] == outputs[1]
    assert outputs[0][2]  # scores were produced


def test_finetune_shows_one_bar_and_no_hugging_face_noise(tiny_model_dir: Path, alpaca_data: Path, tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """No "Loading weights" / "Truncating train dataset" / "Writing model shards" bars, no INFO lines; one bar
    named after the variant that ends at the last step with its loss."""
    import datasets
    import transformers

    caplog.set_level(logging.INFO)
    result = _finetune(tiny_model_dir, alpaca_data, tmp_path / "alpaca")
    out, err = capfd.readouterr()
    assert result.card["training"]["steps"] == FAST["max_steps"]
    for noise in ("Loading weights", "Truncating", "Writing model shards", "it/s", "examples/s"):
        assert noise not in out + err
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == []
    assert "fine-tune tiny-alpaca" in err and f"{FAST['max_steps']}/{FAST['max_steps']}" in err
    assert f"loss {result.card['loss_curve'][-1]['loss']:.4f}" in err
    assert "fine-tune" not in out  # stdout stays free for --json
    # what was switched off for the fine-tune is on again afterwards
    assert transformers.utils.logging.is_progress_bar_enabled() and not datasets.utils.are_progress_bars_disabled()


def test_demo_writes_the_figures_it_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole demo with 3-step fine-tunes on 20 sums: figures.json holds every model's scores, both gate
    verdicts and each step's seconds, and a second run is served from the store and finds the same figures."""
    from typer.testing import CliRunner

    import fine_tune.demo
    from harness.cli import app
    from harness.cli.demo import FIGURES, run_demo

    monkeypatch.setattr(fine_tune.demo, "DEMO_RECIPE_OVERRIDES", {"alpaca": {"max_steps": 3}, "vicuna": {"max_steps": 3}})
    store, out = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--store", store, "--out-dir", str(out), "--limit", "20", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "7/7 the leaderboard" in result.output
    assert "INFO" not in result.output  # the demo says what each step did; no log line repeats it
    figures = json.loads((out / FIGURES).read_text())
    assert figures["seed"] == 1 and set(figures["scores"]) == {"tiny-base", "tiny-alpaca", "tiny-vicuna"}
    assert all(figures["scores"][m]["arith_gen_exact_match"]["n"] == 20 for m in figures["scores"])
    assert {f["steps"] for f in figures["fine_tunes"].values()} == {3}
    assert set(figures["gate"]) == {"alpaca_vs_base", "base_vs_alpaca"}
    assert {"fine_tune", "eval", "gate", "total"} <= set(figures["seconds"])
    again = run_demo(store, out, limit=20, seed=1)
    assert all(f["cached"] for f in again["fine_tunes"].values()) and again["scores"] == figures["scores"]
    with pytest.raises(HarnessError, match="built with --seed 1"):
        run_demo(store, out, limit=20, seed=2)


def test_side_by_side_fine_tunes_draw_one_bar_each_and_raise_a_worker_error(tiny_model_dir: Path, alpaca_data: Path,
                                                                             tmp_path: Path,
                                                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Two fine-tunes in two spawned processes: both finish, registered and with the weights a run in this process
    gives; the parent draws both bars; a worker's HarnessError comes back with its message."""
    import torch
    from safetensors.torch import load_file

    from fine_tune.config import FinetuneRequest
    from fine_tune.demo import train_side_by_side

    def request(name: str, **extra: Any) -> FinetuneRequest:
        return FinetuneRequest(recipe="alpaca", base=str(tiny_model_dir), data=str(alpaca_data),
                               out=str(tmp_path / name), overrides={**FAST, "max_steps": 3, **extra}, name=name)

    results = train_side_by_side({"a": request("first"), "b": request("second", seed=7)}, None)
    err = capfd.readouterr().err
    assert {r.name for r in results.values()} == {"first", "second"}
    assert all(r.model_id is not None and not r.cached for r in results.values())
    assert "fine-tune first" in err and "fine-tune second" in err and "3/3" in err
    from fine_tune.sft import run_finetune

    here = run_finetune(request("here"))  # the same fine-tune in this process (two threads, not one)
    assert [p["loss"] for p in here.card["loss_curve"]] == pytest.approx(
        [p["loss"] for p in results["a"].card["loss_curve"]], rel=1e-4)
    theirs, ours = load_file(tmp_path / "first" / "model.safetensors"), load_file(tmp_path / "here" / "model.safetensors")
    for name, tensor in ours.items():
        torch.testing.assert_close(theirs[name], tensor, rtol=1e-4, atol=1e-5)
    with pytest.raises(HarnessError, match="longer than max_length=9"):
        train_side_by_side({"a": request("short", max_length=9), "b": request("fine", seed=8)}, None)


def test_the_last_side_by_side_fine_tune_takes_the_freed_cores() -> None:
    import multiprocessing

    import torch

    from fine_tune.demo import FreedCores

    running, before = multiprocessing.Value("i", 2), torch.get_num_threads()
    callback = FreedCores(running, cores=before + 1)
    try:
        callback.on_step_begin(None, None, None)
        assert torch.get_num_threads() == before  # the other one still trains
        running.value = 1
        callback.on_step_begin(None, None, None)
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)


def test_an_interrupted_demo_fine_tune_continues_from_its_last_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Killed after its step-2 checkpoint (the model and card never written), the Alpaca fine-tune is continued by
    the next `build_demo_variants`, not refused or started over, and ends with the uninterrupted run's weights."""
    import shutil

    import torch
    from safetensors.torch import load_file

    from fine_tune.demo import build_demo_variants

    settings = {"max_steps": 4, "save_steps": 2, "save_total_limit": 2, "per_device_batch_size": 8,
                "global_batch_size": 8}
    first = build_demo_variants(tiny_model_dir, tmp_path / "demo", overrides=settings, side_by_side=False)
    out = first.alpaca.out_dir
    reference = load_file(out / "model.safetensors")
    for name in ("model.safetensors", "harness.json"):
        (out / name).unlink()
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")
    again = build_demo_variants(tiny_model_dir, tmp_path / "demo", overrides=settings, side_by_side=False)
    assert not again.alpaca.cached and again.vicuna.cached
    assert again.alpaca.card["training"]["resumed"] is True
    for name, tensor in load_file(out / "model.safetensors").items():
        torch.testing.assert_close(tensor, reference[name], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_demo_lands_within_the_committed_spread(tmp_path: Path) -> None:
    """`harness demo` (seed 0) on this machine: the headline holds and every score lies within the committed range
    over seeds, which is the tolerance the READMEs state (on the machine that wrote them: exactly seed 0's)."""
    from harness.cli.demo import FIGURES, run_demo

    summary = _committed()["summary"]
    figures = run_demo(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "demo", seed=0)
    assert json.loads((tmp_path / "demo" / FIGURES).read_text()) == figures
    assert headline_holds(figures)
    for model, metrics in summary["scores"].items():
        for metric, cell in metrics.items():
            assert cell["min"] - 0.05 <= figures["scores"][model][metric]["value"] <= cell["max"] + 0.05
