"""The click groups behind `harness`: command listings with each command's whole one-line help, and a root group
that imports a command's module only when that command runs or shows its own help.

So `harness --help` loads typer and this package's two small modules, not rich, the store or any command module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and the line `--help` lists for it without importing it."""

    module: str
    """Module under `harness.cli` that defines it."""
    attr: str
    """The command function, or the `typer.Typer` of a command group, in that module."""
    summary: str
    """The first paragraph of its help (a test checks that it matches the docstring)."""


def first_paragraph(text: str | None) -> str:
    """A help text's first paragraph on one line: what a command listing shows."""
    return " ".join((text or "").split("\n\n")[0].split())


class ListedGroup(TyperGroup):
    """A group whose listing shows each command's whole first paragraph, wrapped, where click would cut it at the
    first full stop or the terminal's width with `...`."""

    def summary(self, ctx: Context, name: str) -> str | None:
        """The listed line for command `name` (None: not listed)."""
        command = self.get_command(ctx, name)
        if command is None or command.hidden:
            return None
        return command.short_help or first_paragraph(command.help)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(name, line) for name in self.list_commands(ctx) if (line := self.summary(ctx, name)) is not None]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _LoadedOnUse(Mapping[str, "Command"]):
    """A group's `commands`: the names come from a table, a command is built the first time it is looked up."""

    def __init__(self, names: Mapping[str, LazyCommand], load: Callable[[str], Command]) -> None:
        self._names, self._load = names, load
        self._loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class LazyGroup(ListedGroup):
    """A group whose commands are listed from `table` and imported on first use (click's lazy-group pattern).

    Subclasses set `table`; a command is built exactly as `app.command(name)` or `app.add_typer(sub_app,
    name=name)` would have built it, with this group's markup mode.
    """

    table: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _LoadedOnUse(self.table, self._load)  # type: ignore[assignment]

    def _load(self, name: str) -> Command:
        entry = self.table[name]
        target = getattr(importlib.import_module(f"harness.cli.{entry.module}"), entry.attr)
        holder = typer.Typer(rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name, cls=ListedGroup)
        else:
            holder.command(name)(target)
        return typer.main.get_group(holder).commands[name]

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.table)  # the names alone: nothing is imported to list them

    def summary(self, ctx: Context, name: str) -> str | None:
        return self.table[name].summary
