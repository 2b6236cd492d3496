"""The Meraki Dashboard HTTP client: buckets, bounded retries, guarded redirects, Link paging.

Every request, whether a first try, a retry or a redirect hop, waits on its org's bucket and the
global bucket. Redirects are followed by hand and only to allowed hosts, so the Authorization
header neither leaks to a stranger nor gets dropped. The key lives in one header dict and is
never part of a URL, an exception or a log event. Bodies are read up to `max_body_bytes`, a
listing stops on a repeated or runaway `rel=next`, and the `X-Request-Id` of every failed
answer goes into the retry log and the error (Meraki support asks for it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import structlog
from yarl import URL

from daemon.core import metrics
from daemon.core.errors import (
    ApiError,
    ApiKeyRejected,
    BadResponse,
    EndpointUnavailable,
    RedirectRefused,
)
from daemon.meraki.body import parse_json, read_capped
from daemon.meraki.links import next_link
from daemon.meraki.paging import PageGuard
from daemon.meraki.per_page import PerPageLimits, PerPageRejected, allowed_range
from daemon.meraki.ratelimit import Priority, RateLimiter
from daemon.meraki.retry import RateLimited, ServerError, Transient, pause_for, with_retries
from daemon.meraki.user_agent import DEFAULT_VENDOR, user_agent

log = structlog.get_logger("daemon.meraki")

MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
QueryValue = str | int | Sequence[str]


@dataclass
class CallStats:
    """Counters of one (org, dataset) run; the caller owns it and reads it afterwards."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0


@dataclass(frozen=True)
class ClientOptions:
    """How the client talks to Meraki; built from `[meraki]` settings by the caller."""

    base_url: str
    allowed_hosts: frozenset[str]
    require_https: bool = True
    timeout_s: float = 30.0
    max_attempts: int = 5
    retry_total_s: float = 120.0
    max_body_bytes: int = 128 * 1024 * 1024
    max_listing_items: int = 1_000_000
    user_agent_vendor: str = DEFAULT_VENDOR
    # Tests and labs: the local address requests leave from (None: the system's choice).
    local_address: str | None = None


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str | None
    link: str | None
    body: bytes
    request_id: str | None


def host_key(url: URL) -> str:
    """`host` on the scheme's default port, else `host:port`: how allow-lists name hosts."""
    host = (url.host or "").lower()
    return host if url.is_default_port() else f"{host}:{url.port}"


