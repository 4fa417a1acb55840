"""What a fine-tune shows while it runs: one rich progress bar (variant, step, loss, time left), nothing else.

`TrainingProgress` is a transformers `TrainerCallback` that draws the bar on stderr (stdout stays free for
`--json`); `harness.quiet.quiet_hugging_face()` keeps Hugging Face's own bars and INFO lines out meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers import TrainerCallback

from harness.console import stderr


def new_bar(console: Console) -> Progress:
    """The fine-tune bar's columns: `NAME  ━━━━━  STEP/MAX  loss L  elapsed  time left`."""
    # In a log (no terminal) the bar is drawn once, at the end: there, no bar glyphs, so the line fits.
    bar = [BarColumn()] if console.is_terminal else []
    return Progress(TextColumn("[bold]{task.description}"), *bar, MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("left"),
                    TimeRemainingColumn(), console=console, transient=False, expand=False)


class TrainingProgress(TrainerCallback):  # type: ignore[misc]
    """One bar per fine-tune: `NAME  ━━━━━  STEP/MAX  loss L  elapsed  time left`, updated every step.

    The loss shown is the last one the Trainer logged (every `logging_steps`). Only the main process draws.
    """

    def __init__(self, name: str, console: Console | None = None) -> None:
        self.name = name
        self.console = console or stderr
        self.bar: Progress | None = None
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.bar = new_bar(self.console)
        self.bar.start()
        self.task = self.bar.add_task(f"fine-tune {self.name}", total=state.max_steps,
                                      completed=state.global_step, loss="…")

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.update(self.task, loss=f"{float(logs['loss']):.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)
            self.bar.stop()
            self.bar = None


class QueuedProgress(TrainerCallback):  # type: ignore[misc]
    """A fine-tune in another process: its step and loss go to `queue` as `(name, step, max_steps, loss)`, for
    the parent's `ProgressBoard` to draw (two processes drawing on one terminal would overwrite each other)."""

    def __init__(self, name: str, queue: Any) -> None:
        self.name, self.queue = name, queue

    def _put(self, state: Any, loss: float | None = None) -> None:
        if state.is_world_process_zero:
            self.queue.put((self.name, state.global_step, state.max_steps, loss))

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self._put(state)

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self._put(state)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
        if logs and "loss" in logs:
            self._put(state, float(logs["loss"]))


class ProgressBoard:
    """One bar per fine-tune running in other processes, drawn here from their `QueuedProgress` events until
    `close()`; `(None, ...)` on the queue stops the drawing thread."""

    def __init__(self, queue: Any, console: Console | None = None) -> None:
        self.queue, self.bar = queue, new_bar(console or stderr)
        self.tasks: dict[str, Any] = {}
        self.bar.start()
        self.thread = threading.Thread(target=self._draw, daemon=True)
        self.thread.start()

    def _draw(self) -> None:
        while (event := self.queue.get())[0] is not None:
            name, step, total, loss = event
            if name not in self.tasks:
                self.tasks[name] = self.bar.add_task(f"fine-tune {name}", total=total, completed=step, loss="…")
            self.bar.update(self.tasks[name], completed=step, total=total)
            if loss is not None:
                self.bar.update(self.tasks[name], loss=f"{loss:.4f}")

    def close(self) -> None:
        self.queue.put((None, 0, 0, None))
        self.thread.join()
        self.bar.stop()
