"""Progress of a pass on a terminal: one line, rewritten in place, on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from daemon.cli.summary import org_line
from daemon.sync.full_pass import OrgRef, OrgResult


class PassProgress:
    """Prints each org's summary line as it finishes, under a live progress line on a TTY."""

    def __init__(
        self,
        lines: TextIO | None = None,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
    ) -> None:
        self._lines = lines if lines is not None else sys.stdout
        self._out = stream if stream is not None else sys.stderr
        self._enabled = self._out.isatty() if enabled is None else enabled
        self._total = 0
        self._done = 0
        self._devices = 0
        self._requests = 0
        self._rate_limited = 0
        self._started = time.monotonic()

    def listed(self, orgs: list[OrgRef]) -> None:
        """The pass knows how many orgs it will visit."""
        self._total = len(orgs)
        self._draw()

    def org_done(self, result: OrgResult) -> None:
        """One more org finished: print its line, then redraw the progress line."""
        self.finish()
        print(org_line(result), file=self._lines, flush=True)
        self._done += 1
        self._devices += result.rows("devices")
        self._requests += result.requests
        self._rate_limited += result.rate_limited
        self._draw()

    def finish(self) -> None:
        """Clear the progress line so other output prints cleanly."""
        if self._enabled:
            self._out.write("\r\033[K")
            self._out.flush()

    def _draw(self) -> None:
        if not self._enabled:
            return
        elapsed = time.monotonic() - self._started
        self._out.write(
            f"\r\033[Korgs {self._done}/{self._total}  devices {self._devices}  "
            f"requests {self._requests}  429s {self._rate_limited}  {elapsed:.1f}s"
        )
        self._out.flush()
