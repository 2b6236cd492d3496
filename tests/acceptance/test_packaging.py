"""The built wheel deploys without the source tree, and every verb's --help explains itself.

The wheel test is the slowest here (it builds a wheel with pip, about 5-20 s; pip fetches the
hatchling build backend into its isolated build environment).
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from daemon.core.errors import EXIT_CONFIG
from daemon.simulator.process import clean_env
from tests.acceptance.conftest import cli

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "example-config": ROOT / "config.example.toml",
    "systemd-unit": ROOT / "systemd" / "meraki-sync.service",
    "alert-rules": ROOT / "prometheus" / "alerts.yml",
}
VERBS = [
    [],
    ["check"],
    ["migrate"],
    ["run"],
    ["once"],
    ["simulate"],
    ["demo"],
    ["map"],
    ["map", "list"],
    ["map", "set"],
    ["map", "unset"],
    ["map", "import"],
    ["map", "export"],
    ["example-config"],
    ["systemd-unit"],
    ["alert-rules"],
]
OPTION_START = re.compile(r"^  (-\S+)")


def outside_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without this checkout on the import path."""
    env = clean_env(extra)
    env.pop("PYTHONPATH", None)
    return env


def test_the_installed_wheel_deploys_without_the_source_tree(
    tmp_path: Path, database_dsn: str
) -> None:
    """Build the wheel, install it in a fresh venv, and print and use what a deployment needs."""
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("meraki_sync-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", wheel],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    # Dependencies come from this venv (no network needed); meraki-sync itself only from the
    # wheel: a path line in a .pth adds the directory without running its own .pth files.
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "meraki-sync"), *args],
            cwd=elsewhere,
            env=outside_env(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    where = subprocess.check_output(
        [str(python), "-c", "import daemon; print(daemon.__file__)"],
        cwd=elsewhere,
        env=outside_env(),
        text=True,
    )
    assert where.startswith(str(site)), where
    for verb, source in SHIPPED.items():
        printed = run(verb)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout == source.read_text(encoding="utf-8"), verb
    migrated = run("migrate", env={"MERAKI_SYNC_DATABASE__DSN": database_dsn})
    assert migrated.returncode == 0, migrated.stderr
    assert "Schema is at version" in migrated.stdout


def test_deployment_files_print_even_with_a_broken_config(tmp_path: Path) -> None:
    """Printing the example config needs no valid config: it is how one starts writing one."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[meraki\n", encoding="utf-8")
    assert cli("--config", str(broken), "check").code == EXIT_CONFIG

    printed = cli("--config", str(broken), "example-config")

    assert printed.code == 0, printed.stderr
    assert printed.stdout == SHIPPED["example-config"].read_text(encoding="utf-8")


def option_blocks(help_text: str) -> dict[str, str]:
    """Each option of an --help text with its (possibly wrapped) help, by first option string."""
    blocks: dict[str, str] = {}
    current = None
    for line in help_text.split("options:", 1)[1].splitlines():
        if match := OPTION_START.match(line):
            current = match.group(1).rstrip(",")
            blocks[current] = line
        elif current is not None and line.startswith("   "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return blocks


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "meraki-sync")
def test_every_help_says_what_it_does_and_shows_defaults(verb: list[str]) -> None:
    """--help of every verb: a description, and every option with help text and its default."""
    shown = cli(*verb, "--help", env={"COLUMNS": "100"})

    assert shown.code == 0, shown.stderr
    usage, _, rest = shown.stdout.partition("\n\n")
    assert usage.startswith("usage: meraki-sync")
    description = rest.split("\n\n", 1)[0].strip()
    assert description, shown.stdout
    assert not description.startswith(("options:", "positional arguments:")), shown.stdout
    blocks = option_blocks(shown.stdout)
    assert "--config" in blocks
    for option, block in blocks.items():
        if option in ("-h", "--version"):
            continue
        assert "(default: " in " ".join(block.split()), block
    positionals = rest.split("positional arguments:", 1)
    if len(positionals) == 2:
        for line in positionals[1].split("options:", 1)[0].splitlines():
            # VERB and COMMAND list their choices below them, each with its help.
            if line.strip() not in ("", "VERB", "COMMAND") and not line.startswith("    "):
                assert len(line.split(None, 1)) == 2, f"no help for {line.strip()!r}"
