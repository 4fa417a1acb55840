"""The judge client: one async `openai` client per judge model, with a concurrency limit, one retry policy,
token and cost accounting and a spending stop.

`JudgeClient.complete(messages, parse)` returns a `Completion` whose value is the parsed verdict, or an
error after the policy's attempts. 429, 5xx, timeouts, dropped connections and malformed bodies are retried
with exponential backoff (honouring Retry-After); outputs the parser rejects are asked again. The API key
is handed to the SDK and kept nowhere else: not in records, not in logs.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.errors import JudgeUnavailable, missing_extra
from harness.judge.verdicts import VerdictError

log = logging.getLogger(__name__)
T = TypeVar("T")

# USD per million (prompt, completion) tokens, matched by longest prefix of the model name.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4-1106-preview": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}


class BudgetExceeded(Exception):
    """`--max-cost` is spent: no new judge call starts."""


class _Rejected(Exception):
    """The endpoint refused this one request (4xx other than auth): not retried, recorded as an error."""


class _Transient(Exception):
    """A failure worth retrying; `retry_after` is the server's wish in seconds, if it said one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: transport attempts with exponential backoff, and re-asks on bad verdicts."""

    attempts: int = 6
    parse_attempts: int = 3
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


@dataclass
class Usage:
    """What one judge model has cost so far in this process."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Completion(Generic[T]):
    """One logical judge call: the last text, the parsed value (None on error) and what all attempts cost."""

    text: str | None
    value: T | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    attempts: int

    @property
    def ok(self) -> bool:
        return self.error is None


def price_for(model: str, override: tuple[float, float] | None = None) -> tuple[float, float]:
    """USD per million prompt and completion tokens: `override`, else the longest known prefix, else 0."""
    if override is not None:
        return override
    matches = [name for name in PRICES_PER_MTOK if model.startswith(name)]
    if not matches:
        log.warning("no price known for judge %s: cost counts as 0 (pass --price-per-mtok IN,OUT)", model)
        return (0.0, 0.0)
    return PRICES_PER_MTOK[max(matches, key=len)]


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
class _Attempts:
    calls: int = 0
    bad_verdicts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    text: str | None = None
    errors: list[str] = field(default_factory=list)


class JudgeClient:
    """An OpenAI-compatible chat endpoint for one judge model, shared by every call of a run."""

    def __init__(
        self,
        model: str,
        base_url: str | None,
        api_key: str,
        *,
        concurrency: int = 16,
        policy: RetryPolicy | None = None,
        price: tuple[float, float] | None = None,
        max_cost: float | None = None,
        timeout: float = 120.0,
        max_tokens: int = 1024,
    ) -> None:
        try:
            import httpx2
            import openai
        except ModuleNotFoundError as exc:  # pragma: no cover - openai is a core dependency
            raise missing_extra("the LLM judge", "core", "openai") from exc
        self.model = model
        self.policy = policy or RetryPolicy()
        self.price = price_for(model, price)
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.usage = Usage()
        self._openai = openai
        self._httpx = httpx2
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def over_budget(self) -> bool:
        return self.max_cost is not None and self.usage.cost_usd >= self.max_cost

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self, messages: list[dict[str, str]], parse: Callable[[str], T], max_tokens: int | None = None
    ) -> Completion[T]:
        """Ask the judge once (retrying per the policy); raises BudgetExceeded before starting when spent."""
        async with self._slots:
            if self.over_budget:
                raise BudgetExceeded(f"spent ${self.usage.cost_usd:.4f} of --max-cost ${self.max_cost}")
            state = _Attempts()
            while True:
                outcome = await self._attempt(messages, parse, max_tokens or self.max_tokens, state)
                if outcome is not None:
                    return outcome

    async def _attempt(
        self, messages: list[dict[str, str]], parse: Callable[[str], T], max_tokens: int, state: _Attempts
    ) -> Completion[T] | None:
        state.calls += 1
        self.usage.calls += 1
        if state.calls > 1:
            self.usage.retries += 1
        try:
            text, prompt_tokens, completion_tokens = await self._call(messages, max_tokens)
        except _Rejected as exc:
            return self._finish(state, None, str(exc))
        except _Transient as exc:
            state.errors.append(str(exc))
            transport_failures = state.calls - state.bad_verdicts
            if transport_failures >= self.policy.attempts:
                return self._finish(state, None, f"gave up after {state.calls} attempts: {exc}")
            wait = self.policy.delay(transport_failures, exc.retry_after)
            log.debug("judge %s: %s; retrying in %.2fs", self.model, exc, wait)
            await asyncio.sleep(wait)
            return None
        self._account(state, prompt_tokens, completion_tokens)
        state.text = text
        try:
            return self._finish(state, parse(text), None)
        except VerdictError as exc:
            state.bad_verdicts += 1
            state.errors.append(str(exc))
            if state.bad_verdicts >= self.policy.parse_attempts:
                return self._finish(
                    state, None, f"unparseable verdict after {state.bad_verdicts} tries: {exc}"
                )
            return None

    def _account(self, state: _Attempts, prompt_tokens: int, completion_tokens: int) -> None:
        cost = (prompt_tokens * self.price[0] + completion_tokens * self.price[1]) / 1e6
        state.prompt_tokens += prompt_tokens
        state.completion_tokens += completion_tokens
        state.cost += cost
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        self.usage.cost_usd += cost

    @staticmethod
    def _finish(state: _Attempts, value: T | None, error: str | None) -> Completion[T]:
        return Completion(
            state.text, value, error, state.prompt_tokens, state.completion_tokens, state.cost, state.calls
        )

    async def _call(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[str, int, int]:
        """One HTTP request; returns (text, prompt tokens, completion tokens) or raises `_Transient`."""
        openai = self._openai
        body = {"model": self.model, "messages": messages, "temperature": 0.0, "max_tokens": max_tokens}
        try:
            # The SDK's documented raw-request path: same auth, errors and timeouts as chat.completions.create,
            # without its per-call typed-dict transform and pydantic parse (half the client's CPU at 300 req/s).
            response = await self._client.post("/chat/completions", cast_to=self._httpx.Response, body=body)
        except openai.AuthenticationError as exc:
            raise JudgeUnavailable(
                f"judge endpoint refused the API key ({exc.status_code})",
                hint="check the key in the variable named by --judge-api-key-env",
            ) from None
        except openai.APIStatusError as exc:
            if exc.status_code == 429 or exc.status_code >= 500 or exc.status_code == 408:
                raise _Transient(f"HTTP {exc.status_code}", parse_retry_after(exc.response.headers)) from None
            if exc.status_code not in (
                403,
                404,
            ):  # e.g. 400 prompt too long: this call fails, the run goes on
                raise _Rejected(f"HTTP {exc.status_code}: {exc.message[:200]}") from None
            raise JudgeUnavailable(
                f"judge endpoint answered HTTP {exc.status_code}: {exc.message[:200]}",
                hint="check --judge and --judge-base-url",
            ) from None
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise _Transient(type(exc).__name__) from None
        return _read_body(response.text)


def _read_body(body: str) -> tuple[str, int, int]:
    try:
        data = json.loads(body)
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Transient(f"malformed response body {body[:80]!r}") from None
    if not isinstance(text, str):
        raise _Transient("response has no message content")
    usage = data.get("usage") or {}
    return text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
