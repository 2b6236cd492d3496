"""The metrics of a one-shot run (`meraki-sync once --metrics-file`) as a node_exporter
textfile-collector file.

node_exporter reads every `*.prom` file of its `--collector.textfile.directory` at each scrape;
a half-written file would be read as garbage or as missing series. So the exposition is written
to a temporary file in the same directory (the same file system) and renamed over the target,
which readers see all at once or not at all.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Metric, generate_latest
from prometheus_client.registry import Collector

from daemon.core.errors import ConfigError

SETTING = "--metrics-file"
PREFIX = "meraki_sync_"
# The daemon's own verdicts: a one-shot run has no readiness, and a 0 would page someone.
DAEMON_ONLY = frozenset({"meraki_sync_ready"})


def check_writable(path: Path) -> None:
    """Fail before the pass, naming the option, when the file could not be written after it."""
    directory = path.parent
    if not directory.is_dir():
        raise ConfigError(SETTING, f"directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(SETTING, f"directory {directory} is not writable")
    if path.is_dir():
        raise ConfigError(SETTING, f"{path} is a directory")


class _Ours(Collector):
    """The default registry's meraki_sync_* metrics, less the families named in `omit`.

    The process_* and python_* collectors are left out: they describe a process that has
    exited, and node_exporter exports process_* series of its own, which the textfile
    collector must not duplicate.
    """

    def __init__(self, omit: frozenset[str]) -> None:
        self._omit = omit

    def collect(self) -> Iterable[Metric]:
        return [
            family
            for family in REGISTRY.collect()
            if family.name.startswith(PREFIX) and family.name not in self._omit
        ]


def exposition(omit: frozenset[str] = frozenset()) -> bytes:
    """Every meraki_sync_* metric but the daemon-only ones and `omit`, in the text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Ours(DAEMON_ONLY | omit))
    return generate_latest(registry)


def write_textfile(path: Path, *, omit: frozenset[str] = frozenset()) -> None:
    """Write the exposition (less `omit`) to `path` atomically: a temp file in the same
    directory, then a rename."""
    data = exposition(omit)
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            # node_exporter runs as another user: the file must be readable by it.
            os.chmod(temp, 0o644)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
    except OSError as exc:
        raise ConfigError(SETTING, f"cannot write {path}: {exc.strerror or exc}") from None
