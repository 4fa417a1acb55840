"""The one OpenAI-compatible client: judge, generate and self-instruct all reach models through `ModelClient`.

`ModelClient(endpoint, api_key).complete(messages, parse)` sends one chat request under the endpoint's
concurrency limit and returns a `Completion`. 429, 408, 5xx, timeouts, dropped connections and malformed
bodies are retried by one `RetryPolicy` (exponential backoff, Retry-After / retry-after-ms honoured);
replies `parse` rejects with `UnparseableReply` are asked again. Calls, retries, tokens and cost (one price
table) add up in one `Usage`; no call starts once `max_cost` is spent. The key goes to the SDK only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

from harness.errors import EndpointUnavailable, UnparseableReply, missing_extra
from harness.retry import Breaker, RetryPolicy, Transient, connection_failure, parse_retry_after

log = logging.getLogger(__name__)
T = TypeVar("T")
Messages = list[dict[str, str]]

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
    """`max_cost` is spent: no new call starts."""


class _Rejected(Exception):
    """The endpoint refused this one request (4xx other than auth): not retried, returned as an error."""


@dataclass(frozen=True)
class Sampling:
    """The request's generation settings; `top_p` and `stop` are sent only when set."""

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float | None = None
    stop: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Endpoint:
    """Which model to call and how: everything but the key, so this can be logged or shown.

    `label` names the endpoint's role in messages ("judge", "chat server"); `key_env` is the variable the
    caller read the key from, named in the hint when the key is refused.
    """

    model: str
    base_url: str | None
    label: str = "model"
    key_env: str | None = None
    concurrency: int = 16
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    price: tuple[float, float] | None = None
    max_cost: float | None = None
    timeout: float = 120.0
    sampling: Sampling = field(default_factory=Sampling)


