"""How the model client retries: one `RetryPolicy` (backoff, Retry-After), the `Transient` failures worth
retrying, and the `Breaker` that stops every call to an endpoint that keeps failing or cannot be reached.

Used by `harness.client.ModelClient` only; pure (no SDK import), so the policy can be tested on its own.
"""

from __future__ import annotations

import email.utils
import random
import socket
import time
from dataclasses import dataclass
from typing import Any

from harness.errors import EndpointUnavailable
from harness.redact import redact


class Transient(Exception):
    """A failure worth retrying; `retry_after` is the server's wish in seconds, if it said one; `unreachable`
    when no connection could be made at all (refused, or the host name does not resolve)."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: transport attempts with backoff, and re-asks on unparseable replies."""

    attempts: int = 6
    parse_attempts: int = 3
    breaker_after: int = 20  # failed attempts in a row, over all calls, that stop every call
    breaker_unreachable: int = 3  # attempts in a row that found no server at all (refused, DNS) that do
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); Retry-After wins when given."""
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        backoff = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return backoff * (1 + random.uniform(0, self.jitter))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None when absent or bad."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            when = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return None


@dataclass
class Breaker:
    """Stops every call of an endpoint that keeps failing: after `breaker_unreachable` attempts in a row found no
    server, or `breaker_after` attempts in a row failed, with no success between them."""

    policy: RetryPolicy
    failures: int = 0
    unreachable: int = 0
    tripped: EndpointUnavailable | None = None

    def check(self) -> None:
        if self.tripped is not None:
            raise self.tripped

    def succeeded(self) -> None:
        self.failures = self.unreachable = 0

    def failed(self, exc: Transient, label: str, model: str, base_url: str | None) -> None:
        self.failures += 1
        self.unreachable = self.unreachable + 1 if exc.unreachable else 0
        if self.unreachable >= self.policy.breaker_unreachable or self.failures >= self.policy.breaker_after:
            where = redact(base_url or "https://api.openai.com/v1")
            self.tripped = EndpointUnavailable(
                f"{label} endpoint {where} (model {model!r}) is unreachable: {exc}; "
                f"stopped after {self.failures} failed attempts in a row",
                hint="check that the server is up and the base URL is right; finished calls are stored, "
                "re-run to resume")
            raise self.tripped


UNREACHABLE = (ConnectionRefusedError, socket.gaierror)


def connection_failure(exc: BaseException) -> Transient:
    """A transport failure as `Transient`, marked unreachable when the cause is a refused connection or DNS."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, UNREACHABLE):
            return Transient(f"{type(exc).__name__} ({cause})", unreachable=True)
        cause = cause.__cause__ or cause.__context__
    return Transient(type(exc).__name__)
