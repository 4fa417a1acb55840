"""Where the project's data files are: `tasks/` (task YAMLs, suites, question sets, judge prompts).

In a checkout they sit beside the package (`<repo>/tasks`); a built wheel ships them inside it
(`harness/tasks`, mapped in pyproject.toml). `tasks_dir()` is the one place that knows both.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def tasks_dir() -> Path:
    """The `tasks/` folder: the installed package data if present, else the checkout's."""
    installed = _PACKAGE / "tasks"
    return installed if installed.is_dir() else _PACKAGE.parent / "tasks"
