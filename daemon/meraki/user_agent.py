"""The User-Agent header, in the format Meraki prescribes: `ApplicationName/version VendorName`.

Meraki's rule (its "User agents" guide): both names without spaces, hyphens or special
characters, and only a slash before the optional version. A PEP 440 version may carry `+local`,
`-` or `_`; only its letters, digits and dots are kept (the guide's own example is `0.8b`).
"""

from __future__ import annotations

import re

from daemon import __version__

APPLICATION_NAME = "MerakiSync"
DEFAULT_VENDOR = "MerakiSyncProject"
NAME = re.compile(r"[A-Za-z0-9]+")


def version_token(version: str) -> str:
    """The public part of `version` (before `+`), letters, digits and dots only."""
    public = version.split("+", 1)[0]
    return re.sub(r"[^A-Za-z0-9.]", "", public).strip(".") or "0"


def user_agent(vendor: str = DEFAULT_VENDOR, version: str = __version__) -> str:
    """`MerakiSync/<version> <vendor>`; ValueError when the vendor breaks Meraki's rule."""
    if not NAME.fullmatch(vendor):
        raise ValueError("a User-Agent vendor name must be letters and digits only")
    return f"{APPLICATION_NAME}/{version_token(version)} {vendor}"
