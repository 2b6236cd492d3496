"""systemd's sd_notify protocol: READY, WATCHDOG, STATUS and STOPPING datagrams.

Without `$NOTIFY_SOCKET` (not started by systemd) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import structlog

log = structlog.get_logger("daemon.notify")


class Notifier:
    """Sends notifications to the socket systemd named in the environment."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        # A leading @ names a socket in the abstract namespace.
        self._address = "\0" + path[1:] if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watched = usec.isdigit() and (not pid or pid == str(os.getpid()))
        self.watchdog_s: float | None = int(usec) / 1_000_000 if watched else None

    @property
    def enabled(self) -> bool:
        """True when systemd is listening."""
        return bool(self._address)

    def ready(self, status: str) -> None:
        """Startup is complete: the database answers and the key is accepted."""
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        """A one-line state shown by `systemctl status`."""
        self._send(f"STATUS={status}")

    def extend_timeout(self, seconds: float) -> None:
        """Still starting (waiting for PostgreSQL): ask systemd for `seconds` more."""
        self._send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def watchdog(self) -> None:
        """The main loop is alive."""
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutdown has begun."""
        self._send("STOPPING=1\nSTATUS=stopping")

    def _send(self, message: str) -> None:
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            log.warning("sd_notify_failed", error=f"{type(exc).__name__}: {exc}")
