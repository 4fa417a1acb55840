"""`harness demo`: the whole loop on a CPU in a few minutes, from nothing to a gate verdict.

Builds a tiny base model, fine-tunes an Alpaca and a Vicuna variant on synthetic arithmetic, evaluates all
three on the held-out `smoke` suite, generates answers to open questions, judges them pairwise (offline
reference-matching judge unless HARNESS_JUDGE / HARNESS_JUDGE_BASE_URL name an endpoint), rates the models
(Elo + Bradley-Terry with bootstrap CIs), gates the Alpaca variant against its base and prints the command
that opens the leaderboard. Every step is looked up in the store first, so a second run redoes nothing.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule
from rich.table import Table

from harness.cli.options import StoreOpt, handled
from harness.console import stdout
from harness.store import resolve_store_url

DEMO_DIR = Path("results") / "demo"


def _step(number: int, title: str) -> None:
    stdout.print(Rule(f"[bold]{number}/7 {title}", align="left"))


def _base_model(out: Path) -> Path:
    from harness.eval.tiny import make_tiny_model

    base = out / "base"
    if not (base / "model.safetensors").exists():
        tiny = make_tiny_model(base, seed=0, hidden=128, layers=4)
        stdout.print(f"built {base} ({tiny.n_params:,} parameters, random init)")
    else:
        stdout.print(f"reusing {base}")
    return base


def _evaluate(models: dict[str, tuple[Path, str]], store: str, limit: int | None) -> dict[str, str]:
    """Evaluate every model on the smoke suite; returns model name -> run id."""
    from harness.eval.config import EvalConfig
    from harness.eval.evaluate import run_eval

    table = Table(title=f"smoke suite (held-out sums{'' if limit is None else f', first {limit}'})")
    for column in ("model", "chat template", "arith_mc acc", "arith_gen exact match", "run", "source"):
        table.add_column(column)
    runs = {}
    for name, (path, template) in models.items():
        outcome = run_eval(EvalConfig(model=str(path), name=name, suite="smoke", chat_template=template,
                                      limit=limit), store)
        runs[name] = outcome.run_id
        value = {(s.task, s.metric): s for s in outcome.scores}
        cells = [f"{value[k].value:.3f} ± {value[k].stderr or 0:.3f}"
                 for k in (("arith_mc", "acc"), ("arith_gen", "exact_match"))]
        table.add_row(name, template, *cells, outcome.run_id, "store" if outcome.cached else "computed")
    stdout.print(table)
    return runs


def _judge(models: dict[str, tuple[Path, str]], store: str) -> None:
    from harness.cli.judge import judge_summary
    from harness.generate import GenerateConfig, run_generate
    from harness.judge.plan import judge_config_from_env
    from harness.judge.run import run_judge

    for name, (path, template) in models.items():
        generated = run_generate(GenerateConfig(model=str(path), name=name, questions="arith",
                                                chat_template=template, max_new_tokens=8), store)
        stdout.print(f"{name}: {generated.generated} answers generated, {generated.cached} from the store")
    outcome = run_judge(judge_config_from_env(list(models), "arith"), store)
    stdout.print(judge_summary(outcome.to_json()))


def _arena(store: str) -> None:
    from harness.arena.ratings import ArenaConfig
    from harness.arena.run import run_arena
    from harness.cli.arena import arena_table

    outcome = run_arena(ArenaConfig(bootstrap=1000, seed=0), from_store=True, store=store)
    stdout.print(arena_table(outcome.report))


def _gate(candidate: str, baseline: str, store: str) -> None:
    from harness.gate.checks import GateConfig
    from harness.gate.decide import run_gate
    from harness.gate.report import render_text

    report = run_gate(GateConfig(candidate=candidate, baseline=baseline, suite="smoke"), store)
    stdout.print(render_text(report), highlight=False)
    stdout.print(f"exit code would be {report.exit_code}")


def run_demo(store_url: str | None = None, out_dir: Path = DEMO_DIR, limit: int | None = None) -> None:
    """Run the seven steps; each is served from the store when it has run before."""
    from fine_tune.demo import build_demo_variants

    store = resolve_store_url(store_url)
    _step(1, "a tiny LLaMA-architecture base model")
    base = _base_model(out_dir)
    _step(2, "fine-tune an Alpaca and a Vicuna variant (synthetic sums; the test sums are held out)")
    variants = build_demo_variants(base, out_dir, store)
    for result in (variants.alpaca, variants.vicuna):
        losses = result.card.get("loss_curve") or [{"loss": float("nan")}]
        stdout.print(f"{result.name}: {result.out_dir} ({'from the store' if result.cached else 'trained'}; "
                     f"loss {losses[0]['loss']:.3f} -> {losses[-1]['loss']:.3f})")
    # The base has no chat template: it is prompted in Alpaca format, like the Alpaca variant, so that the
    # gate compares the same prompts. Each variant's own saved template is the built-in one named here
    # (`--chat-template tokenizer` would give the same runs: the cache keys on the template's text).
    models = {"tiny-base": (base, "alpaca"), "tiny-alpaca": (variants.alpaca.out_dir, "alpaca"),
              "tiny-vicuna": (variants.vicuna.out_dir, "vicuna")}
    _step(3, "harness eval on the smoke suite")
    runs = _evaluate(models, store, limit)
    _step(4, "harness generate + harness judge (both answer orders)")
    _judge(models, store)
    _step(5, "harness arena (Bradley-Terry with 95% bootstrap CIs, online Elo)")
    _arena(store)
    _step(6, "harness gate: the Alpaca variant against its base")
    _gate(runs["tiny-alpaca"], runs["tiny-base"], store)
    stdout.print("and the other way round (a regression the gate must catch):")
    _gate(runs["tiny-base"], runs["tiny-alpaca"], store)
    _step(7, "the leaderboard")
    stdout.print("open it with:\n  " + shlex.join([".venv/bin/harness", "leaderboard", "--store", store]))


@handled
def demo_command(
    store: StoreOpt = None,
    out_dir: Annotated[Path, typer.Option(help="Where the demo's models and data go.")] = Path("results/demo"),
    limit: Annotated[int | None, typer.Option(help="Documents per task (default: all 200).")] = None,
) -> None:
    """The whole loop on a CPU: tiny model, fine-tunes, eval, judge, arena, gate, leaderboard."""
    run_demo(store, out_dir, limit)
