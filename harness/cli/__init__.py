"""The `harness` command: a thin typer shell over the Python API. Each command parses, calls one function, renders.

One module per command group (`eval`, `judge`, `arena`, `gate`, `finetune`, `leaderboard`, `published`, `demo`); shared
options live in `options`. Commands are listed here, explicitly, in the order `--help` lists them; a command's module
is imported only when it runs or shows its own help (`group.LazyGroup`), so `harness --help` stays fast.
Help is plain click text (`rich_markup_mode=None`): typer's rich help alone costs about 0.1 s of imports.
Exit codes: 0 ok, 1 gate regression, 2 usage/config error, 3 failure at run time.
Human output (rich tables) goes to stdout, logs and progress to stderr; `--json` prints one JSON document.
"""

from __future__ import annotations

import atexit
import gc
from typing import Annotated

import typer

from harness.cli.group import LazyCommand, LazyGroup

# Registered first, so it runs last: at exit, Python's final collections walk every object the command's
# libraries made (0.17 s after `harness arena` has loaded numpy, pydantic and SQLAlchemy); frozen objects are
# skipped, and the process is ending, with everything stored and flushed, so nothing needs collecting.
atexit.register(gc.freeze)

COMMANDS = {
    "eval": LazyCommand("eval", "eval_command",
                        "Run lm-eval tasks on one or more models; finished tasks are served from the store."),
    "rescore": LazyCommand("eval", "rescore_command",
                           "Recompute a run's metrics from its stored samples with lm-eval's task code (no model)."),
    "generate": LazyCommand("judge", "generate_command",
                            "Answer an open-ended question set (turn by turn, chat-templated) with one or more "
                            "models; stored answers are skipped."),
    "arena": LazyCommand("arena", "arena_command", "Rate models from battles: online Elo and Bradley-Terry with "
                                                   "bootstrap CIs and rank ranges."),
    "gate": LazyCommand("gate", "gate_command", "Exit 1 when the candidate is significantly worse than the baseline, "
                                                "0 when not, 2 when it cannot decide."),
    "finetune": LazyCommand("finetune", "finetune_command", "Fine-tune a base model with a recipe (full or LoRA); "
                                                            "print the resolved config; register the model."),
    "self-instruct": LazyCommand("finetune", "self_instruct_command",
                                 "Generate Alpaca-format instructions with an OpenAI-compatible model "
                                 "(self-instruct), filtered for novelty."),
    "decontaminate": LazyCommand("decontaminate", "decontaminate_command",
                                 "Find evaluation documents in fine-tuning data by n-gram overlap; optionally write "
                                 "a cleaned file."),
    "leaderboard": LazyCommand("leaderboard", "leaderboard_command",
                               "Serve the Streamlit leaderboard on the store (read-only); same as `streamlit run "
                               "leaderboard_app/app.py`."),
    "publish": LazyCommand("published", "publish_command", "Write a read-only snapshot of the store plus the "
                                                           "Streamlit app, ready for Streamlit Cloud or a HF Space."),
    "tiny-model": LazyCommand("eval", "tiny_model_command", "Build a tiny LLaMA-architecture model and a trained "
                                                            "tokenizer (safetensors, no download)."),
    "demo": LazyCommand("demo", "demo_command",
                        "The whole loop on a CPU: tiny model, fine-tunes, eval, judge, arena, gate, leaderboard."),
    "runs": LazyCommand("eval", "runs_app", "Browse the runs in the store."),
    "judge": LazyCommand("judge", "judge_app",
                         "Judge stored answers pairwise (both orders) or one by one; import, results, agreement."),
    "baseline": LazyCommand("gate", "baseline_app", "Pin runs as named baselines for `harness gate`."),
    "published": LazyCommand("published", "published_app",
                             "Published leaderboards' results (kept apart from computed scores): import, list."),
}


class _Root(LazyGroup):
    table = COMMANDS


app = typer.Typer(cls=_Root, rich_markup_mode=None, pretty_exceptions_show_locals=False, no_args_is_help=True,
                  add_completion=False, help="Evaluate, judge, rate and gate fine-tuned LLaMA-family checkpoints.")


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Only warnings and errors on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", metavar="", help="Debug logging on stderr.")] = False,
) -> None:
    """harness: evaluation, judge battles, arena ratings, fine-tuning and regression gates in one store."""
    from harness.console import configure_logging  # rich: loaded once a command runs, not for `--help`

    configure_logging(quiet=quiet, verbose=verbose)
