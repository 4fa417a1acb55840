"""Terminal output: one rich console for tables on stdout, logs and progress on stderr.

`configure_logging` is called once by the CLI callback, never at import time. Without a terminal (logs, CI,
pipes) nothing is cut to 80 columns: a table or message wider than the console is printed at its own width, and
log records are plain lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.logging import RichHandler
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from harness.redact import redact

UNBOUNDED = 100_000  # columns offered when measuring what a renderable needs


def natural_width(console: Console, renderable: Any) -> int:
    """Columns `renderable` needs so that no value wraps and no header is cut (0: it fits any width).

    Text counts its longest line; a table its widest cells and its title; a rule its title; a group its widest
    member.
    """
    if isinstance(renderable, str):
        renderable = console.render_str(renderable)
    if isinstance(renderable, Text):
        return max((cell_len(line) for line in renderable.plain.splitlines()), default=0)
    if isinstance(renderable, Group):
        return max((natural_width(console, r) for r in renderable.renderables), default=0)
    if isinstance(renderable, Rule):  # a heading: its title whole, with a few columns of line after it
        return natural_width(console, renderable.title) + 4
    if isinstance(renderable, Table):
        options = console.options.update(width=UNBOUNDED, max_width=UNBOUNDED)
        cells = Measurement.get(console, options, renderable).maximum
        title = natural_width(console, renderable.title) if isinstance(renderable.title, str | Text) else 0
        return max(cells, title)
    return 0


def _tables(objects: Any) -> Iterator[Table]:
    for item in objects:
        if isinstance(item, Table):
            yield item
        elif isinstance(item, Group):
            yield from _tables(item.renderables)


class LogConsole(Console):
    """A rich console that, with no terminal attached, prints what is wider than it at its natural width.

    A terminal keeps rich's fitting (wrap to the window). In a log a line may be long, but a cut header
    (`win_rate_adjus…`) or a value split over two lines cannot be read back, nor a command copied.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for table in _tables(objects):  # a title wider than its table widens the table instead of wrapping
            table.min_width = max(table.min_width or 0, natural_width(self, table))
        wanted = 0 if self.is_terminal else max((natural_width(self, o) for o in objects), default=0)
        if wanted <= self.width:
            super().print(*objects, **kwargs)
            return
        saved = self._width  # None when rich works the width out itself (COLUMNS, the terminal, 80)
        self.width = wanted
        try:
            super().print(*objects, **kwargs)
        finally:
            self._width = saved


stdout = LogConsole()
stderr = LogConsole(stderr=True)


def _redacted(record: logging.LogRecord) -> bool:
    """A logging filter: the record's text with credentials masked (never drops a record)."""
    message = record.getMessage()
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    return True


class _PlainStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Plain lines to whatever `sys.stderr` is when a record comes (as the rich console writes), so a stream
    swapped since (a test runner's capture) is never written to after it closed."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return stderr.file

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Send `logging` records to stderr through rich; --quiet shows warnings, --verbose debug."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
    if stderr.is_terminal:
        handler = RichHandler(console=stderr, show_path=False, rich_tracebacks=False, markup=False)
    else:  # a log file or CI: one unwrapped line per record
        handler = _PlainStderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
    handler.addFilter(_redacted)
    logging.basicConfig(level=level, handlers=[handler], force=True)
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
        TimeRemainingColumn(),
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
