"""`harness published import|list` (public leaderboards' numbers in the store) and `harness publish` (a
deployable read-only leaderboard folder): parse, call one function, render."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from harness.cli.options import JsonOpt, StoreOpt, handled, print_json, split_list
from harness.console import stdout

published_app = typer.Typer(help="Published leaderboards' results (kept apart from computed scores): import, list.",
                            no_args_is_help=True)


@published_app.command("import")
@handled
def published_import_command(
    file: Annotated[Path, typer.Argument(help="A published leaderboard file (README.md table, CSV, results JSON).")],
    format: Annotated[str | None, typer.Option("--format", help="llm-leaderboard | lmsys-csv | alpaca-eval-csv | "
                                               "lm-eval-results (default: detect).")] = None,
    source_url: Annotated[str | None, typer.Option(help="Source link to record where the file has none.")] = None,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD to record where the file does not say.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a published leaderboard's results as published records; importing the same file again adds nothing."""
    from harness.publish.imports import import_published

    outcome = import_published(file, format, store, source_url, date)
    if as_json:
        print_json(outcome.to_json())
        return
    tasks = ", ".join(outcome.mapped_to_tasks) or "none"
    stdout.print(f"{outcome.file} ({outcome.format}): {outcome.results_read} results of {outcome.models} models "
                 f"read, {outcome.results_written} new; tables {', '.join(outcome.leaderboards)}; beside the "
                 f"store's tasks: {tasks}", markup=False)


@published_app.command("list")
@handled
def published_list_command(
    model: Annotated[str | None, typer.Option(help="Only this published model's results.")] = None,
    leaderboard: Annotated[str | None, typer.Option(help="Only this published table's results.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The published tables in the store (and, with --model or --leaderboard, their results with sources)."""
    from harness.store import open_store
    from harness.store.published import list_leaderboards, read_published

    opened = open_store(store, create=False)
    tables = list_leaderboards(opened)
    results = read_published(opened, leaderboard, [model] if model else None)
    if as_json:
        print_json({"leaderboards": tables, "results": [asdict(r) for r in results]})
        return
    stdout.print(_tables_table(tables))
    if model or leaderboard:
        stdout.print(_results_table(results))


def _tables_table(tables: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(tables)} published table(s)")
    for column in ("leaderboard", "format", "file", "date", "models", "benchmarks", "results"):
        table.add_column(column, justify="right" if column in ("models", "benchmarks", "results") else "left")
    for t in tables:
        table.add_row(t["leaderboard"], ", ".join(t["formats"]), ", ".join(f or "" for f in t["files"]),
                      t["source_date"] or "—", str(t["models"]), str(t["benchmarks"]), str(t["results"]))
    return table


def _results_table(results: list[Any]) -> Table:
    table = Table(title=f"{len(results)} published result(s)")
    for column in ("model", "benchmark", "task", "value", "leaderboard", "source"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(r.model, r.benchmark, r.task or "—", f"{r.value:.4g}", r.leaderboard, r.source_url or "—")
    return table


@handled
def publish_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (new or empty; --force replaces a publish).")],
    models: Annotated[str | None, typer.Option(help="Only these models (comma-separated) (default: all).")] = None,
    published: Annotated[bool, typer.Option(help="Include the published results.")] = True,
    title: Annotated[str, typer.Option(help="The Space's title.")] = "harness leaderboard",
    force: Annotated[bool, typer.Option(help="Replace what a previous publish wrote in --out.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a read-only snapshot of the store plus the Streamlit app, ready for Streamlit Cloud or a HF Space."""
    from harness.publish.snapshot import publish

    chosen = split_list(models) or None
    outcome = publish(out, store, chosen, published, force, title)
    if as_json:
        print_json(outcome.to_json())
        return
    rows = ", ".join(f"{name} {n}" for name, n in outcome.rows.items() if n)
    stdout.print(f"{outcome.out}: snapshot of {len(outcome.models)} model(s) ({rows}); "
                 f"run it with: cd {outcome.out} && streamlit run app.py", markup=False)
