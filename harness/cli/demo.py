"""`harness demo`: the whole loop on a CPU in a few minutes, from nothing to a gate verdict.

Builds a tiny base model, fine-tunes an Alpaca and a Vicuna variant on synthetic arithmetic, evaluates all
three on the held-out `smoke` suite, generates answers to open questions, judges them pairwise (offline
reference-matching judge unless HARNESS_JUDGE / HARNESS_JUDGE_BASE_URL name an endpoint), rates the models
(Elo + Bradley-Terry with bootstrap CIs), gates the Alpaca variant against its base and prints the command
that opens the leaderboard. Every step is looked up in the store first, so a second run redoes nothing.
The figures it prints (scores, losses, gate verdicts, times) are also written to OUT_DIR/figures.json: the
READMEs quote them from there (`fine_tune/demo_figures.json` holds the runs over several seeds).
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.rule import Rule
from rich.table import Table

from harness.cli.options import SeedOpt, StoreOpt, handled
from harness.console import stdout
from harness.errors import HarnessError
from harness.store import resolve_store_url

DEMO_DIR = Path("results") / "demo"
FIGURES = "figures.json"
# 768 entries make every template word one token: Alpaca rows 59 -> 43 tokens, Vicuna 83 -> 54, and with the
# prompt shared across a batch (fine_tune/shared_prefix.py) the rest of each row is what costs
DEMO_VOCAB = 768


def _step(number: int, title: str) -> None:
    stdout.print(Rule(f"[bold]{number}/7 {title}", align="left"))


def _base_model(out: Path, seed: int) -> Path:
    from harness.eval.tiny import make_tiny_model

    base, marker = out / "base", out / "base" / "demo_seed.txt"
    if (base / "model.safetensors").exists():
        built = int(marker.read_text()) if marker.is_file() else 0
        if built != seed:
            raise HarnessError(f"{base} was built with --seed {built}, not {seed}",
                               hint="give each seed its own --out-dir and --store")
        stdout.print(f"reusing {base}")
        return base
    tiny = make_tiny_model(base, seed=seed, hidden=128, layers=4, vocab_size=DEMO_VOCAB)
    marker.write_text(str(seed))
    stdout.print(f"built {base} ({tiny.n_params:,} parameters, random init, seed {seed})")
    return base


def _evaluate(models: dict[str, tuple[Path, str]], store: str, limit: int | None) -> dict[str, dict[str, Any]]:
    """Evaluate every model on the smoke suite; returns model name -> its run id and scores."""
    from harness.eval.config import EvalConfig
    from harness.eval.evaluate import run_eval

    table = Table(title=f"smoke suite (held-out sums{'' if limit is None else f', first {limit}'})")
    for column in ("model", "chat template", "arith_mc acc", "arith_gen exact match", "run", "source"):
        table.add_column(column)
    runs: dict[str, dict[str, Any]] = {}
    for name, (path, template) in models.items():
        outcome = run_eval(EvalConfig(model=str(path), name=name, suite="smoke", chat_template=template,
                                      limit=limit), store)
        value = {(s.task, s.metric): s for s in outcome.scores}
        runs[name] = {"run_id": outcome.run_id, "chat_template": template, **{
            f"{task}_{metric}": {"value": value[task, metric].value, "stderr": value[task, metric].stderr,
                                 "n": value[task, metric].n}
            for task, metric in (("arith_mc", "acc"), ("arith_gen", "exact_match"))}}
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


def _gate(candidate: str, baseline: str, store: str) -> dict[str, Any]:
    from harness.gate.checks import GateConfig
    from harness.gate.decide import run_gate
    from harness.gate.report import render_text

    report = run_gate(GateConfig(candidate=candidate, baseline=baseline, suite="smoke"), store)
    stdout.print(render_text(report), highlight=False)
    stdout.print(f"exit code would be {report.exit_code}")
    document: dict[str, Any] = report.to_json()
    return document


def _variant_figures(result: Any) -> dict[str, Any]:
    card = result.card
    losses = card.get("loss_curve") or [{"loss": float("nan")}]
    stdout.print(f"{result.name}: {result.out_dir} ({'from the store' if result.cached else 'trained'}; "
                 f"loss {losses[0]['loss']:.3f} -> {losses[-1]['loss']:.3f})")
    return {"out": str(result.out_dir), "cached": result.cached, "steps": card.get("training", {}).get("steps"),
            "first_loss": losses[0]["loss"], "final_loss": losses[-1]["loss"],
            "train_time_s": card.get("train_time_s"), "tokens_seen": card.get("tokens_seen")}


def run_demo(store_url: str | None = None, out_dir: Path = DEMO_DIR, limit: int | None = None,
             seed: int = 0) -> dict[str, Any]:
    """Run the seven steps (each served from the store when it has run before); returns the figures it wrote."""
    from fine_tune.demo import build_demo_variants

    started, store = time.perf_counter(), resolve_store_url(store_url)
    figures: dict[str, Any] = {"seed": seed, "limit": limit, "seconds": {}}
    lap = time.perf_counter()

    def timed(step: str) -> None:
        nonlocal lap
        figures["seconds"][step] = round(time.perf_counter() - lap, 1)
        lap = time.perf_counter()

    _step(1, "a tiny LLaMA-architecture base model")
    base = _base_model(out_dir, seed)
    timed("base")
    _step(2, "fine-tune an Alpaca and a Vicuna variant (synthetic sums; the test sums are held out)")
    variants = build_demo_variants(base, out_dir, store, seed=seed)
    figures["fine_tunes"] = {"tiny-alpaca": _variant_figures(variants.alpaca),
                             "tiny-vicuna": _variant_figures(variants.vicuna)}
    timed("fine_tune")
    # The base has no chat template: it is prompted in Alpaca format, like the Alpaca variant, so that the
    # gate compares the same prompts. Each variant's own saved template is the built-in one named here
    # (`--chat-template tokenizer` would give the same runs: the cache keys on the template's text).
    models = {"tiny-base": (base, "alpaca"), "tiny-alpaca": (variants.alpaca.out_dir, "alpaca"),
              "tiny-vicuna": (variants.vicuna.out_dir, "vicuna")}
    _step(3, "harness eval on the smoke suite")
    figures["scores"] = runs = _evaluate(models, store, limit)
    timed("eval")
    _step(4, "harness generate + harness judge (both answer orders)")
    _judge(models, store)
    timed("generate_judge")
    _step(5, "harness arena (Bradley-Terry with 95% bootstrap CIs, online Elo)")
    _arena(store)
    timed("arena")
    _step(6, "harness gate: the Alpaca variant against its base")
    ahead = _gate(runs["tiny-alpaca"]["run_id"], runs["tiny-base"]["run_id"], store)
    stdout.print("and the other way round (a regression the gate must catch):")
    behind = _gate(runs["tiny-base"]["run_id"], runs["tiny-alpaca"]["run_id"], store)
    figures["gate"] = {"alpaca_vs_base": _gate_figures(ahead), "base_vs_alpaca": _gate_figures(behind)}
    timed("gate")
    _step(7, "the leaderboard")
    stdout.print("open it with:\n  " + shlex.join([".venv/bin/harness", "leaderboard", "--store", store]))
    figures["seconds"]["total"] = round(time.perf_counter() - started, 1)
    (out_dir / FIGURES).write_text(json.dumps(figures, indent=1) + "\n")
    stdout.print(f"figures written to {out_dir / FIGURES}")
    return figures


def _gate_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The gate verdict and, per task check, the effect with its interval and Holm-corrected p-value."""
    return {"verdict": report["verdict"], "exit_code": report["exit_code"],
            "checks": {c["name"]: {k: c[k] for k in ("metric", "effect", "ci", "p_holm", "status")}
                       for c in report["checks"]}}


@handled
def demo_command(
    store: StoreOpt = None,
    out_dir: Annotated[Path, typer.Option(help="Where the demo's models, data and figures.json go.")] = DEMO_DIR,
    limit: Annotated[int | None, typer.Option(help="Documents per task (default: all 200).")] = None,
    seed: SeedOpt = 0,
) -> None:
    """The whole loop on a CPU: tiny model, fine-tunes, eval, judge, arena, gate, leaderboard."""
    from harness.quiet import quiet_hugging_face

    root = logging.getLogger()
    if root.level == logging.INFO:  # the demo prints each step's outcome itself; INFO lines would repeat them
        root.setLevel(logging.WARNING)
    with quiet_hugging_face():  # the demo's own bars, not Hugging Face's ("Loading weights", ...)
        run_demo(store, out_dir, limit, seed)
