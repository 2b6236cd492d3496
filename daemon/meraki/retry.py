"""The retry policy for one API request, declared with tenacity.

Narrow: only `Transient` failures (5xx, timeouts, connection errors, 429s) are retried;
401/403/404, redirect refusals and bad bodies (too big, unparsable: aiohttp has already checked
the framing, so the same request would get the same bytes) never are. Bounded: `max_attempts`
failures that are not 429s, and `total_s` overall. Jittered exponential waits for failures; for
a 429 the org's bucket already holds every request of that org for Retry-After, so tenacity adds
no wait of its own. Each retry is logged and counted by the caller's `on_retry`, with the failed
answer's `X-Request-Id` when it had one.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from daemon.core.errors import RetriesExhausted
from daemon.meraki.retry_after import parse_retry_after

T = TypeVar("T")
OnRetry = Callable[[str, float, int, str | None], None]

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 10.0
MISSING_RETRY_AFTER_MAX_S = 30.0


# Every `Transient.reason` raised anywhere: the label values of the retries counter.
RETRY_REASONS = ("rate_limited", "server_error", "network", "bad_json")


class Transient(Exception):
    """A failure worth another try. `reason` is a bounded label for metrics; `request_id` is
    the answer's X-Request-Id, when there was an answer carrying one."""

    def __init__(self, reason: str, detail: str = "", request_id: str | None = None) -> None:
        if request_id:
            detail = ", ".join(part for part in (detail, f"X-Request-Id {request_id}") if part)
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.request_id = request_id


class ServerError(Transient):
    """An HTTP 5xx answer."""

    def __init__(self, status: int, request_id: str | None = None) -> None:
        super().__init__("server_error", f"HTTP {status}", request_id)
        self.status = status


class RateLimited(Transient):
    """An HTTP 429 answer; the bucket pause was already applied when it was raised."""

    def __init__(self, retry_after: str | None, request_id: str | None = None) -> None:
        super().__init__("rate_limited", f"Retry-After {retry_after!r}", request_id)


def pause_for(retry_after: str | None, consecutive: int) -> float:
    """Seconds to pause an org after a 429: Retry-After, else bounded jittered backoff."""
    parsed = parse_retry_after(retry_after)
    if parsed is not None:
        return parsed
    ceiling = min(MISSING_RETRY_AFTER_MAX_S, float(2 ** min(consecutive, 8)))
    return random.uniform(ceiling / 2, ceiling)


class _StopPolicy:
    """Stop after `max_attempts` non-429 failures or `total_s` seconds, whichever comes first."""

    def __init__(self, max_attempts: int, total_s: float) -> None:
        self._max_attempts = max_attempts
        self._by_time = stop_after_delay(total_s)
        self._failures = 0

    def __call__(self, state: RetryCallState) -> bool:
        if not isinstance(_exception(state), RateLimited):
            self._failures += 1
        return self._failures >= self._max_attempts or self._by_time(state)


# Full jitter: a uniform wait between 0 and the exponential ceiling, so retries of many
# requests that failed together spread out instead of returning in lockstep.
_backoff = wait_random_exponential(multiplier=BACKOFF_INITIAL_S, max=BACKOFF_MAX_S)


def _wait(state: RetryCallState) -> float:
    if isinstance(_exception(state), RateLimited):
        return 0.0
    return float(_backoff(state))


def _exception(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    *,
    max_attempts: int,
    total_s: float,
    describe: str,
    on_retry: OnRetry,
) -> T:
    """Run `operation` under the policy; raise `RetriesExhausted` when it gives up."""

    def before_sleep(state: RetryCallState) -> None:
        error = _exception(state)
        reason = error.reason if isinstance(error, Transient) else "unknown"
        request_id = error.request_id if isinstance(error, Transient) else None
        wait_s = state.next_action.sleep if state.next_action is not None else 0.0
        on_retry(reason, wait_s, state.attempt_number, request_id)

    retryer = AsyncRetrying(
        retry=retry_if_exception_type(Transient),
        stop=_StopPolicy(max_attempts, total_s),
        wait=_wait,
        before_sleep=before_sleep,
        reraise=False,
    )

    async def attempt() -> T:
        # tenacity awaits only coroutine functions; a lambda returning a coroutine would not be.
        return await operation()

    try:
        return await retryer(attempt)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise RetriesExhausted(
            f"{describe}: gave up after {exc.last_attempt.attempt_number} attempts ({last})"
        ) from None
