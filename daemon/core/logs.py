"""structlog setup: JSON lines when not on a terminal (journald), console when on one.

Secrets passed to `configure_logging` are masked in every string a log event carries,
exception text included, as a last line of defence behind code that never logs them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[REDACTED]"
_active: Redactor | None = None
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class Redactor:
    """A structlog processor that replaces secret strings wherever they appear."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Mask these secrets from now on (old ones included: a rotated key stays secret)."""
        self._secrets = tuple(dict.fromkeys([*self._secrets, *(s for s in secrets if s)]))

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self._secrets:
            for key, value in event.items():
                event[key] = self.scrub(value)
        return event

    def scrub(self, value: Any) -> Any:
        """`value` with every secret masked, looking inside containers."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, BaseException):
            return self.scrub(f"{type(value).__name__}: {value}")
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(item) for item in value]
        return value


class _RedactingFilter(logging.Filter):
    """Masks secrets in stdlib log records (third-party libraries) before they are written."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg}: {self._redactor.scrub(record.exc_info[1])}"
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(
    level: str = "info",
    fmt: str = "auto",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Configure structlog (and the stdlib root logger for third-party libraries)."""
    out = stream if stream is not None else sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer()
    )
    global _active
    redactor = _active = Redactor(secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=out, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_RedactingFilter(redactor))


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask more secrets in the logging configured last (a key reloaded on SIGHUP)."""
    if _active is not None:
        _active.update(secrets)
