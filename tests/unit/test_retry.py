"""`with_retries` (narrow, bounded, 429-aware retries) and `pause_for` (the 429 pause)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import AsyncRetrying

from daemon.core.errors import ApiKeyRejected, RetriesExhausted
from daemon.meraki import retry as retry_mod
from daemon.meraki.retry import (
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    MISSING_RETRY_AFTER_MAX_S,
    RateLimited,
    ServerError,
    Transient,
    pause_for,
    with_retries,
)
from daemon.meraki.retry_after import MAX_RETRY_AFTER_S

Outcome = Callable[[], Exception] | str


class Script:
    """An operation that plays `outcomes` in order (the last one repeats) and counts calls."""

    def __init__(self, *outcomes: Outcome, delay_s: float = 0.0) -> None:
        self._outcomes = outcomes
        self._delay_s = delay_s
        self.calls = 0

    async def __call__(self) -> str:
        outcome = self._outcomes[min(self.calls, len(self._outcomes) - 1)]
        self.calls += 1
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        if isinstance(outcome, str):
            return outcome
        raise outcome()


class Retries:
    """The `on_retry` callback: records (reason, wait_s, attempt) per retry."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def __call__(self, reason: str, wait_s: float, attempt: int, request_id: str | None) -> None:
        self.calls.append((reason, wait_s, attempt))

    @property
    def reasons(self) -> list[str]:
        return [reason for reason, _, _ in self.calls]

    @property
    def waits(self) -> list[float]:
        return [wait for _, wait, _ in self.calls]


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds tenacity sleeps between attempts, recorded instead of slept.

    The real backoff waits 0.5-1.5 s, then 1-2 s, and so on (wait_exponential_jitter), which
    would make these tests take many seconds. Instead of replacing `_backoff` (which would stop
    us from checking the real waits), `with_retries` gets an AsyncRetrying whose `sleep` only
    records: the policy computes its real waits and no real time passes.
    """
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(float(seconds))

    monkeypatch.setattr(retry_mod, "AsyncRetrying", functools.partial(AsyncRetrying, sleep=record))
    return sleeps


def server_error() -> Exception:
    return ServerError(503)


def rate_limited() -> Exception:
    return RateLimited("1")


async def run(
    operation: Script,
    retries: Retries,
    *,
    max_attempts: int = 5,
    total_s: float = 60.0,
) -> str:
    return await with_retries(
        operation,
        max_attempts=max_attempts,
        total_s=total_s,
        describe="GET /organizations",
        on_retry=retries,
    )


async def test_success_first_try(slept: list[float]) -> None:
    """A first-try success returns the value with no retry and no wait."""
    operation, retries = Script("ok"), Retries()
    assert await run(operation, retries) == "ok"
    assert operation.calls == 1
    assert retries.calls == []
    assert slept == []


async def test_server_errors_then_success(slept: list[float]) -> None:
    """Two 5xx then a success return the value, with on_retry called twice as server_error."""
    operation, retries = Script(server_error, server_error, "ok"), Retries()
    assert await run(operation, retries) == "ok"
    assert operation.calls == 3
    assert retries.reasons == ["server_error", "server_error"]
    assert [attempt for _, _, attempt in retries.calls] == [1, 2]
    assert slept == retries.waits, "the wait reported to on_retry is the wait slept"


async def test_other_transient_reasons_are_passed_on(slept: list[float]) -> None:
    """A plain Transient is retried and its own reason reaches on_retry."""
    operation = Script(lambda: Transient("network", "ClientOSError"), "ok")
    retries = Retries()
    assert await run(operation, retries) == "ok"
    assert retries.reasons == ["network"]


@pytest.mark.parametrize(
    "error", [lambda: ValueError("bad"), ApiKeyRejected, lambda: KeyError("x")]
)
async def test_non_transient_errors_are_not_retried(
    slept: list[float], error: Callable[[], Exception]
) -> None:
    """A non-Transient exception propagates unchanged after a single attempt."""
    operation, retries = Script(error), Retries()
    expected = type(error())
    with pytest.raises(expected):
        await run(operation, retries)
    assert operation.calls == 1
    assert retries.calls == []
    assert slept == []


async def test_non_transient_after_a_retry_propagates(slept: list[float]) -> None:
    """A non-Transient failure on a retry stops at once and is raised as itself."""
    operation, retries = Script(server_error, ApiKeyRejected), Retries()
    with pytest.raises(ApiKeyRejected):
        await run(operation, retries)
    assert operation.calls == 2
    assert retries.reasons == ["server_error"]


async def test_max_attempts_bounds_failures(slept: list[float]) -> None:
    """Persistent 5xx stop after max_attempts with RetriesExhausted naming the attempts."""
    operation, retries = Script(server_error), Retries()
    with pytest.raises(RetriesExhausted) as caught:
        await run(operation, retries, max_attempts=3)
    assert operation.calls == 3
    assert len(retries.calls) == 2
    message = str(caught.value)
    assert "GET /organizations" in message
    assert "after 3 attempts" in message
    assert "server_error: HTTP 503" in message
    assert caught.value.__cause__ is None


async def test_single_attempt_means_no_retry(slept: list[float]) -> None:
    """max_attempts=1 gives up on the first 5xx without waiting."""
    operation, retries = Script(server_error), Retries()
    with pytest.raises(RetriesExhausted, match="after 1 attempts"):
        await run(operation, retries, max_attempts=1)
    assert operation.calls == 1
    assert slept == []


async def test_rate_limited_does_not_count_toward_max_attempts(slept: list[float]) -> None:
    """Five 429s then a success succeed even with max_attempts=1."""
    operation = Script(*([rate_limited] * 5), "ok")
    retries = Retries()
    assert await run(operation, retries, max_attempts=1) == "ok"
    assert operation.calls == 6
    assert retries.reasons == ["rate_limited"] * 5


async def test_only_non_429_failures_are_counted(slept: list[float]) -> None:
    """429s interleaved with 5xx: only the 5xx count toward max_attempts."""
    outcomes: list[Outcome] = [rate_limited, server_error, rate_limited, rate_limited]
    operation = Script(*outcomes, server_error)
    retries = Retries()
    with pytest.raises(RetriesExhausted, match="after 5 attempts"):
        await run(operation, retries, max_attempts=2)
    assert operation.calls == 5
    assert retries.reasons == ["rate_limited", "server_error", "rate_limited", "rate_limited"]


async def test_no_wait_after_rate_limited(slept: list[float]) -> None:
    """After a 429 tenacity adds no wait of its own (the bucket already holds the org)."""
    operation, retries = Script(rate_limited, rate_limited, "ok"), Retries()
    await run(operation, retries)
    assert retries.waits == [0.0, 0.0]
    assert slept == [0.0, 0.0]


async def test_backoff_waits_are_positive_and_capped(slept: list[float]) -> None:
    """Each 5xx wait is in (0, min(BACKOFF_INITIAL_S * 2**(n-1), BACKOFF_MAX_S)] and is slept."""
    operation, retries = Script(server_error), Retries()
    with pytest.raises(RetriesExhausted):
        await run(operation, retries, max_attempts=9)
    assert len(retries.waits) == 8
    for attempt, wait in enumerate(retries.waits, start=1):
        assert 0.0 < wait <= min(BACKOFF_INITIAL_S * 2 ** (attempt - 1), BACKOFF_MAX_S)
    assert slept == retries.waits


async def test_backoff_waits_grow_with_attempts(slept: list[float]) -> None:
    """Averaged over runs, later 5xx waits are longer than the first one (exponential ceiling)."""
    first: list[float] = []
    sixth: list[float] = []
    for _ in range(40):
        retries = Retries()
        with pytest.raises(RetriesExhausted):
            await run(Script(server_error), retries, max_attempts=7)
        first.append(retries.waits[0])
        sixth.append(retries.waits[5])
    # Full jitter: the first wait is at most 0.5 s, the sixth is uniform up to 10 s.
    assert max(first) <= BACKOFF_INITIAL_S
    assert sum(sixth) / len(sixth) > 4 * sum(first) / len(first)
    assert max(sixth) > BACKOFF_INITIAL_S * 4


async def test_total_s_bounds_rate_limited_retries() -> None:
    """Endless 429s (not counted as attempts) still give up once total_s has passed."""
    # Real time here: the stop is measured on tenacity's monotonic clock. Each attempt takes
    # 5 ms and no wait follows a 429, so a 50 ms budget ends the loop after about ten tries.
    operation, retries = Script(rate_limited, delay_s=0.005), Retries()
    started = time.monotonic()
    with pytest.raises(RetriesExhausted, match="rate_limited") as caught:
        await run(operation, retries, max_attempts=1, total_s=0.05)
    elapsed = time.monotonic() - started
    assert operation.calls > 1
    assert f"after {operation.calls} attempts" in str(caught.value)
    assert 0.05 <= elapsed < 2.0


def test_transient_messages_and_reasons() -> None:
    """The exception types carry a bounded reason and a readable message."""
    assert str(Transient("network", "ClientOSError")) == "network: ClientOSError"
    assert str(Transient("bad_json")) == "bad_json"
    error = ServerError(502)
    assert (error.reason, error.status, str(error)) == (
        "server_error",
        502,
        "server_error: HTTP 502",
    )
    limited = RateLimited("7")
    assert (limited.reason, str(limited)) == ("rate_limited", "rate_limited: Retry-After '7'")
    assert isinstance(error, Transient)
    assert isinstance(limited, Transient)


def test_pause_for_uses_retry_after() -> None:
    """A parsable Retry-After is the pause, whatever the count of consecutive 429s."""
    assert pause_for("7", 1) == 7.0
    assert pause_for("0.5", 6) == 0.5
    assert pause_for("0", 3) == 0.0
    assert pause_for("100000", 1) == MAX_RETRY_AFTER_S


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from([None, "", "soon", "nan"]))
def test_pause_for_without_retry_after_is_bounded(consecutive: int, header: str | None) -> None:
    """Without a usable Retry-After the pause is within (0, 30] for any count."""
    assert 0.0 < pause_for(header, consecutive) <= MISSING_RETRY_AFTER_MAX_S


def test_pause_for_without_retry_after_grows_with_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Retry-After the jitter range doubles per consecutive 429 until it hits 30 s."""
    # Pin the jitter to each end of its range to read the bounds pause_for draws from.
    monkeypatch.setattr(retry_mod, "random", SimpleNamespace(uniform=lambda low, high: high))
    highs = [pause_for(None, n) for n in range(1, 10)]
    monkeypatch.setattr(retry_mod, "random", SimpleNamespace(uniform=lambda low, high: low))
    lows = [pause_for(None, n) for n in range(1, 10)]
    assert highs == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0, 30.0]
    assert lows == [high / 2 for high in highs]


def test_pause_for_without_retry_after_is_jittered_in_range() -> None:
    """Real draws fall in [ceiling/2, ceiling] and are not all the same (jitter)."""
    draws = [pause_for(None, 3) for _ in range(200)]
    assert all(4.0 <= draw <= 8.0 for draw in draws)
    assert len(set(draws)) > 1
    assert sum(draws) / len(draws) < sum(pause_for(None, 5) for _ in range(200)) / 200
