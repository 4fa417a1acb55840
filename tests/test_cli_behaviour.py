"""What every command does with bad input and secrets: one line, exit 2, nothing created or leaked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.redact import redact

runner = CliRunner()


@pytest.mark.parametrize("args", [["runs", "list"], ["runs", "show", "r-1"], ["judge", "results"],
                                  ["judge", "agreement", "--judge", "gpt-4"], ["baseline", "list"],
                                  ["judge", "--models", "a,b", "--questions", "arith"],
                                  ["rescore", "r-1"], ["runs", "export", "r-1", "out", "--format", "lm-eval"]])
def test_read_only_commands_never_create_a_store(tmp_path: Path, args: list[str]) -> None:
    """Also `judge`: it writes, but what it judges must already be stored."""
    typo = tmp_path / "mistyped" / "store.db"
    result = runner.invoke(app, [*args, "--store", str(typo)])
    assert result.exit_code == 2 and "no store at" in result.stderr
    assert not typo.exists() and not typo.parent.exists()


def test_a_junk_file_as_the_store_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database\n" * 200)
    battles = tmp_path / "battles.json"
    battles.write_text('[{"model_a": "a", "model_b": "b", "winner": "model_a"}]')
    for args in (["runs", "list"], ["judge", "import", str(battles)], ["arena", "--battles", str(battles)]):
        result = runner.invoke(app, [*args, "--store", str(junk)])
        assert result.exit_code == 2, result.stderr
        assert "not an SQLite database" in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2
    assert junk.read_bytes() == b"this is not a database\n" * 200


def test_brackets_in_hints_print_as_typed() -> None:
    result = runner.invoke(app, ["runs", "list", "--store", "postgresql+psycopg://u@127.0.0.1:1/db"])
    assert result.exit_code == 2
    assert ".[postgres]" in result.stderr.replace("\n", "")


@pytest.mark.parametrize("text, hidden, kept", [
    ("http://user:s3cret@host/v1", "s3cret", "http://user:***@host/v1"),
    ("calling https://sk-live-123@api.example.com/v1 now", "sk-live-123", "https://***@api.example.com/v1"),
    ("postgresql+psycopg2://harness:pw@db:5432/x", ":pw@", "postgresql+psycopg2://harness:***@db:5432/x"),
    ("http://h/v1?api_key=abc123&x=1", "abc123", "?api_key=***&x=1"),
])
def test_credentials_in_urls_are_redacted(text: str, hidden: str, kept: str) -> None:
    assert hidden not in redact(text) and kept in redact(text)
    assert redact("http://127.0.0.1:8000/v1/chat/completions") == "http://127.0.0.1:8000/v1/chat/completions"


def test_credentials_never_reach_the_default_logs(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.console import configure_logging

    configure_logging()
    logging.getLogger("harness.test").info("judge endpoint %s", "http://user:topsecret@judge.example/v1")
    logging.getLogger("harness.test").warning("failed: http://tok-999@x.example/v1 refused")
    err = capsys.readouterr().err
    assert "topsecret" not in err and "tok-999" not in err and "user:***@judge.example" in err
