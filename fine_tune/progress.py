"""What a fine-tune shows while it runs: one rich progress bar (variant, step, loss, time left), nothing else.

`TrainingProgress` is a transformers `TrainerCallback` that draws the bar on stderr (stdout stays free for
`--json`); `harness.quiet.quiet_hugging_face()` keeps Hugging Face's own bars and INFO lines out meanwhile.
"""

from __future__ import annotations

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
        # In a log (no terminal) the bar is drawn once, at the end: there, no bar glyphs, so the line fits.
        bar = [BarColumn()] if self.console.is_terminal else []
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), *bar, MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("left"),
            TimeRemainingColumn(), console=self.console, transient=False, expand=False,
        )
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
