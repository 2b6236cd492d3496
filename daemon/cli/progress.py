"""Progress of a pass on a terminal: one line, kept below the log lines, on stderr."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from daemon.cli.summary import org_line
from daemon.core.logs import status_line
from daemon.sync.full_pass import OrgRef, OrgResult

# Often enough to look alive, rarely enough that a fast backfill does not flood the terminal.
REDRAW_EVERY_S = 0.1


class PassProgress:
    """Prints each org's summary line as it finishes, under a live progress line on a TTY.

    The progress line goes through the same `StatusLine` as the log lines, which print above
    it; it counts orgs, devices, requests, 429s and the loss/latency windows stored of those due.
    """

    def __init__(
        self,
        lines: TextIO | None = None,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
    ) -> None:
        self._lines = lines if lines is not None else sys.stdout
        out = stream if stream is not None else sys.stderr
        self._status = status_line(out)
        self._enabled = out.isatty() if enabled is None else enabled
        self._width = _columns(out)
        self._total = 0
        self._done = 0
        self._devices = 0
        self._requests = 0
        self._rate_limited = 0
        self._windows: dict[str, tuple[int, int]] = {}
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def listed(self, orgs: list[OrgRef]) -> None:
        """The pass knows how many orgs it will visit."""
        self._total = len(orgs)
        self._draw()

    def windows(self, organization_id: str, stored: int, due: int) -> None:
        """An org's loss/latency backfill moved: `stored` of its `due` windows are in."""
        self._windows[organization_id] = (stored, due)
        self._draw(throttle=stored not in (0, due))

    def org_done(self, result: OrgResult) -> None:
        """One more org finished: print its line, then redraw the progress line."""
        if self._enabled:
            self._status.show("")
        print(org_line(result), file=self._lines, flush=True)
        self._done += 1
        self._devices += result.rows("devices")
        self._requests += result.requests
        self._rate_limited += result.rate_limited
        self._draw()

    def finish(self) -> None:
        """Clear the progress line so other output prints cleanly."""
        if self._enabled:
            self._status.show("")

    def _draw(self, *, throttle: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if throttle and now - self._drawn_at < REDRAW_EVERY_S:
            return
        self._drawn_at = now
        line = (
            f"orgs {self._done}/{self._total}  devices {self._devices}  "
            f"requests {self._requests}  429s {self._rate_limited}"
        )
        if self._windows:
            stored = sum(done for done, _ in self._windows.values())
            due = sum(due for _, due in self._windows.values())
            line += f"  loss/latency windows {stored}/{due}"
        line += f"  {now - self._started:.1f}s"
        # A line wider than the terminal wraps, and clearing it would leave its first row behind.
        self._status.show(line[: self._width - 1] if self._width else line)


def _columns(stream: TextIO) -> int:
    """The terminal's width, or 0 when it cannot be told."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0
