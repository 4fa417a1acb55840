"""`harness gate` and `harness baseline set|list`: parse, call `gate`, print the report, exit with its code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.options import (
    JsonOpt,
    SeedOpt,
    StoreOpt,
    TasksOpt,
    handled,
    print_json,
    split_list,
    validated,
)
from harness.console import stdout
from harness.errors import HarnessError

baseline_app = typer.Typer(no_args_is_help=True, help="Pin runs as named baselines for `harness gate`.")
RefOpt = Annotated[str, typer.Option(help="Run id, model name (its newest finished run) or pinned baseline name.")]


@handled
def gate_command(
    candidate: RefOpt,
    baseline: RefOpt,
    suite: Annotated[str | None, typer.Option(help="Gate on these suite tasks (default: the baseline run's).")] = None,
    tasks: TasksOpt = None,
    alpha: Annotated[float, typer.Option(help="Family-wise significance level (Holm).")] = 0.05,
    max_drop: Annotated[float, typer.Option(help="Tolerated absolute drop, in metric units (0.02 = 2 points).")] = 0.0,
    max_rating_drop: Annotated[float, typer.Option(help="Tolerated arena BT rating drop, in points.")] = 0.0,
    metric_direction_file: Annotated[Path | None, typer.Option(help="YAML: directions {metric: higher|lower}, "
                                                                    "primary {task: metric}.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per task.")] = None,
    judge: Annotated[list[str] | None, typer.Option(help="Arena battles of this source only (human, crowd or a "
                                                    "judge model; repeat to pool); required when the store "
                                                    "holds several.")] = None,
    arena: Annotated[bool | None, typer.Option("--arena/--no-arena", metavar="", help="Gate on arena battles too "
                                               "(default: yes, unless --tasks names the tasks and no --judge is given).")] = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exit 1 when the candidate is significantly worse than the baseline, 0 when not, 2 when it cannot decide."""
    from harness.gate.checks import GateConfig
    from harness.gate.decide import run_gate
    from harness.gate.report import render_text, write_gate_files

    try:
        config = validated(GateConfig, candidate=candidate, baseline=baseline, suite=suite, tasks=split_list(tasks),
                           alpha=alpha, max_drop=max_drop, max_rating_drop=max_rating_drop, seed=seed,
                           arena=arena, metric_direction_file=metric_direction_file,
                           judges=split_list(judge))
        report = run_gate(config, store)
    except HarnessError as exc:
        write_gate_files(markdown, junit, exc)
        if as_json:
            print_json({"verdict": "error", "exit_code": exc.exit_code, "reason": exc.message, "hint": exc.hint})
        raise
    write_gate_files(markdown, junit, report)
    if as_json:
        print_json(report.to_json())
    else:
        stdout.print(render_text(report), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)


@baseline_app.command("set")
@handled
def baseline_set_command(name: Annotated[str, typer.Argument(help="Baseline name, e.g. main.")],
                         ref: Annotated[str, typer.Argument(help="Run id, model name or another baseline name.")],
                         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Pin NAME to the run REF resolves to now (a model name means its newest finished run)."""
    from harness.gate.refs import pin_baseline

    pinned = pin_baseline(name, ref, store)
    if as_json:
        print_json({"name": name, "run_id": pinned.run_id, "model": pinned.model, "via": pinned.via})
    else:
        stdout.print(f"baseline {name} → run {pinned.run_id} ({pinned.model}, from {pinned.via})", markup=False)


@baseline_app.command("list")
@handled
def baseline_list_command(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """List pinned baselines."""
    from harness.store import open_store
    from harness.store.baselines import list_baselines

    pins = list_baselines(open_store(store, create=False))
    if as_json:
        print_json({"baselines": [{"name": b.name, "run_id": b.run_id, "updated_at": b.updated_at} for b in pins]})
        return
    table = Table(title="baselines")
    for column in ("name", "run", "updated"):
        table.add_column(column)
    for b in pins:
        table.add_row(b.name, b.run_id, str(b.updated_at or "")[:19])
    stdout.print(table)
