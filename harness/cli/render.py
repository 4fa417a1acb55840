"""Rich renderings of records for the CLI's human output (tables on stdout)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table

from harness.fingerprint import short


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def scores_table(outcome: Any) -> Table:
    """task × metric × value ± stderr for one eval outcome."""
    source = "from the store" if outcome.cached else "computed"
    table = Table(title=f"{outcome.model_name} [{short(outcome.fingerprint)}] run {outcome.run_id} ({source})")
    for column in ("task", "metric", "filter", "value", "± stderr", "n"):
        table.add_column(column, justify="right" if column in ("value", "± stderr", "n") else "left")
    for s in outcome.scores:
        table.add_row(s.task, s.metric, s.filter, _fmt(s.value), _fmt(s.stderr), str(s.n or ""))
    return table


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """One line per run."""
    table = Table(title="runs")
    for column in ("run", "model", "suite/tasks", "backend", "status", "started", "finished"):
        table.add_column(column)
    for r in rows:
        tasks = r["suite"] or ",".join(t["task"] for t in r["tasks"])
        table.add_row(r["id"], r["model"], tasks, r["backend"], r["status"],
                      str(r["started_at"])[:19], str(r["finished_at"] or "")[:19])
    return table


def run_detail(run: dict[str, Any]) -> Group:
    """A run's metadata and its scores."""
    meta = Table(show_header=False, title=f"run {run['id']}")
    for key in ("model", "model_fingerprint", "status", "error", "suite", "backend", "chat_template",
                "chat_template_hash", "git_revision", "started_at", "finished_at"):
        meta.add_row(key, str(run.get(key)))
    meta.add_row("versions", json.dumps(run["versions"]))
    meta.add_row("config", json.dumps(run["config"]))
    scores = Table(title="scores")
    for column in ("task", "metric", "filter", "value", "± stderr", "n"):
        scores.add_column(column)
    for s in run["scores"]:
        scores.add_row(s["task"], s["metric"], s["filter"], _fmt(s["value"]), _fmt(s["stderr"]), str(s["n"] or ""))
    return Group(meta, scores)
