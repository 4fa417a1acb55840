"""Output that survives logs: without a terminal nothing is cut at 80 columns, and no third-party progress bar
reaches stderr (eval shows the project's own progress)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from rich.table import Table
from typer.testing import CliRunner

from harness.cli import app
from harness.console import LogConsole, configure_logging
from harness.records import Battle
from harness.store import open_store
from harness.store.battles import write_battles

runner = CliRunner()
LONG_MODEL = "results/demo/a-fine-tuned-alpaca-variant-with-a-long-name"


def _table() -> Table:
    table = Table(title="offline:reference-match (pairwise-all, 96 judgments, $0.0000) on the arith question set")
    for column in ("model", "win", "loss", "tie", "n", "win_rate", "loss_rate", "win_rate_adjusted"):
        table.add_column(column)
    table.add_row(LONG_MODEL, "40", "20", "4", "64", "0.625", "0.312", "0.656 [0.531, 0.766]")
    return table


def test_a_table_wider_than_80_columns_prints_whole_without_a_terminal() -> None:
    out = io.StringIO()
    console = LogConsole(file=out, width=80)
    assert not console.is_terminal
    console.print(_table())
    text = out.getvalue()
    assert "…" not in text and "win_rate_adjusted" in text
    assert any(LONG_MODEL in line and "0.656 [0.531, 0.766]" in line for line in text.splitlines())  # one row
    assert any("on the arith question set" in line and "offline:reference" in line for line in text.splitlines())
    assert console.width == 80  # the console's own width is back for the next print


def test_a_title_longer_than_its_table_is_not_wrapped() -> None:
    out = io.StringIO()
    table = Table(title="offline:reference-match (single, 16 judgments, $0.0000)")
    table.add_column("model")
    table.add_row("tiny-base")
    LogConsole(file=out, width=80).print(table)
    assert "offline:reference-match (single, 16 judgments, $0.0000)" in out.getvalue()


def test_a_long_command_to_copy_stays_on_one_line() -> None:
    out = io.StringIO()
    command = ".venv/bin/harness leaderboard --store sqlite:////home/someone/projects/harness/results/harness.db"
    LogConsole(file=out, width=80).print("open it with:\n  " + command)
    assert "  " + command + "\n" in out.getvalue()


def test_a_heading_rule_keeps_its_whole_title() -> None:
    from rich.rule import Rule

    out = io.StringIO()
    title = "2/7 fine-tune an Alpaca and a Vicuna variant (synthetic sums; the test sums are held out)"
    LogConsole(file=out, width=80).print(Rule(f"[bold]{title}", align="left"))
    assert title in out.getvalue() and "…" not in out.getvalue()


def test_a_terminal_keeps_fitting_to_its_window() -> None:
    out = io.StringIO()
    LogConsole(file=out, width=80, force_terminal=True, color_system=None).print(_table())
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80  # an interactive window wraps


def test_log_records_without_a_terminal_are_plain_unwrapped_lines(capsys) -> None:
    configure_logging()
    message = "generate tiny-alpaca on arith: 16 questions, 16 to answer, 0 copied from the same checkpoint " * 2
    logging.getLogger("harness.test").info(message.strip())
    err = capsys.readouterr().err
    assert f"INFO     {message.strip()}\n" in err


def test_judge_results_at_80_columns_cut_no_header_and_split_no_value() -> None:
    write_battles(open_store(), [Battle(model_a=LONG_MODEL, model_b="tiny-base", winner="model_a",
                                        judge="offline:reference-match")] * 10)
    result = runner.invoke(app, ["judge", "results"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "…" not in result.stdout
    assert "win_rate_adjusted" in result.stdout
    assert any(LONG_MODEL in line and "1.000" in line for line in result.stdout.splitlines())


def test_runs_list_at_80_columns_shows_whole_run_ids() -> None:
    from tests.test_identity import _runs

    _runs(str(open_store().url), ["r-441356abcdef"])
    result = runner.invoke(app, ["runs", "list"], env={"COLUMNS": "80"})
    assert "r-441356abcdef" in result.stdout and "…" not in result.stdout


def test_eval_draws_no_third_party_progress_bars(tiny_model_dir: Path) -> None:
    result = runner.invoke(app, ["eval", "--model", str(tiny_model_dir), "--tasks", "arith_mc,arith_gen", "--limit",
                                 "4", "--chat-template", "alpaca", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["cached"] is False
    for bar in ("Loading weights", "Tokenizing inputs", "Running loglikelihood", "Running generate_until", "it/s]"):
        assert bar not in result.stderr, result.stderr
    assert "eval " in result.stderr  # the project's own progress line
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()  # switched back on after the run
