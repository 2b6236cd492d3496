"""Every line a non-TTY process logs is JSON, including what asyncpg, aiohttp and Python's
warnings emit through the stdlib, with secrets masked the same way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from daemon.simulator.process import clean_env

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-key-3b9f1c7d5e2a4680"

# Provokes asyncpg's own warnings: InterfaceWarning (warnings.warn) for a connection released
# with a listener, and asyncpg.pool's "Failed to restore the pool connection floor" (a logger
# warning with exc_info) once the proxy in front of PostgreSQL refuses connections.
SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    import asyncpg, structlog
    from daemon.core.logs import configure_logging
    from tests.pgproxy import PgProxy

    async def main(dsn, secret):
        configure_logging("info", "auto", stream=sys.stderr, secrets=[secret])
        structlog.get_logger("daemon.test").info("provoking", key=secret)
        logging.getLogger("aiohttp.client").warning("GET failed with key %s", secret)
        proxy = PgProxy(dsn)
        pool = await asyncpg.create_pool(await proxy.start(), min_size=1, max_size=2)
        async with pool.acquire() as conn:
            conn.add_log_listener(lambda *args: None)
        proxy.cut()
        await asyncio.sleep(2.5)
        pool.terminate()
        await proxy.stop()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_library_warnings_come_out_as_json_lines_with_secrets_masked(pg_server_dsn: str) -> None:
    """asyncpg's warnings (a warnings.warn and a pool logger warning with a traceback) and an
    aiohttp log line are JSON lines like our own events, and the secret is masked in all."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, pg_server_dsn, SECRET],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\n{done.stderr}") from None
    assert SECRET not in done.stderr
    texts = [str(event.get("event", "")) for event in events]
    assert any("is being released to the pool" in text for text in texts), texts
    assert any("Failed to restore the pool connection floor" in text for text in texts), texts
    assert "GET failed with key [REDACTED]" in texts
    pool_warning = next(e for e in events if "pool connection floor" in str(e["event"]))
    assert pool_warning["logger"] == "asyncpg.pool"
    assert pool_warning["level"] == "warning"
    assert "timestamp" in pool_warning
