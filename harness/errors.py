"""Errors a user can act on: each carries a one-line message and, where there is one, the fix.

The CLI prints a `HarnessError` without a traceback and exits with its `exit_code`
(2 for usage/config problems, 3 for failures at run time). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

# Exit codes of every command: 0 ok, 1 gate regression, 2 usage/config error, 3 failure at run time,
# 4 stopped at a spending cap (`--max-cost`), 130 interrupted.
EXIT_BUDGET = 4


class HarnessError(Exception):
    """A problem the user can fix; `hint` says how."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class StoreSchemaTooNew(HarnessError):
    """The store was written by a newer harness than this one."""


class ModelNotFound(HarnessError):
    """A model path, hub id or store name that does not resolve."""


class MissingExtra(HarnessError):
    """An optional dependency (vllm, psycopg2, ...) that is not installed."""


class EndpointUnavailable(HarnessError):
    """A model endpoint (judge, chat server, self-instruct model) refuses the key, the model, or every request."""

    exit_code = 3


class RunFailed(HarnessError):
    """Work that started and then failed (the store records it as `failed`)."""

    exit_code = 3


class UnparseableReply(ValueError):
    """A model's reply the caller's parser rejects; the client asks again (not a user error)."""


def missing_extra(feature: str, extra: str, module: str) -> MissingExtra:
    """Build the error for a feature whose optional dependency `module` is absent."""
    return MissingExtra(
        f"{feature} needs the {extra} extra ({module} is not installed)",
        hint=f"pip install -e '.[{extra}]'",
    )
