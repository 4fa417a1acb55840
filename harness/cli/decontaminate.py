"""`harness decontaminate`: parse, call `harness.decontaminate`, render the per-task overlap table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from harness.cli.options import JsonOpt, StoreOpt, TasksOpt, handled, print_json, split_list
from harness.console import stdout
from harness.errors import HarnessError


@handled
def decontaminate_command(
    data: Annotated[list[str], typer.Option(help="Fine-tuning data: Alpaca or ShareGPT JSON/JSONL (repeat).")],
    suite: Annotated[str | None, typer.Option(help="Suite whose tasks' documents to check against.")] = None,
    tasks: TasksOpt = None,
    ngram: Annotated[int, typer.Option(help="Words per n-gram (13: lm-eval's and GPT-3's choice).")] = 13,
    out: Annotated[str | None, typer.Option(help="Write the uncontaminated records here (one --data only).")] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", metavar="", help=(
        "Keep what was found per --data in the store, keyed by the data's sha256: the leaderboard flags models "
        "whose card names that data."))] = True,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find evaluation documents in fine-tuning data by n-gram overlap; optionally write a cleaned file."""
    from harness.decontaminate import contamination_rows, reports_by_file, write_clean
    from harness.eval.suites import resolve_tasks

    if out and len(data) != 1:
        raise HarnessError("--out needs exactly one --data file", hint="clean one file at a time")
    names = [entry.task for entry in resolve_tasks(suite, split_list(tasks), None)]
    report, per_file = reports_by_file(data, names, ngram)
    kept = write_clean(data, report, out) if out else None
    recorded = _record(store, [row for each in per_file for row in contamination_rows(each)]) if record else 0
    if as_json:
        print_json({**report.to_json(), "out": out, "kept": kept, "recorded": recorded})
        return
    table = Table(title=f"{report.records} records vs {', '.join(names)} ({ngram}-grams)")
    for column in ("task", "docs", "contaminated docs", "contaminated records", "example"):
        table.add_column(column)
    for name, t in sorted(report.tasks.items()):
        example = f"{t.examples[0].record} ~ doc {t.examples[0].doc_id}: {t.examples[0].gram!r}" if t.examples else ""
        table.add_row(name, str(t.docs), str(len(t.contaminated_docs)), str(len(t.records)), example)
    stdout.print(table)
    if out:
        stdout.print(f"wrote {kept} of {report.records} records to {out}")


def _record(store: str | None, rows: list[dict[str, object]]) -> int:
    from harness.store import open_store
    from harness.store.contamination import write_contamination

    return write_contamination(open_store(store), rows)
