"""`meraki-sync example-config | systemd-unit | alert-rules`: print a file shipped in the wheel.

An installed package carries what a deployment needs (the wheel force-includes these files under
`daemon/deploy/`), so no source checkout is required; in a checkout they are read from where
they live in the tree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from daemon.core.errors import EXIT_FAILURE, EXIT_OK


@dataclass(frozen=True)
class ShippedFile:
    """A deployment file: its name in the wheel, its place in the source tree, what it is."""

    packaged: str
    source: str
    summary: str


DEPLOY_FILES = {
    "example-config": ShippedFile(
        "config.example.toml",
        "config.example.toml",
        "print config.example.toml: every setting with its default "
        "(meraki-sync example-config > /etc/meraki-sync/config.toml)",
    ),
    "systemd-unit": ShippedFile(
        "meraki-sync.service",
        "systemd/meraki-sync.service",
        "print the hardened systemd unit "
        "(meraki-sync systemd-unit > /etc/systemd/system/meraki-sync.service)",
    ),
    "alert-rules": ShippedFile(
        "alerts.yml",
        "prometheus/alerts.yml",
        "print the Prometheus alert rules for the daemon's metrics",
    ),
}


def deploy_file_text(verb: str) -> str:
    """The text of the file `verb` prints: packaged in the wheel, or from a source checkout."""
    shipped = DEPLOY_FILES[verb]
    packaged = resources.files("daemon").joinpath("deploy", shipped.packaged)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / shipped.source).read_text(encoding="utf-8")


def print_deploy_file(verb: str) -> int:
    """Print the file to stdout; exit 1 with a clear line when the installation lacks it."""
    try:
        text = deploy_file_text(verb)
    except OSError as exc:
        print(
            f"error: {DEPLOY_FILES[verb].packaged} is not in this installation ({exc.strerror})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    sys.stdout.write(text)
    return EXIT_OK