class MerakiClient:
    """Read-only Meraki Dashboard API client. Use as an async context manager."""

    def __init__(self, api_key: str, options: ClientOptions, limiter: RateLimiter) -> None:
        self._options = options
        self._limiter = limiter
        self._base = URL(options.base_url.rstrip("/"))
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": user_agent(options.user_agent_vendor),
        }
        self._session: aiohttp.ClientSession | None = None
        self._per_page = PerPageLimits()
        self.key_rejected = False
        self._check_allowed(self._base)

    def __repr__(self) -> str:
        return f"MerakiClient(base_url={str(self._base)!r})"

    async def __aenter__(self) -> MerakiClient:
        local = self._options.local_address
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(local, 0)) if local else None,
            timeout=aiohttp.ClientTimeout(total=self._options.timeout_s),
            # Cookies would let one org's answers leak state into another's requests.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Nothing from the environment (proxies, netrc credentials) joins a request
            # that carries the key.
            trust_env=False,
        )
        # aiohttp silently resends an idempotent request once when a kept-alive connection
        # drops. That resend would skip both buckets and our counters; our own retry policy
        # (which waits for tokens) handles the failure instead.
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def forget_org(self, org_id: str) -> None:
        """Drop the pacing state of an org no longer synced."""
        self._limiter.forget(org_id)

    def share_ip_budget(self, rate_per_s: float) -> None:
        """Spend at most `rate_per_s` of the egress IP's budget (instances share an egress)."""
        self._limiter.share_ip_budget(rate_per_s)

    def set_api_key(self, api_key: str) -> None:
        """Use a new key (a rotation) and try again even if the old one was rejected."""
        self._headers["Authorization"] = f"Bearer {api_key}"
        self.key_rejected = False

    def url(self, path: str, params: Mapping[str, QueryValue] | None = None) -> URL:
        """The absolute URL of an API path such as `/organizations/123/devices`."""
        url = self._base.with_path(self._base.path.rstrip("/") + path)
        return url.with_query(dict(params)) if params else url

    async def get(
        self,
        url: URL,
        *,
        org_id: str | None,
        endpoint: str,
        stats: CallStats,
        priority: Priority = Priority.NORMAL,
    ) -> tuple[Any, str | None]:
        """GET one URL with retries; returns the JSON body and the `Link` header.

        `priority` orders it among requests waiting for tokens (see `Priority`).
        """

        def on_retry(reason: str, wait_s: float, attempt: int, request_id: str | None) -> None:
            stats.retries += 1
            metrics.RETRIES.labels(org_id or "", reason).inc()
            log.info(
                "api_retry",
                org=org_id,
                endpoint=endpoint,
                reason=reason,
                attempt=attempt,
                wait_s=round(wait_s, 3),
                request_id=request_id,
            )

        return await with_retries(
            lambda: self._get_following_redirects(url, org_id, endpoint, stats, priority),
            max_attempts=self._options.max_attempts,
            total_s=self._options.retry_total_s,
            describe=f"GET {endpoint}" + (f" for org {org_id}" if org_id else ""),
            on_retry=on_retry,
        )

    async def pages(
        self,
        path: str,
        *,
        org_id: str | None,
        endpoint: str,
        params: Mapping[str, QueryValue],
        stats: CallStats,
    ) -> AsyncIterator[Any]:
        """Yield each page's JSON body, following `rel=next` verbatim until the last page.

        Pages after the first go ahead of other waiting requests (`Priority.FOLLOW_UP`). The
        first page asks for the largest perPage the endpoint is known to take; a 400 naming a
        smaller maximum is retried once with it (see `daemon.meraki.per_page`). A repeated or
        runaway `rel=next` chain ends in `BadResponse` (see `daemon.meraki.paging`).
        """
        query = dict(params)
        per_page = _per_page_of(query)
        if per_page is not None:
            per_page = self._per_page.first_page(endpoint, per_page)
            query["perPage"] = str(per_page)
        guard = PageGuard(endpoint, per_page, self._options.max_listing_items)
        url: URL | None = self.url(path, query)
        priority = Priority.NORMAL
        lowered = False
        while url is not None:
            guard.visit(url)
            try:
                body, link = await self.get(
                    url, org_id=org_id, endpoint=endpoint, stats=stats, priority=priority
                )
            except PerPageRejected as exc:
                allowed = None
                if per_page is not None and priority is Priority.NORMAL and not lowered:
                    allowed = self._per_page.learn(endpoint, per_page, exc)
                if allowed is None:
                    raise
                log.info("per_page_lowered", endpoint=endpoint, requested=per_page, allowed=allowed)
                per_page, lowered = allowed, True
                query["perPage"] = str(allowed)
                guard = PageGuard(endpoint, per_page, self._options.max_listing_items)
                url = self.url(path, query)
                continue
            yield body
            priority = Priority.FOLLOW_UP
            following = next_link(link)
            url = URL(following, encoded=True) if following else None

    async def _get_following_redirects(
        self,
        url: URL,
        org_id: str | None,
        endpoint: str,
        stats: CallStats,
        priority: Priority,
    ) -> tuple[Any, str | None]:
        if self.key_rejected:
            raise ApiKeyRejected()
        for _ in range(MAX_REDIRECTS + 1):
            self._check_allowed(url)
            waited = await self._limiter.acquire(org_id, priority=priority)
            metrics.BUCKET_WAIT_SECONDS.labels("org").inc(waited.org_s)
            metrics.BUCKET_WAIT_SECONDS.labels("global").inc(waited.global_s)
            answer = await self._send(url, org_id, endpoint, stats)
            if answer.status in REDIRECT_CODES:
                if not answer.location:
                    raise BadResponse(f"HTTP {answer.status} without a Location on {endpoint}")
                url = url.join(URL(answer.location, encoded=True))
                continue
            return self._interpret(answer, endpoint), answer.link
        raise ApiError(f"more than {MAX_REDIRECTS} redirects on {endpoint}")

    async def _send(self, url: URL, org_id: str | None, endpoint: str, stats: CallStats) -> _Answer:
        assert self._session is not None, "use MerakiClient as an async context manager"
        stats.requests += 1
        started = time.monotonic()
        code = "error"
        try:
            async with self._session.get(
                url, headers=self._headers, allow_redirects=False
            ) as response:
                code = str(response.status)
                request_id = (
                    _request_id(response.headers.get("X-Request-Id"))
                    if response.status >= 400
                    else None
                )
                if response.status == 429:
                    # The pause applies whatever the body holds, so it is set before reading.
                    self._rate_limited(org_id, response.headers.get("Retry-After"), stats)
                    with contextlib.suppress(BadResponse):  # read only to reuse the connection
                        await read_capped(response, self._options.max_body_bytes, endpoint)
                    raise RateLimited(response.headers.get("Retry-After"), request_id)
                body = await read_capped(response, self._options.max_body_bytes, endpoint)
                return _Answer(
                    status=response.status,
                    location=response.headers.get("Location"),
                    link=response.headers.get("Link"),
                    body=body,
                    request_id=request_id,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The aiohttp exception may carry request headers; only its type goes further.
            raise Transient("network", type(exc).__name__) from None
        finally:
            metrics.REQUESTS.labels(org_id or "", endpoint, code).inc()
            metrics.REQUEST_SECONDS.labels(endpoint).observe(time.monotonic() - started)

    def _interpret(self, answer: _Answer, endpoint: str) -> Any:
        status = answer.status
        if status == 200:
            return parse_json(answer.body, endpoint)
        if status == 401:
            self.key_rejected = True
            # ApiKeyRejected stops every org and lands in no sync_runs row: log the id here.
            log.warning("api_unauthorized", endpoint=endpoint, request_id=answer.request_id)
            raise ApiKeyRejected()
        if status >= 500:
            raise ServerError(status, answer.request_id)
        text = _error_text(answer.body) + _request_id_note(answer.request_id)
        if status in (403, 404):
            raise EndpointUnavailable(status, endpoint, text)
        message = f"HTTP {status} on {endpoint}: {text}"
        if status == 400 and (bounds := allowed_range(text)) is not None:
            raise PerPageRejected(message, *bounds)
        raise ApiError(message)

    def _rate_limited(self, org_id: str | None, retry_after: str | None, stats: CallStats) -> None:
        stats.rate_limited += 1
        metrics.RATE_LIMITED.labels(org_id or "").inc()
        self._limiter.rate_limited(org_id, pause_for(retry_after, stats.rate_limited))

    def _check_allowed(self, url: URL) -> None:
        if host_key(url) not in self._options.allowed_hosts or (
            self._options.require_https and url.scheme != "https"
        ):
            raise RedirectRefused(f"{url.scheme}://{host_key(url)}")


def _per_page_of(query: Mapping[str, QueryValue]) -> int | None:
    value = query.get("perPage")
    try:
        return int(value) if isinstance(value, str | int) else None
    except ValueError:
        return None


def _request_id(value: str | None) -> str | None:
    """The header's value as safe log text: printable ASCII without spaces, at most 128."""
    if value is None:
        return None
    kept = "".join(c for c in value[:128] if c.isascii() and c.isprintable() and not c.isspace())
    return kept or None


def _request_id_note(request_id: str | None) -> str:
    return f" (X-Request-Id {request_id})" if request_id else ""


def _error_text(body: bytes) -> str:
    """Meraki's `{"errors": [...]}` joined, or a short excerpt of whatever came instead."""
    try:
        errors = parse_json(body, "").get("errors")
    except (BadResponse, AttributeError):
        errors = None
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)[:300]
    return body[:200].decode("utf-8", "replace") or "(empty body)"
