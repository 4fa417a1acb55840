"""What every `harness` command shares: option types defined once, the error boundary, and JSON output.

Commands annotate their parameters with these aliases (lighteval's `cli_args.py` pattern) so a flag means the
same thing, with the same type and help, wherever it appears.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from harness.console import render_error
from harness.errors import HarnessError

F = TypeVar("F", bound=Callable[..., Any])

StoreOpt = Annotated[str | None, typer.Option("--store", envvar="HARNESS_STORE",
                                              help="Store URL or SQLite path (default: results/harness.db).")]
JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON document on stdout.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Checkpoint dir, hub id, PEFT adapter dir or served "
                                                             "model name.")]
ModelsOpt = Annotated[list[str], typer.Option("--model", "-m", help="Checkpoint dir, hub id, PEFT adapter dir or "
                                                                "served model name (repeat for several models).")]
NameOpt = Annotated[str | None, typer.Option(help="Store the model under this name (default: --model as given).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="Endpoint of an OpenAI-compatible server (API backends).")]
BatchSizeOpt = Annotated[str | None, typer.Option(help="auto or an integer (default: 16 on CPU, auto on GPU).")]
DeviceOpt = Annotated[str, typer.Option(help="cpu | cuda | cuda:N.")]
DtypeOpt = Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16.")]
ChatTemplateOpt = Annotated[str | None, typer.Option(help="alpaca | vicuna | tokenizer | FILE.jinja.")]
ForceOpt = Annotated[bool, typer.Option(metavar="", help="Compute again even when the store has the result.")]
TasksOpt = Annotated[list[str] | None, typer.Option(help="Task names (repeat or comma-separate).")]
ExecutorOpt = Annotated[str, typer.Option(help="local (this process) | ray (one Ray task per unit of work).")]
RayAddressOpt = Annotated[str | None, typer.Option(help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 "
                                                        "(default: a local cluster).")]
GpusPerUnitOpt = Annotated[float | None, typer.Option(help="GPUs each Ray unit reserves (default: tp x dp on cuda, "
                                                           "0 on cpu).")]
CpusPerUnitOpt = Annotated[float, typer.Option(help="CPUs each Ray unit reserves.")]
RetriesOpt = Annotated[int, typer.Option(help="Extra attempts for a Ray unit that failed or whose worker died.")]
SkipBadOpt = Annotated[bool, typer.Option("--skip-bad", metavar="", help="Skip (and count) malformed rows or records.")]


def handled(func: F) -> F:
    """Turn a `HarnessError` into its one-line message and exit code (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HarnessError as exc:
            render_error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            render_error("interrupted", "re-run the same command to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


def validated(model_cls: Any, **values: Any) -> Any:
    """Build a pydantic config from CLI values; a validation error becomes one line naming the flag."""
    from pydantic import ValidationError

    try:
        return model_cls(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HarnessError(f"bad value for --{'-'.join(map(str, err['loc']))}: {err['msg']}") from None


def split_list(value: str | list[str] | None) -> list[str]:
    """`a,b` (or a repeated option's values, each possibly comma-separated) as a clean list."""
    values = [value] if isinstance(value, str) else value or []
    return [item.strip() for v in values for item in v.split(",") if item.strip()]
