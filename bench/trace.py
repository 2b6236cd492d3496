"""`python -m bench.trace ARGS`: the daemon's own CLI with every token wait and request traced.

Nothing under daemon/ changes; this process wraps `RateLimiter.acquire` and `MerakiClient._send`
and, on exit, writes one JSON line per event to the file named by `BENCH_TRACE`:

- `acquire`: when a request got its tokens, how long it waited in its org's bucket and in the
  global one, and its priority;
- `send`: when it was sent (`t0`) and answered (`t`), its org, endpoint, status and body size.

`python -m bench run --trace` runs the passes through it; each pass's trace lands next to its
log as LABEL.trace.jsonl.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from yarl import URL

from daemon.cli import main as cli
from daemon.meraki import ratelimit
from daemon.meraki.client import CallStats, MerakiClient

_TRACE: list[dict[str, Any]] = []


def _install() -> None:
    original_acquire = ratelimit.RateLimiter.acquire
    original_send = MerakiClient._send

    async def acquire(
        self: ratelimit.RateLimiter,
        org_id: str | None,
        *,
        priority: ratelimit.Priority = ratelimit.Priority.NORMAL,
    ) -> ratelimit.Waited:
        waited = await original_acquire(self, org_id, priority=priority)
        _TRACE.append(
            {
                "kind": "acquire",
                "t": time.monotonic(),
                "org": org_id,
                "org_s": waited.org_s,
                "global_s": waited.global_s,
                "priority": priority.name,
            }
        )
        return waited

    async def send(
        self: MerakiClient, url: URL, org_id: str | None, endpoint: str, stats: CallStats
    ) -> Any:
        started = time.monotonic()
        answer = await original_send(self, url, org_id, endpoint, stats)
        _TRACE.append(
            {
                "kind": "send",
                "t0": started,
                "t": time.monotonic(),
                "org": org_id,
                "endpoint": endpoint,
                "status": answer.status,
                "bytes": len(answer.body),
            }
        )
        return answer

    ratelimit.RateLimiter.acquire = acquire  # type: ignore[method-assign]
    MerakiClient._send = send  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Trace, run the daemon's CLI, write the trace to `$BENCH_TRACE`."""
    path = os.environ["BENCH_TRACE"]
    _install()
    try:
        return cli.main(argv)
    finally:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(entry) + "\n" for entry in _TRACE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
