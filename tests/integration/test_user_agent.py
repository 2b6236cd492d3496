"""The User-Agent every request carries follows Meraki's format (docs/UserAgents.md)."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from daemon.core.config import MerakiSettings, load_settings
from daemon.core.errors import ConfigError
from daemon.meraki.client import CallStats
from daemon.meraki.user_agent import user_agent, version_token
from tests.hostile import hostile_server

# Meraki: "ApplicationName/1.0 VendorName"; both names "must omit all spaces, hyphens, and
# special characters"; "use only slashes (/) when you optionally provide application version
# information" (its examples: `PlanetCraftLite/0.8b LunarCommander`, `BurrowFinder/2.5 ...`).
MERAKI_USER_AGENT = re.compile(r"[A-Za-z0-9]+(?:/[A-Za-z0-9.]+)? [A-Za-z0-9]+")


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        ("PlanetCraftLite/0.8b LunarCommander", True),
        ("BurrowFinder HappyRabbitProductions", True),
        ("MerakiSync/0.1.0 meraki-sync", False),
        ("Planet Craft/1.0 Lunar", False),
        ("App\\1.0 Vendor", False),
    ],
)
def test_the_rule_accepts_the_docs_examples_and_rejects_breaches(value: str, fits: bool) -> None:
    """The regex matches Meraki's own examples and refuses hyphens, spaces and backslashes."""
    assert bool(MERAKI_USER_AGENT.fullmatch(value)) is fits


async def test_requests_carry_a_compliant_user_agent() -> None:
    """What the server receives is `MerakiSync/<version> <vendor>` and fits Meraki's rule."""

    async def empty(request: web.Request) -> web.Response:
        return web.json_response([])

    async with (
        hostile_server({"/organizations": empty}) as server,
        server.client(user_agent_vendor="AcmeNetworks") as client,
    ):
        await client.get(
            client.url("/organizations"), org_id=None, endpoint="/organizations", stats=CallStats()
        )
    sent = server.seen[0].headers["User-Agent"]
    assert MERAKI_USER_AGENT.fullmatch(sent), sent
    assert sent.startswith("MerakiSync/")
    assert sent.endswith(" AcmeNetworks")


@pytest.mark.parametrize(
    ("version", "token"),
    [
        ("0.1.0", "0.1.0"),
        ("1.2.3+local.abc", "1.2.3"),
        ("0.0.0+unknown", "0.0.0"),
        ("2.0.0rc1", "2.0.0rc1"),
        ("1.0.post1.dev0", "1.0.post1.dev0"),
        ("1.0-beta_2", "1.0beta2"),
    ],
)
def test_any_version_becomes_a_compliant_token(version: str, token: str) -> None:
    """PEP 440 versions lose `+local` and every character Meraki forbids."""
    assert version_token(version) == token
    assert MERAKI_USER_AGENT.fullmatch(user_agent("Vendor", version))


@pytest.mark.parametrize("vendor", ["meraki-sync", "Acme Networks", "Acmé", "", "A/B"])
def test_a_vendor_breaking_the_rule_is_a_config_error(vendor: str) -> None:
    """`meraki.user_agent_vendor` with a hyphen, space or special character names the setting."""
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"MERAKI_SYNC_MERAKI__USER_AGENT_VENDOR": vendor})
    assert raised.value.setting == "meraki.user_agent_vendor"
    assert MerakiSettings().user_agent_vendor == "MerakiSyncProject"
