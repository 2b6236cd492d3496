"""structlog setup: JSON lines when not on a terminal (journald), console when on one.

Secrets passed to `configure_logging` are masked in every string a log event carries,
exception text included, as a last line of defence behind code that never logs them.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO, cast

import structlog

REDACTED = "[REDACTED]"
_active: Redactor | None = None
_console: StatusLine | None = None
_CLEAR_LINE = "\r\033[K"
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


class StatusLine:
    """A text stream that keeps one status line (a progress line) below everything written.

    Writing clears the status line first and draws it again once the written text ends a
    line, so log lines print above it instead of running on from its end.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._status = ""
        self._shown = False
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Write `text` above the status line."""
        with self._lock:
            if self._shown and text:
                self.stream.write(_CLEAR_LINE)
                self._shown = False
            self.stream.write(text)
            if self._status and text.endswith("\n"):
                self.stream.write(self._status)
                self._shown = True
        return len(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the underlying stream is a terminal."""
        return self.stream.isatty()

    def show(self, status: str) -> None:
        """Replace the status line with `status` ("" removes it)."""
        with self._lock:
            self.stream.write(_CLEAR_LINE if self._shown or status else "")
            self.stream.write(status)
            self._status, self._shown = status, bool(status)
            self.stream.flush()


def status_line(stream: TextIO) -> StatusLine:
    """The StatusLine the logs of `stream` go through, or a new one when logs go elsewhere."""
    if _console is not None and _console.stream is stream:
        return _console
    return StatusLine(stream)


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
    global _active, _console
    redactor = _active = Redactor(secrets)
    # Every log line goes through the status line, so a progress line never collides with it.
    _console = status_line(out)
    out = cast(TextIO, _console)  # a text stream as far as structlog and logging can tell
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
