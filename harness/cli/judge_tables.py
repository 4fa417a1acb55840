"""Rich tables for the judge methods' reports: AlpacaEval's leaderboard columns, the MT-bench score table,
agreement in FastChat's counting, arena-hard scores. `harness.cli.judge` calls these for human output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

ALPACA_COLUMNS = {"model": "model", "win_rate": "win_rate", "standard_error": "SE", "n_wins": "wins",
                  "n_wins_base": "base wins", "n_draws": "draws", "n_total": "n", "discrete_win_rate": "discrete",
                  "avg_length": "avg_len", "length_controlled_winrate": "LC win_rate"}


def fmt(value: Any, digits: int = 3) -> str:
    """A cell: '-' for None, floats to `digits` places."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def alpaca_eval_table(rows: list[dict[str, Any]], title: str) -> Table:
    """AlpacaEval's leaderboard columns (percentages to 2 places, as its leaderboard prints them)."""
    table = Table(title=title)
    for column, header in ALPACA_COLUMNS.items():
        table.add_column(header, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(*[fmt(r[c], 2) for c in ALPACA_COLUMNS])
    return table


def results_tables(doc: dict[str, Any], default: Callable[[dict[str, Any]], Group]) -> Group:
    """`harness judge results`: the mode's own tables, or `default` for the pairwise and single modes."""
    if doc["mode"] == "score-totals":
        return Group(*[score_totals_table(e["results"], f"{e['judge']} (total scores)") for e in doc["judges"]])
    if doc["mode"] == "arena-hard":
        return Group(*[arena_hard_table(e["results"], f"{e['judge']} (arena-hard, baseline {doc['baseline']}"
                                        f"{', style control ' + ','.join(doc['control']) if doc['control'] else ''})")
                       for e in doc["judges"]])
    if doc["mode"] != "alpaca-eval":
        return default(doc)
    tables: list[Any] = []
    for entry in doc["judges"]:
        rows = entry["results"]
        baseline = rows[0]["baseline"] if rows else doc["baseline"]
        tables.append(alpaca_eval_table(rows, f"{entry['judge']} (AlpacaEval, baseline {baseline})"))
    if doc.get("length_control"):
        tables.append(Text(doc["length_control"]))
    return Group(*tables) if tables else Group(Text("no battles in the store yet"))


def score_totals_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Summed scores per model pair, as the Vicuna blog's "Total Scores Assessed by GPT-4" table."""
    table = Table(title=title)
    for column in ("model_a", "model_b", "total_a", "total_b", "n"):
        table.add_column(column, justify="right" if column.startswith(("total", "n")) else "left")
    for r in rows:
        table.add_row(r["model_a"], r["model_b"], fmt(r["total_a"], 1), fmt(r["total_b"], 1), str(r["n"]))
    return table


def arena_hard_table(rows: list[dict[str, Any]], title: str) -> Table:
    """arena-hard's show_result lines: score (win rate vs the baseline, %), its 95 % CI as offsets, games."""
    table = Table(title=title)
    for column in ("model", "score", "95% CI", "games"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        ci = "-" if r["lower"] is None else f"({r['lower'] - r['score']:+.1f}, {r['upper'] - r['score']:+.1f})"
        table.add_row(r["model"], f"{r['score']:.1f}", ci, str(r["games"]))
    return table