@dataclass
class Usage:
    """What calls to one endpoint have cost so far (shared by the clients a caller hands it to)."""

    calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def count_call(self, retry: bool) -> None:
        self.calls += 1
        self.retries += retry

    def bill(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost_usd


@dataclass(frozen=True)
class Completion(Generic[T]):
    """One logical call: the last text, the parsed value (None on error) and what all its attempts cost."""

    text: str | None
    value: T | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    attempts: int
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Body(NamedTuple):
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


def price_for(model: str, override: tuple[float, float] | None = None) -> tuple[float, float]:
    """USD per million prompt and completion tokens: `override`, else the longest known prefix, else 0."""
    if override is not None:
        return override
    matches = [name for name in PRICES_PER_MTOK if model.startswith(name)]
    if not matches:
        log.info("no price known for model %s: its cost counts as 0", model)
        return (0.0, 0.0)
    return PRICES_PER_MTOK[max(matches, key=len)]


def api_key_from_env(variable: str, base_url: str | None, label: str, hint: str) -> str:
    """The key in `$variable`; a local endpoint (a base URL given) may go without one ("EMPTY").

    Raises:
        EndpointUnavailable: OpenAI itself (no base URL) and the variable is unset; `hint` says what to do.
    """
    key = os.environ.get(variable)
    if key:
        return key
    if base_url is None:
        raise EndpointUnavailable(f"{label} at OpenAI needs an API key in ${variable}", hint=hint)
    return "EMPTY"  # local servers (vllm serve) accept any key


@dataclass
class _Attempts:
    """One logical call so far: what its attempts spent, how many replies were unparseable, the last reply."""

    spent: Usage = field(default_factory=Usage)
    bad_replies: int = 0
    text: str | None = None
    finish_reason: str | None = None


class ModelClient:
    """An OpenAI-compatible chat endpoint for one model, shared by every call of a run (one event loop)."""

    def __init__(self, endpoint: Endpoint, api_key: str, usage: Usage | None = None) -> None:
        try:
            import httpx2
            import openai
        except ModuleNotFoundError as exc:  # pragma: no cover - openai is a core dependency
            raise missing_extra("model endpoints", "core", "openai") from exc
        self.endpoint = endpoint
        self.price = price_for(endpoint.model, endpoint.price)
        self.usage = usage if usage is not None else Usage()
        if endpoint.max_cost is not None and self.price == (0.0, 0.0):
            log.warning(
                "%s %s has no price, so max cost $%s can never stop the run: give it a price",
                endpoint.label,
                endpoint.model,
                endpoint.max_cost,
            )
        self._openai = openai
        self._httpx = httpx2
        self._client = openai.AsyncOpenAI(
            base_url=endpoint.base_url,
            api_key=api_key,
            max_retries=0,
            timeout=endpoint.timeout,
            http_client=_http_client(openai, endpoint.base_url),
        )
        self._slots = asyncio.Semaphore(endpoint.concurrency)
        self._breaker = Breaker(endpoint.policy)

    @property
    def over_budget(self) -> bool:
        cap = self.endpoint.max_cost
        return cap is not None and self.usage.cost_usd >= cap

    async def close(self) -> None:
        await self._client.close()

    async def complete(
        self, messages: Messages, parse: Callable[[str], T], sampling: Sampling | None = None
    ) -> Completion[T]:
        """Ask once (retrying per the policy); `parse` makes the text a value or raises UnparseableReply.

        Raises:
            BudgetExceeded: before starting, when `max_cost` is spent.
            EndpointUnavailable: the endpoint refuses the key (401) or cannot serve the model (403, 404).
        """
        async with self._slots:
            self._breaker.check()
            if self.over_budget:
                raise BudgetExceeded(
                    f"spent ${self.usage.cost_usd:.4f} of max cost ${self.endpoint.max_cost}"
                )
            body = _request_body(self.endpoint.model, messages, sampling or self.endpoint.sampling)
            state = _Attempts()
            while True:
                outcome = await self._attempt(body, parse, state)
                if outcome is not None:
                    return outcome

    async def _attempt(
        self, body: dict[str, Any], parse: Callable[[str], T], state: _Attempts
    ) -> Completion[T] | None:
        retry = state.spent.calls > 0
        for usage in (state.spent, self.usage):
            usage.count_call(retry)
        try:
            reply = await self._call(body)
        except _Rejected as exc:
            return _finish(state, None, str(exc))
        except Transient as exc:
            self._breaker.failed(exc, self.endpoint.label, self.endpoint.model, self.endpoint.base_url)
            transport_failures = state.spent.calls - state.bad_replies
            if transport_failures >= self.endpoint.policy.attempts:
                return _finish(state, None, f"gave up after {state.spent.calls} attempts: {exc}")
            wait = self.endpoint.policy.delay(transport_failures, exc.retry_after)
            log.debug("%s %s: %s; retrying in %.2fs", self.endpoint.label, self.endpoint.model, exc, wait)
            await asyncio.sleep(wait)
            return None
        self._breaker.succeeded()
        self._account(state, reply)
        try:
            return _finish(state, parse(reply.text), None)
        except UnparseableReply as exc:
            state.bad_replies += 1
            if state.bad_replies >= self.endpoint.policy.parse_attempts:
                return _finish(state, None, f"unparseable reply after {state.bad_replies} tries: {exc}")
            return None

    def _account(self, state: _Attempts, reply: _Body) -> None:
        cost = (reply.prompt_tokens * self.price[0] + reply.completion_tokens * self.price[1]) / 1e6
        state.text, state.finish_reason = reply.text, reply.finish_reason
        for usage in (state.spent, self.usage):
            usage.bill(reply.prompt_tokens, reply.completion_tokens, cost)

    async def _call(self, body: dict[str, Any]) -> _Body:
        """One HTTP request; raises `Transient`, `_Rejected` or EndpointUnavailable on failure."""
        openai = self._openai
        try:
            # The SDK's documented raw-request path: same auth, errors and timeouts as
            # chat.completions.create, without its per-call typed-dict transform and pydantic parse
            # (half the client's CPU at 300 req/s). Every user of the client gets it.
            response = await self._client.post("/chat/completions", cast_to=self._httpx.Response, body=body)
        except openai.AuthenticationError as exc:
            raise self._unavailable(
                f"refused the API key (HTTP {exc.status_code})", self._key_hint()
            ) from None
        except openai.APIStatusError as exc:
            if exc.status_code == 429 or exc.status_code >= 500 or exc.status_code == 408:
                raise Transient(f"HTTP {exc.status_code}", parse_retry_after(exc.response.headers)) from None
            if exc.status_code not in (
                403,
                404,
            ):  # e.g. 400 prompt too long: this call fails, the run goes on
                raise _Rejected(f"HTTP {exc.status_code}: {exc.message[:200]}") from None
            raise self._unavailable(
                f"answered HTTP {exc.status_code}: {exc.message[:200]}",
                "check the model name and the base URL",
            ) from None
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            raise connection_failure(exc) from None
        return _read_body(response.text)

    def _unavailable(self, what: str, hint: str) -> EndpointUnavailable:
        return EndpointUnavailable(
            f"{self.endpoint.label} endpoint for model {self.endpoint.model!r} {what}", hint
        )

    def _key_hint(self) -> str:
        variable = self.endpoint.key_env
        return f"check the key in ${variable}" if variable else "check the API key"


def _http_client(openai: Any, base_url: str | None) -> Any:
    """The SDK's aiohttp transport (`openai[aiohttp]`) when aiohttp is installed, else None (the SDK's httpx).

    Same SDK, auth, errors and timeouts; aiohttp's C parser and pool cost a quarter of httpx's CPU per request
    (0.4 against 1.5 ms, docs/performance.md), which at 64 calls in flight is the judge's throughput. A base
    URL with credentials in it stays on httpx: aiohttp refuses them beside the SDK's Authorization header.
    """
    if base_url and urlsplit(base_url).username is not None:
        return None
    try:
        import aiohttp  # noqa: F401
    except ModuleNotFoundError:
        return None
    return openai.DefaultAioHttpClient()


def _request_body(model: str, messages: Messages, sampling: Sampling) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": sampling.temperature,
        "max_tokens": sampling.max_tokens,
    }
    if sampling.top_p is not None:
        body["top_p"] = sampling.top_p
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    return body


def _finish(state: _Attempts, value: T | None, error: str | None) -> Completion[T]:
    return Completion(
        state.text,
        value,
        error,
        state.spent.prompt_tokens,
        state.spent.completion_tokens,
        state.spent.cost_usd,
        state.spent.calls,
        state.finish_reason,
    )


def _read_body(body: str) -> _Body:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Transient(f"malformed response body {body[:80]!r}") from None
    if not isinstance(text, str):
        raise Transient("response has no message content")
    usage = data.get("usage") or {}
    return _Body(
        text,
        choice.get("finish_reason"),
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )
