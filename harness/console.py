"""Terminal output: one rich console for tables on stdout, logs and progress on stderr.

`configure_logging` is called once by the CLI callback, never at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from harness.redact import redact

stdout = Console()
stderr = Console(stderr=True)


def _redacted(record: logging.LogRecord) -> bool:
    """A logging filter: the record's text with credentials masked (never drops a record)."""
    message = record.getMessage()
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    return True


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Send `logging` records to stderr through rich; --quiet shows warnings, --verbose debug."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(console=stderr, show_path=False, rich_tracebacks=False, markup=False)
    handler.addFilter(_redacted)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    # openai 3 talks through httpx2/httpcore2, which log every request at INFO under their own names.
    noisy_loggers = ("httpx", "httpx2", "httpcore", "httpcore2", "urllib3", "filelock", "datasets", "openai",
                     "transformers")
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # lm-eval narrates every task at INFO; keep its warnings, minus one that is noise for our in-memory tasks.
    lm_eval = logging.getLogger("lm_eval")
    lm_eval.setLevel(logging.DEBUG if verbose else max(level, logging.WARNING))
    handler.addFilter(lambda record: "Custom kwargs can be passed" not in record.getMessage())


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Progress]:
    """A progress bar on stderr; callers do `bar.advance(bar.task_ids[0])` per unit of work."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=False,
    )
    with bar:
        bar.add_task(description, total=total)
        yield bar


def render_error(message: str, hint: str | None) -> None:
    """Print one error line (and its fix) to stderr, no traceback; brackets in the text print as typed
    (`.[postgres]` is not rich markup) and credentials in URLs are masked."""
    line = f"[bold red]error:[/] {escape(redact(message))}"
    if hint:
        line += f" [dim]— {escape(redact(hint))}[/]"
    stderr.print(line, highlight=False, soft_wrap=True)


def render_warning(message: str, hint: str | None = None) -> None:
    """Print one warning line (and what to do) to stderr."""
    line = f"[bold yellow]warning:[/] {escape(redact(message))}"
    if hint:
        line += f" [dim]— {escape(redact(hint))}[/]"
    stderr.print(line, highlight=False, soft_wrap=True)
