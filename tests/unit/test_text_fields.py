"""Text fields of every payload model: a NUL character or an oversized value rejects the row."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.meraki.models import (
    ID_MAX_CHARS,
    TEXT_MAX_CHARS,
    Device,
    Item,
    Network,
    Organization,
    RowRejected,
    parse_item,
)
from daemon.meraki.sase import SaseSite
from daemon.meraki.uplinks import UplinkDevice

HOSTILE: list[tuple[type[Item], dict[str, Any], str]] = [
    (Organization, {"id": "1", "name": "a\x00b"}, "name"),
    (Network, {"id": "N_1", "name": "n", "notes": "x\x00"}, "notes"),
    (Network, {"id": "N_1", "name": "n", "tags": ["ok", "b\x00d"]}, "tags"),
    (Device, {"serial": "Q2XX-0001", "address": "\x00"}, "address"),
    (
        UplinkDevice,
        {
            "serial": "Q2XX-0001",
            "uplinks": [{"interface": "wan1", "status": "active", "provider": "Carrier\x00"}],
        },
        "uplinks.0.provider",
    ),
    (
        SaseSite,
        {"siteId": "s1", "devices": {"primary": {"name": "Q2\x00"}}},
        "devices.primary.name",
    ),
    (SaseSite, {"siteId": "s1", "network": {"id": "N\x00"}}, "network.id"),
]


@pytest.mark.parametrize(("model", "item", "field"), HOSTILE)
def test_a_nul_character_anywhere_rejects_the_row_naming_the_field(
    model: type[Item], item: dict[str, Any], field: str
) -> None:
    """NUL in a plain, nested, list or free-form text field: RowRejected naming that field."""
    with pytest.raises(RowRejected) as raised:
        parse_item(model, item)
    assert raised.value.reason.startswith(f"{field}: ")
    assert "NUL" in raised.value.reason


def test_free_text_is_capped() -> None:
    """Notes up to the text cap pass; one character more rejects the row."""
    fits = parse_item(Network, {"id": "N_1", "name": "n", "notes": "x" * TEXT_MAX_CHARS})
    assert isinstance(fits, Network)
    with pytest.raises(RowRejected, match=r"^notes: .*at most 4096"):
        parse_item(Network, {"id": "N_1", "name": "n", "notes": "x" * (TEXT_MAX_CHARS + 1)})


def test_identifiers_have_a_tighter_cap() -> None:
    """A serial longer than the id cap is not an id: the row is rejected."""
    with pytest.raises(RowRejected, match=r"^serial: "):
        parse_item(Device, {"serial": "Q" * (ID_MAX_CHARS + 1)})
    assert parse_item(Device, {"serial": "Q" * ID_MAX_CHARS})


def test_ordinary_text_is_untouched() -> None:
    """Unicode, newlines and tabs are text, not hostile: they pass as sent."""
    parsed = parse_item(Network, {"id": "N_1", "name": "Zürich\tHQ", "notes": "a\nb"})
    assert isinstance(parsed, Network)
    assert (parsed.name, parsed.notes) == ("Zürich\tHQ", "a\nb")
