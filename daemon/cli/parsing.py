"""What every verb's parser shares: help that shows defaults, and `--config` after the verb."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

CONFIG_HELP = (
    "TOML config file (default: $MERAKI_SYNC_CONFIG, else /etc/meraki-sync/config.toml "
    "if it exists, else built-in defaults)"
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends `(default: X)` to an option's help, unless the help already says it or there is
    no default to show (then the help explains what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or "(default:" in text:
            return text
        return super()._get_help_string(action)


def add_config_option(parser: argparse.ArgumentParser, *, after_verb: bool) -> None:
    """`--config PATH`. After the verb it must not reset a `--config` given before the verb, so
    there it only sets the value when given (argparse would otherwise apply its default)."""
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS if after_verb else None,
        metavar="PATH",
        help=CONFIG_HELP,
    )


def add_verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    **options: Any,
) -> argparse.ArgumentParser:
    """A verb (or `map` sub-command) whose --help says what it does and shows defaults."""
    parser: argparse.ArgumentParser = verbs.add_parser(
        name, help=summary, description=summary, formatter_class=HelpFormatter, **options
    )
    add_config_option(parser, after_verb=True)
    return parser
