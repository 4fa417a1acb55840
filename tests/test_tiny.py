"""The tiny model builder: deterministic, safetensors, a tokenizer that splits digits."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.fingerprint import fingerprint_directory


def test_tiny_model_is_deterministic_and_loadable(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["tiny-model", str(tmp_path / name), "--seed", "3", "--hidden", "32", "--layers", "1"])
        assert result.exit_code == 0, result.stderr
        assert "parameters" in result.stdout
    assert fingerprint_directory(tmp_path / "a") == fingerprint_directory(tmp_path / "b")
    assert (tmp_path / "a" / "model.safetensors").exists() and not list((tmp_path / "a").glob("*.bin"))

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "a")
    pieces = tokenizer.tokenize("What is 12+345?")
    assert {"1", "2", "3", "4", "5"} <= set(pieces)
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.eos_token == "</s>"
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "a")
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 1


def test_different_seed_gives_different_fingerprint(tmp_path: Path) -> None:
    from harness.eval.tiny import make_tiny_model

    a = make_tiny_model(tmp_path / "a", seed=0, hidden=32, layers=1)
    b = make_tiny_model(tmp_path / "b", seed=1, hidden=32, layers=1)
    assert fingerprint_directory(a.path) != fingerprint_directory(b.path)
