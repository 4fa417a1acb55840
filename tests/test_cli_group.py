"""`harness --help` lists every command without importing any, and a command loaded on use is the one it lists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.cli import COMMANDS, app
from harness.cli.group import first_paragraph

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
# What `harness --help` must not load: the heavy libraries, rich and pydantic (only output and configs need them),
# and every command module (imported when its command runs).
NOT_AT_START = ("sqlalchemy", "torch", "numpy", "transformers", "lm_eval", "datasets", "ray", "rich", "pydantic",
                "harness.console", "harness.store", *{f"harness.cli.{entry.module}" for entry in COMMANDS.values()})


def _modules_after_help(*args: str) -> tuple[str, list[str]]:
    """`python -m harness ARGS --help` in a fresh interpreter: its output, and which of NOT_AT_START it loaded."""
    code = ("import json, runpy, sys\n"
            f"sys.argv = ['harness', *{list(args)!r}, '--help']\n"
            "try:\n    runpy.run_module('harness', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({NOT_AT_START!r}))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    *text, loaded = done.stdout.rstrip("\n").split("\n")
    return "\n".join(text), json.loads(loaded)


def test_help_imports_no_heavy_module_and_lists_every_command() -> None:
    text, loaded = _modules_after_help()
    assert loaded == []
    packed = "".join(text.split())  # the listing wraps lines (and breaks after a hyphen)
    assert all(name + "".join(entry.summary.split()) in packed for name, entry in COMMANDS.items())


def test_a_command_help_loads_only_its_own_module() -> None:
    text, loaded = _modules_after_help("gate", "--help")
    assert "--candidate" in text and "harness.cli.gate" in loaded
    assert not {"harness.cli.eval", "harness.cli.judge", "harness.cli.demo", "sqlalchemy", "torch"} & set(loaded)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_line_is_the_first_paragraph_of_the_command_help(name: str) -> None:
    group = typer.main.get_group(app)
    command = group.get_command(typer.Context(group), name)
    assert command is not None and command.name == name
    assert COMMANDS[name].summary == first_paragraph(command.help)


def test_a_sub_group_lists_each_command_whole() -> None:
    result = runner.invoke(app, ["judge", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split())
    assert "import Import existing judgments as battles (and grades), so they are not paid for twice." in flat
    assert not any(line.endswith("...") for line in result.stdout.splitlines()[1:])  # click would cut with "..."


def test_a_mistyped_command_is_one_usage_error_with_a_suggestion() -> None:
    result = runner.invoke(app, ["judgee"])
    assert result.exit_code == 2
    assert "No such command 'judgee'. Did you mean 'judge'?" in result.stderr
    assert "Traceback" not in result.stderr
