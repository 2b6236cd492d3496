"""`once` on a real terminal: log lines print above the progress line, which keeps moving."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from daemon.simulator.process import SimulatorProcess, clean_env, stop
from tests.acceptance.conftest import SIM_KEY
from tests.acceptance.conftest import cli as cli_run

SGR = re.compile(rb"\x1b\[[0-9;]*m")  # colours: irrelevant to where text lands
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[")
WINDOWS = re.compile(rb"loss/latency windows (\d+)/(\d+)")


def render(raw: bytes) -> list[str]:
    """The lines a terminal shows for `raw`: CR returns, ESC[K erases to the end of the line."""
    lines: list[str] = []
    line: list[str] = []
    col = 0
    text = SGR.sub(b"", raw).decode("utf-8", errors="replace")
    i = 0
    while i < len(text):
        if text.startswith("\x1b[K", i):
            del line[col:]
            i += 3
            continue
        char = text[i]
        i += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            lines.append("".join(line))
            line, col = [], 0
        else:
            line[col : col + 1] = [char]
            col += 1
    lines.append("".join(line))
    return lines


def run_in_terminal(argv: list[str], env: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    """Run argv with stdout and stderr on a pseudo-terminal; return its exit code and bytes."""
    master, slave = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        stop(process)
        os.close(master)
    return code, b"".join(chunks)


async def test_logs_print_above_a_progress_line_that_moves_through_the_backfill(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """In a pty: no log line shares a row with the progress line, and the window count grows."""
    config = tmp_path / "tty.toml"
    config.write_text(
        f'[meraki]\napi_key = "{SIM_KEY}"\nbase_url = "{simulator_process.base_url}"\n'
        f'allow_unsafe_base_url = true\n[database]\ndsn = "{database_dsn}"\n'
        # Three hours of 5-minute windows per org: a backfill long enough to watch.
        "[sync]\nbackfill_horizon_s = 10800\n[log]\nlevel = 'info'\n",
        encoding="utf-8",
    )
    env = clean_env({"COLUMNS": "200", "TERM": "xterm"})
    cli = [sys.executable, "-m", "daemon", "--config", str(config)]
    migrated = await asyncio.to_thread(cli_run, "--config", str(config), "migrate")
    assert migrated.code == 0, migrated.stderr

    code, raw = await asyncio.to_thread(run_in_terminal, [*cli, "once"], env, 180)

    assert code == 0, raw[-3000:]
    screen = render(raw)
    logs = [line for line in screen if "dataset_synced" in line]
    assert logs, raw[-3000:]
    for line in logs:
        assert LOG_LINE.match(line), line  # starts at column 0, nothing drawn before it
        assert "orgs " not in line, line  # no progress text after it either
    org_lines = [line for line in screen if line.startswith("org ")]
    assert len(org_lines) == 5
    assert all("orgs " not in line and "dataset_synced" not in line for line in org_lines)
    # The finished pass leaves no progress line behind: the closing line is the last one.
    assert [line for line in screen if line.strip()][-1].startswith("pass: 5 organizations")

    drawn = [(int(done), int(due)) for done, due in WINDOWS.findall(raw)]
    conn = await asyncpg.connect(database_dsn)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM meraki.uplink_sample_windows")
    finally:
        await conn.close()
    assert stored > 0
    counts = [done for done, _ in drawn]
    assert counts == sorted(counts), "the window count never goes back"
    partway = {done for done, due in drawn if 0 < done < due}
    assert len(partway) >= 3, drawn[-20:]  # it moved while the backfill ran
    assert drawn[-1] == (stored, stored)
