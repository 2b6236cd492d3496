"""Summaries of py-spy's collapsed stacks (`py-spy record -f raw`): where a pass spends CPU."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# "function (path/to/file.py:123)" -> "function (file.py)"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize(path: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Top functions by self and by inclusive share of the samples (percent)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return {"self": [], "inclusive": [], "samples": []}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100.0 * n / total) for name, n in counter.most_common(top)]

    return {"self": share(self_time), "inclusive": share(inclusive), "samples": [("all", total)]}


def render(path: Path, top: int = 15) -> str:
    """Both lists as text."""
    summary = summarize(path, top)
    lines = [f"py-spy {path.name}: {summary['samples'][0][1] if summary['samples'] else 0} samples"]
    for kind in ("self", "inclusive"):
        lines.append(f"  top {kind}:")
        lines += [f"    {pct:5.1f}%  {name}" for name, pct in summary[kind]]
    return "\n".join(lines)
