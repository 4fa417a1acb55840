"""The `harness` command: a thin typer shell over the Python API. Each command parses, calls one function, renders.

One module per command group (`eval`, `judge`, `arena`, `gate`, `finetune`, `leaderboard`, `published`, `demo`); shared
options live in `options`. Commands are registered here, explicitly, in the order `--help` lists them.
Exit codes: 0 ok, 1 gate regression, 2 usage/config error, 3 failure at run time.
Human output (rich tables) goes to stdout, logs and progress to stderr; `--json` prints one JSON document.
"""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli import arena, decontaminate, demo, eval, finetune, gate, judge, leaderboard, published
from harness.console import configure_logging

app = typer.Typer(pretty_exceptions_show_locals=False, no_args_is_help=True, add_completion=False,
                  help="Evaluate, judge, rate and gate fine-tuned LLaMA-family checkpoints.")


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Only warnings and errors on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", metavar="", help="Debug logging on stderr.")] = False,
) -> None:
    """harness: evaluation, judge battles, arena ratings, fine-tuning and regression gates in one store."""
    configure_logging(quiet=quiet, verbose=verbose)


app.command("eval")(eval.eval_command)
app.add_typer(eval.runs_app, name="runs")
app.command("rescore")(eval.rescore_command)
app.command("generate")(judge.generate_command)
app.add_typer(judge.judge_app, name="judge")
app.command("arena")(arena.arena_command)
app.command("gate")(gate.gate_command)
app.add_typer(gate.baseline_app, name="baseline")
app.command("finetune")(finetune.finetune_command)
app.command("self-instruct")(finetune.self_instruct_command)
app.command("decontaminate")(decontaminate.decontaminate_command)
app.command("leaderboard")(leaderboard.leaderboard_command)
app.add_typer(published.published_app, name="published")
app.command("publish")(published.publish_command)
app.command("tiny-model")(eval.tiny_model_command)
app.command("demo")(demo.demo_command)
