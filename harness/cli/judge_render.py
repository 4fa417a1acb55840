"""Rich tables for `harness generate` and `harness judge ...` (human output; `--json` bypasses them)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def results_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Pairwise win/loss/tie rows or single-grade rows, whichever `rows` holds."""
    table = Table(title=title)
    if rows and "turns" in rows[0]:
        turns = sorted({int(t) for r in rows for t in r["turns"]})
        for column in ["model", *[f"turn {t}" for t in turns], "score", "n"]:
            table.add_column(column)
        for r in rows:
            per_turn = {int(k): v for k, v in r["turns"].items()}
            table.add_row(r["model"], *[_fmt(per_turn.get(t)) for t in turns], _fmt(r["score"]), str(r["n"]))
        return table
    columns = ["model", "win", "loss", "tie", "n", "win_rate", "loss_rate", "win_rate_adjusted"]
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(*[_fmt(r[c]) for c in columns])
    return table


def judge_summary(doc: dict[str, Any]) -> Group:
    """The outcome of `harness judge`: who judged, what it cost, and the results."""
    j, u = doc["judgments"], doc["usage"]
    calls = (
        f"judge calls: {j['planned']} planned, {j['cached']} from the store, {j['called']} made now, "
        f"{j['errors']} errors, {j['skipped_budget']} skipped at --max-cost; battles written: {j['battles_written']}"
    )
    tokens = (
        f"tokens: {u['prompt_tokens']} prompt + {u['completion_tokens']} completion, cost ${u['cost_usd']:.4f}, "
        f"{u['retries']} retries"
    )
    lines = [
        f"judge: {doc['judge']} ({doc['judge_label']}), mode {doc['mode']}, questions {doc['question_set']}",
        calls,
        tokens,
    ]
    if doc["skipped_no_reference"]:
        lines.append(
            f"{doc['skipped_no_reference']} question turns without a reference were not judged (offline judge)"
        )
    if doc["stopped_by_budget"]:
        lines.append("stopped at --max-cost: re-run with a higher budget to finish")
    return Group(Text("\n".join(lines)), results_table(doc["results"], f"results ({doc['judge']})"))


def agreement_table(doc: dict[str, Any]) -> Group:
    """Agreement per turn and overall, with and without ties, and each judge's position consistency."""
    table = Table(title=f"agreement: {doc['judge']} vs {doc['against']}")
    for column in ("turn", "with ties", "n", "without ties", "n"):
        table.add_column(column)
    for row in [*doc["turns"], {"turn": "all", **doc["overall"]}]:
        w, wo = row["with_ties"], row["without_ties"]
        table.add_row(
            str(row["turn"]), _fmt(w["ratio"]), str(w["total"]), _fmt(wo["ratio"]), str(wo["total"])
        )
    position = Table(title="position consistency (pairs judged in both orders)")
    for column in ("judge", "pairs", "consistency", "first-position bias", "second-position bias"):
        position.add_column(column)
    for p in doc["position"]:
        position.add_row(
            p["judge"],
            str(p["n"]),
            _fmt(p["consistency"]),
            _fmt(p["first_position_bias"]),
            _fmt(p["second_position_bias"]),
        )
    return Group(table, position)


def results_report_tables(doc: dict[str, Any]) -> Group:
    """`harness judge results`: one table per judge, titled with what that judge has cost."""
    tables = []
    for entry in doc["judges"]:
        usage = entry.get("usage") or {}
        spent = f", {usage.get('judgments', 0)} judgments, ${usage.get('cost_usd', 0.0):.4f}" if usage else ""
        tables.append(results_table(entry["results"], f"{entry['judge']} ({doc['mode']}{spent})"))
    return Group(*tables) if tables else Group(Text("no judgments or battles in the store yet"))
