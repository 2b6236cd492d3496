"""The Meraki Dashboard HTTP client: buckets, bounded retries, guarded redirects, Link paging.

Every request, whether a first try, a retry or a redirect hop, waits on its org's bucket and the
global bucket. Redirects are followed by hand and only to allowed hosts, so the Authorization
header neither leaks to a stranger nor gets dropped. The key lives in one header dict and is
never part of a URL, an exception or a log event.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import structlog
from yarl import URL

from daemon import __version__
from daemon.core import metrics
from daemon.core.errors import (
    ApiError,
    ApiKeyRejected,
    BadResponse,
    EndpointUnavailable,
    RedirectRefused,
)
from daemon.meraki.links import next_link
from daemon.meraki.ratelimit import Priority, RateLimiter
from daemon.meraki.retry import RateLimited, ServerError, Transient, pause_for, with_retries

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
            "User-Agent": f"MerakiSync/{__version__} meraki-sync",
        }
        self._session: aiohttp.ClientSession | None = None
        self.key_rejected = False
        self._check_allowed(self._base)

    def __repr__(self) -> str:
        return f"MerakiClient(base_url={str(self._base)!r})"

    async def __aenter__(self) -> MerakiClient:
        self._session = aiohttp.ClientSession(
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

        def on_retry(reason: str, wait_s: float, attempt: int) -> None:
            stats.retries += 1
            metrics.RETRIES.labels(org_id or "", reason).inc()
            log.info(
                "api_retry",
                org=org_id,
                endpoint=endpoint,
                reason=reason,
                attempt=attempt,
                wait_s=round(wait_s, 3),
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

        Pages after the first go ahead of other waiting requests (`Priority.FOLLOW_UP`).
        """
        url: URL | None = self.url(path, params)
        priority = Priority.NORMAL
        while url is not None:
            body, link = await self.get(
                url, org_id=org_id, endpoint=endpoint, stats=stats, priority=priority
            )
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
            status, location, link, body = await self._send(url, org_id, endpoint, stats)
            if status in REDIRECT_CODES:
                if not location:
                    raise BadResponse(f"HTTP {status} without a Location on {endpoint}")
                url = url.join(URL(location, encoded=True))
                continue
            return self._interpret(status, body, org_id, endpoint), link
        raise ApiError(f"more than {MAX_REDIRECTS} redirects on {endpoint}")

    async def _send(
        self, url: URL, org_id: str | None, endpoint: str, stats: CallStats
    ) -> tuple[int, str | None, str | None, bytes]:
        assert self._session is not None, "use MerakiClient as an async context manager"
        stats.requests += 1
        started = time.monotonic()
        code = "error"
        try:
            async with self._session.get(
                url, headers=self._headers, allow_redirects=False
            ) as response:
                body = await response.read()
                code = str(response.status)
                if response.status == 429:
                    self._rate_limited(org_id, response.headers.get("Retry-After"), stats)
                    raise RateLimited(response.headers.get("Retry-After"))
                return (
                    response.status,
                    response.headers.get("Location"),
                    response.headers.get("Link"),
                    body,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The aiohttp exception may carry request headers; only its type goes further.
            raise Transient("network", type(exc).__name__) from None
        finally:
            metrics.REQUESTS.labels(org_id or "", endpoint, code).inc()
            metrics.REQUEST_SECONDS.labels(endpoint).observe(time.monotonic() - started)

    def _interpret(self, status: int, body: bytes, org_id: str | None, endpoint: str) -> Any:
        if status == 200:
            try:
                return _json(body)
            except ValueError:
                raise Transient("bad_json", f"unparsable JSON on {endpoint}") from None
        if status == 401:
            self.key_rejected = True
            raise ApiKeyRejected()
        if status in (403, 404):
            raise EndpointUnavailable(status, endpoint, _error_text(body))
        if status >= 500:
            raise ServerError(status)
        raise ApiError(f"HTTP {status} on {endpoint}: {_error_text(body)}")

    def _rate_limited(self, org_id: str | None, retry_after: str | None, stats: CallStats) -> None:
        stats.rate_limited += 1
        metrics.RATE_LIMITED.labels(org_id or "").inc()
        self._limiter.rate_limited(org_id, pause_for(retry_after, stats.rate_limited))

    def _check_allowed(self, url: URL) -> None:
        if host_key(url) not in self._options.allowed_hosts or (
            self._options.require_https and url.scheme != "https"
        ):
            raise RedirectRefused(f"{url.scheme}://{host_key(url)}")


def _json(body: bytes) -> Any:
    return json.loads(body)


def _error_text(body: bytes) -> str:
    """Meraki's `{"errors": [...]}` joined, or a short excerpt of whatever came instead."""
    try:
        errors = _json(body).get("errors")
    except (ValueError, AttributeError):
        errors = None
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)[:300]
    return body[:200].decode("utf-8", "replace") or "(empty body)"
