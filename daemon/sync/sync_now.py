"""The sync-now protocol between `once` and running instances.

`once` records a request (daemon/store/sync_requests.py: one row per organization, with a
deadline) and sends NOTIFY on CHANNEL with a JSON payload: the request id and, when it asked
for one organization, that organization's id. A running instance that holds an organization
of the request takes it and runs every job of it at once through its scheduler, tagging the
runs with the request id; `once` builds its summary from those runs. The payload is a hint to
look now; the rows decide.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

CHANNEL = "meraki_sync_sync_now"
# NOTIFY payloads must stay under 8000 bytes; ids are far shorter, but a payload is bounded.
MAX_ID_LENGTH = 200


@dataclass(frozen=True)
class SyncNowRequest:
    """What a notification says: which request, and its one organization if it names one."""

    request_id: str
    organization_id: str | None = None

    def payload(self) -> str:
        """The NOTIFY payload."""
        return json.dumps(
            {"request_id": self.request_id, "organization_id": self.organization_id},
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, payload: str) -> SyncNowRequest:
        """A payload read back; ValueError saying what is wrong with a bad one."""
        try:
            body = json.loads(payload)
        except ValueError:
            raise ValueError("payload is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("payload is not a JSON object")
        request_id = body.get("request_id")
        organization_id = body.get("organization_id")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID_LENGTH:
            raise ValueError(f"request_id must be a string of 1 to {MAX_ID_LENGTH} characters")
        if organization_id is not None and (
            not isinstance(organization_id, str) or not 0 < len(organization_id) <= MAX_ID_LENGTH
        ):
            raise ValueError("organization_id must be null or a non-empty string")
        return cls(request_id, organization_id)


def new_request_id() -> str:
    """A fresh request id: random, so requests of processes on many hosts never collide."""
    return f"req-{secrets.token_hex(8)}"
