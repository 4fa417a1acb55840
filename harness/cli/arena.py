"""`harness arena`: parse, call `arena.run.run_arena`, render the ratings table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from harness.cli.options import (
    JsonOpt,
    SeedOpt,
    SkipBadOpt,
    StoreOpt,
    handled,
    print_json,
    split_list,
    validated,
)
from harness.console import stdout
from harness.errors import HarnessError
from harness.fingerprint import short

if TYPE_CHECKING:  # numpy and scipy load only when a command rates battles
    from harness.arena.ratings import ArenaReport


@handled
def arena_command(
    battles: Annotated[Path | None, typer.Option("--battles", help="clean_battle JSON/JSONL, or any file "
                                                 "`harness judge import` reads (stored too).")] = None,
    from_store: Annotated[bool, typer.Option("--from-store", metavar="", help="Rate the battles in the store.")] = False,
    method: Annotated[str, typer.Option(help="bt | elo | both.")] = "both",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the BT CIs (0: none).")] = 1000,
    anchor: Annotated[str | None, typer.Option(help="MODEL=RATING: pin one model's rating.")] = None,
    category: Annotated[str | None, typer.Option(help="Only battles of this category.")] = None,
    control: Annotated[str | None, typer.Option(help="Style control covariates: length,markdown.")] = None,
    judge: Annotated[list[str] | None, typer.Option(help="Only battles of this source: human, crowd or a judge "
                                                    "model (repeat to pool several); required when the store "
                                                    "holds several.")] = None,
    skip_bad: SkipBadOpt = False,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rate models from battles: online Elo and Bradley-Terry with bootstrap CIs and rank ranges."""
    from harness.arena.ratings import ArenaConfig
    from harness.arena.run import run_arena

    config = validated(ArenaConfig, method=method, bootstrap=bootstrap, seed=seed, anchor=parse_anchor(anchor),
                       control=tuple(split_list(control)))
    outcome = run_arena(config, battles, from_store, category, skip_bad, store, split_list(judge) or None)
    if as_json:
        print_json(outcome.to_json())
    else:
        stdout.print(arena_table(outcome.report))


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    """An Arena-style CI: how far the bounds lie below and above the rating."""
    if value is None or low is None or high is None:
        return "—"
    return f"-{value - low:.0f}/+{high - value:.0f}"


def arena_table(report: ArenaReport, title: str | None = None) -> Table:
    """One row per model, best BT first: rank range, BT with its CI, Elo, controlled BT and CI, battles.

    Whole rating points; `--json` has full precision."""
    table = Table(title=title or f"arena: {report.n_battles:,} battles, {len(report.models)} models")
    controlled = report.style is not None
    columns = ["rank", "model", "BT", f"{report.config.ci:.0%} CI", "Elo"]
    columns += (["BT ctrl", "ctrl CI"] if controlled else []) + ["n"]
    rows = []
    for row in report.rows:
        rank = str(row.rank_low) if row.rank_low == row.rank_high else f"{row.rank_low}–{row.rank_high}"
        cells = [rank, row.model, _cell(row.bt), _interval(row.bt, row.ci_low, row.ci_high), _cell(row.elo)]
        if controlled:
            cells += [_cell(row.bt_controlled),
                      _interval(row.bt_controlled, row.controlled_ci_low, row.controlled_ci_high)]
        rows.append([*cells, f"{row.battles:,}"])
    for k, column in enumerate(columns):
        widest = max(len(r[k]) for r in rows)
        if column == "model":
            table.add_column(column, min_width=min(16, widest), overflow="fold")
        else:
            table.add_column(column, justify="right", min_width=widest)
    for cells in rows:
        table.add_row(*cells)
    notes = [f"battle set {short(report.battle_set)}", f"{report.config.bootstrap} bootstrap rounds"]
    if report.config.anchor is not None:
        notes.append(f"anchor {report.config.anchor[0]} = {report.config.anchor[1]:g}")
    if report.style is not None:
        weights = ", ".join(f"{n} {c:+.3f}" for n, c in zip(report.style.features, report.style.coefficients))
        notes.append(f"style coefficients (log-odds per SD): {weights}")
    table.caption = "; ".join(notes)
    return table


def parse_anchor(value: str | None) -> tuple[str, float] | None:
    """`MODEL=RATING` -> (model, rating); None passes through."""
    if value is None:
        return None
    model, sep, rating = value.rpartition("=")
    try:
        if not sep or not model:
            raise ValueError
        return model, float(rating)
    except ValueError:
        raise HarnessError(f"bad --anchor {value!r}",
                           hint="use MODEL=RATING, e.g. --anchor vicuna-13b=1000") from None
