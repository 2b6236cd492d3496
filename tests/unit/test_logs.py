"""`configure_logging` and `Redactor`: secrets never reach the output; JSON lines; level filter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from daemon.core.logs import REDACTED, Redactor, configure_logging

SECRET = "0123456789abcdef0123456789abcdef01234567"
OTHER_SECRET = "pg-password-hunter2"


@pytest.fixture(autouse=True)
def neutral_logging() -> Iterator[None]:
    """Restore structlog's defaults and the stdlib root logger after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(fmt: str = "json", level: str = "debug") -> io.StringIO:
    """Configure logging into a fresh buffer with both test secrets."""
    out = io.StringIO()
    configure_logging(level, fmt, stream=out, secrets=[SECRET, OTHER_SECRET])
    return out


def json_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def failure(message: str) -> RuntimeError:
    """An exception with a traceback, as one would be logged from an except block."""
    try:
        try:
            raise ValueError(f"inner {message}")
        except ValueError as inner:
            raise RuntimeError(message) from inner
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secret_in_event_message_is_redacted(fmt: str) -> None:
    """A secret inside the event text is replaced, the rest of the text kept."""
    out = configured(fmt)
    structlog.get_logger().info(f"calling with key {SECRET} now")
    text = out.getvalue()
    assert SECRET not in text
    assert f"calling with key {REDACTED} now" in text


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secret_in_fields_is_redacted(fmt: str) -> None:
    """Secrets in string fields (alone or embedded, bound or passed) are replaced."""
    out = configured(fmt)
    log = structlog.get_logger().bind(dsn=f"postgresql://u:{OTHER_SECRET}@db/meraki")
    log.warning("api_call", header=f"Bearer {SECRET}", key=SECRET, org="123")
    text = out.getvalue()
    assert SECRET not in text
    assert OTHER_SECRET not in text
    assert "123" in text
    if fmt == "json":
        (event,) = json_lines(out)
        assert event["key"] == REDACTED
        assert event["header"] == f"Bearer {REDACTED}"
        assert event["dsn"] == f"postgresql://u:{REDACTED}@db/meraki"


def test_secret_in_context_vars_is_redacted() -> None:
    """A secret bound through structlog's contextvars is replaced too."""
    out = configured()
    structlog.contextvars.bind_contextvars(token=SECRET)
    structlog.get_logger().info("x")
    assert SECRET not in out.getvalue()
    assert json_lines(out)[0]["token"] == REDACTED


def test_secret_in_positional_format_args_is_redacted() -> None:
    """%-style positional arguments are interpolated before redaction, so they are covered."""
    out = configured()
    structlog.get_logger().info("key is %s", SECRET)
    assert SECRET not in out.getvalue()
    assert json_lines(out)[0]["event"] == f"key is {REDACTED}"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secret_in_exception_text_is_redacted(fmt: str) -> None:
    """A secret in a logged exception's message (and its chained cause) never appears."""
    out = configured(fmt)
    exc = failure(f"request failed for key {SECRET}")
    structlog.get_logger().error("x", exc_info=exc)
    text = out.getvalue()
    assert SECRET not in text
    assert "RuntimeError: request failed for key" in text
    assert "ValueError: inner request failed" in text
    assert text.count(REDACTED) >= 2


def test_exception_as_field_is_rendered_redacted() -> None:
    """An exception passed as a field becomes `Type: message` with the secret replaced."""
    out = configured()
    structlog.get_logger().error("x", error=RuntimeError(f"bad key {SECRET}"))
    (event,) = json_lines(out)
    assert event["error"] == f"RuntimeError: bad key {REDACTED}"


def test_json_format_emits_one_parseable_object_per_line() -> None:
    """JSON format writes one JSON object per event, with event, level and timestamp."""
    out = configured("json")
    log = structlog.get_logger()
    log.info("first", n=1)
    log.warning("second", org="o1")
    events = json_lines(out)
    assert len(out.getvalue().splitlines()) == 2
    assert [(e["event"], e["level"]) for e in events] == [("first", "info"), ("second", "warning")]
    assert events[0]["n"] == 1
    assert events[1]["org"] == "o1"
    assert all(e["timestamp"].endswith("Z") for e in events)


def test_auto_format_is_json_when_not_a_terminal() -> None:
    """`auto` picks JSON lines for a non-terminal stream (journald)."""
    out = configured("auto")
    structlog.get_logger().info("hello")
    assert json_lines(out)[0]["event"] == "hello"


def test_console_format_is_not_json() -> None:
    """`console` renders human-readable lines, not JSON."""
    out = configured("console")
    structlog.get_logger().info("hello", org="o1")
    text = out.getvalue()
    assert "hello" in text
    assert "org=o1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("debug", ["debug", "info", "warning", "error"]),
        ("info", ["info", "warning", "error"]),
        ("warning", ["warning", "error"]),
        ("error", ["error"]),
    ],
)
def test_level_filtering(level: str, shown: list[str]) -> None:
    """Events below the configured level are dropped; the rest are kept, in order."""
    out = configured("json", level)
    log = structlog.get_logger()
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [e["level"] for e in json_lines(out)] == shown


def test_no_secrets_means_no_redaction() -> None:
    """Without secrets (or with empty ones) nothing is replaced."""
    out = io.StringIO()
    configure_logging("info", "json", stream=out, secrets=["", ""])
    structlog.get_logger().info("plain text", value="x")
    assert json_lines(out)[0]["event"] == "plain text"
    assert REDACTED not in out.getvalue()


def test_redactor_replaces_every_occurrence_of_every_secret() -> None:
    """The processor replaces all occurrences of each secret and leaves non-strings alone."""
    redact = Redactor(["abc", "xyz", ""])
    event: dict[str, Any] = {"event": "abc-abc-xyz", "n": 5, "flag": None}
    assert redact(None, "info", event) == {
        "event": f"{REDACTED}-{REDACTED}-{REDACTED}",
        "n": 5,
        "flag": None,
    }


def test_secret_nested_in_a_container_field_is_redacted() -> None:
    """A secret inside a dict or list field never appears in the output."""
    out = configured()
    structlog.get_logger().info(
        "request", headers={"X-Cisco-Meraki-API-Key": SECRET}, args=[OTHER_SECRET]
    )
    text = out.getvalue()
    assert SECRET not in text
    assert OTHER_SECRET not in text


def test_secret_in_third_party_stdlib_log_is_redacted() -> None:
    """A secret in a stdlib log record from a library never appears in the output."""
    out = configured()
    logging.getLogger("aiohttp.client").error("GET failed, key %s", SECRET)
    assert "GET failed" in out.getvalue()
    assert SECRET not in out.getvalue()
