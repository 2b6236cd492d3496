"""The `[meraki]` client settings reach the running client, and bad values name the setting."""

from __future__ import annotations

import pytest
from aiohttp import web

from daemon.core.config import load_settings
from daemon.core.errors import BadResponse, ConfigError
from daemon.meraki.client import CallStats
from daemon.service.runtime import open_client
from tests.hostile import hostile_server


async def test_body_cap_and_vendor_from_settings_reach_the_client() -> None:
    """`max_body_bytes` and `user_agent_vendor` set by environment shape real requests."""

    async def big(request: web.Request) -> web.Response:
        return web.json_response(["x" * 100_000])

    async with hostile_server({"/organizations": big}) as server:
        settings = load_settings(
            environ={
                "MERAKI_SYNC_MERAKI__ALLOW_UNSAFE_BASE_URL": "true",
                "MERAKI_SYNC_MERAKI__BASE_URL": server.base_url,
                "MERAKI_SYNC_MERAKI__MAX_BODY_BYTES": "65536",
                "MERAKI_SYNC_MERAKI__USER_AGENT_VENDOR": "AcmeNetworks",
                "MERAKI_SYNC_MERAKI__MAX_ATTEMPTS": "1",
            }
        )
        async with open_client(settings, "k" * 40) as client:
            with pytest.raises(BadResponse, match=r"max_body_bytes \(65536 bytes\)"):
                await client.get(
                    client.url("/organizations"),
                    org_id=None,
                    endpoint="/organizations",
                    stats=CallStats(),
                )
    assert server.seen[0].headers["User-Agent"].endswith(" AcmeNetworks")


@pytest.mark.parametrize(
    ("name", "value"), [("max_body_bytes", "1000"), ("max_listing_items", "0")]
)
def test_out_of_range_limits_are_config_errors(name: str, value: str) -> None:
    """A body cap below 64 KiB or a listing cap below 1 is refused, naming the setting."""
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={f"MERAKI_SYNC_MERAKI__{name.upper()}": value})
    assert raised.value.setting == f"meraki.{name}"
