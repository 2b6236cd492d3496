"""structlog setup: JSON lines when not on a terminal (journald), console when on one.

Secrets passed to `configure_logging` are masked in every string a log event carries,
exception text included, as a last line of defence behind code that never logs them.

Libraries log through the stdlib (asyncpg's pool, aiohttp, asyncio) and warn through
`warnings`; both go to the root logger, whose one handler renders them with structlog's
ProcessorFormatter: the same timestamp, level, redaction and renderer as our own events, plus
the library's logger name, so a JSON stream stays all JSON lines.
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


def _exception_in_one_line(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A library's `exc_info` as `error: "Type: text"`, without the traceback: a library's
    internals are noise in an operator's log, and the event names what failed."""
    exc_info = event.pop("exc_info", None)
    if isinstance(exc_info, tuple) and isinstance(exc_info[1], BaseException):
        exc = exc_info[1]
        text = str(exc).strip()
        event["error"] = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return event


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
    stamped: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*stamped, structlog.processors.format_exc_info, redactor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _exception_in_one_line,
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # warnings.warn (asyncpg's InterfaceWarning, ResourceWarnings) becomes a `py.warnings` record.
    logging.captureWarnings(True)


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask more secrets in the logging configured last (a key reloaded on SIGHUP)."""
    if _active is not None:
        _active.update(secrets)
