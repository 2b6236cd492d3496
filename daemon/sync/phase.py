"""Where within its interval each (org, dataset) job runs, so requests arrive at a steady rate.

Run-then-sleep keeps every job at the offset its first run happened to get, and first runs all
start together: at a thousand orgs the minute jobs then fire in the same few seconds, the
per-IP budget is the bottleneck for part of each minute and idle for the rest, and the orgs at
the back of that queue see data older than the interval. Instead each job owns a slot grid on
the wall clock, `phase * interval + k * interval`, with the phase taken from a hash of the org
id and the job name: spread evenly over the interval across jobs, the same after a restart and
on whichever instance holds the org next, so a takeover keeps the estate's rhythm.

The first run of a job still starts at once (fresh data soon after start, a takeover or a new
key); each later run starts at the first slot at least half an interval after the previous
start, so a job lands on its grid by its second run and then runs exactly once per interval.
"""

from __future__ import annotations

import hashlib
import math

# No run starts sooner than this share of its interval after the previous one: the one shorter
# gap a job has is the step onto its grid, so it never runs more often than the interval allows
# for more than that one step.
MIN_GAP_SHARE = 0.5


def phase(org_id: str, job: str) -> float:
    """The job's place within its interval, in [0, 1): a stable hash of org and job."""
    digest = hashlib.blake2b(f"{org_id}\x00{job}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def next_start(previous_start: float, interval_s: float, phase_share: float) -> float:
    """The first slot of the job's grid at least MIN_GAP_SHARE of an interval after
    `previous_start` (seconds on the wall clock, like the result)."""
    offset = phase_share * interval_s
    earliest = previous_start + MIN_GAP_SHARE * interval_s
    return offset + math.ceil((earliest - offset) / interval_s) * interval_s
