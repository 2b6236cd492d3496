"""The exception tree. Messages never contain the API key: callers pass ids and reasons only."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_NOPERM = 77  # sysexits EX_NOPERM: the API key was rejected
EXIT_CONFIG = 78  # sysexits EX_CONFIG: systemd's RestartPreventExitStatus keys on it


class MerakiSyncError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(MerakiSyncError):
    """A setting is missing or invalid. `setting` is its dotted name, e.g. `meraki.base_url`."""

    def __init__(self, setting: str, message: str, *, origin: str | None = None) -> None:
        # origin: where a value came from when it is not the file, e.g. an environment variable.
        super().__init__(f"{setting}{f' ({origin})' if origin else ''}: {message}")
        self.setting = setting
        self.message = message
        self.origin = origin


class ApiError(MerakiSyncError):
    """The Meraki API could not give us what we asked for."""


class ApiKeyRejected(ApiError):
    """HTTP 401: the key is revoked, mistyped, or was copied with whitespace."""

    def __init__(self) -> None:
        super().__init__("API key rejected (revoked, mistyped, or copied with whitespace)")


class EndpointUnavailable(ApiError):
    """HTTP 403/404 on one org's endpoint: that dataset is skipped for that org, others go on."""

    def __init__(self, status: int, path: str, reason: str) -> None:
        super().__init__(f"HTTP {status} on {path}: {reason}")
        self.status = status
        self.path = path
        self.reason = reason


class RedirectRefused(ApiError):
    """A redirect or Link pointed outside the allow-list; the key is not sent there."""

    def __init__(self, host: str) -> None:
        super().__init__(f"refused to follow a redirect to {host!r}: not an allowed Meraki host")
        self.host = host


class RetriesExhausted(ApiError):
    """5xx, timeouts, connection errors or 429s outlasted the bounded retry policy."""


class BadResponse(ApiError):
    """The API answered with something that is not the JSON shape the endpoint promises."""


class DatabaseUnavailable(MerakiSyncError):
    """PostgreSQL could not be reached or refused the connection."""


class StoreError(MerakiSyncError):
    """PostgreSQL refused a statement (a constraint, a type, a missing schema)."""


class LeaseLost(StoreError):
    """An org-scoped write was refused: this instance no longer holds the org's lease."""


class SchemaOutdated(StoreError):
    """The database schema is missing or older than this version of meraki-sync expects."""

    def __init__(self, found: int | None, expected: int) -> None:
        what = "no meraki schema" if found is None else f"schema version {found}"
        super().__init__(f"{what} in the database, expected {expected}: run `meraki-sync migrate`")
        self.found = found
        self.expected = expected


def schema_newer_message(found: int, expected: int) -> str:
    """What to say when the database was migrated by a newer meraki-sync than this one."""
    return (
        f"schema version {found} is newer than this meraki-sync, which expects {expected}: "
        "upgrade meraki-sync (it keeps working, but may not fill what the newer schema adds)"
    )


class OrgsLeasedElsewhere(MerakiSyncError):
    """`once` found organizations another one-off pass holds (it asks running services to
    sync theirs, but a pass in flight takes no requests)."""

    def __init__(self, holders: list[tuple[str, str]]) -> None:
        shown = ", ".join(f"{org} (held by {owner})" for org, owner in holders[:10])
        more = f" and {len(holders) - 10} more" if len(holders) > 10 else ""
        super().__init__(
            f"{len(holders)} organization(s) are being synced by another meraki-sync pass: "
            f"{shown}{more}. Run `once` again when it has finished, or limit it to other "
            "organizations with --org or meraki.organizations"
        )
        self.holders = holders


class UnknownOrganization(MerakiSyncError):
    """`once --org ID` names an organization the pass does not see."""

    def __init__(self, org_id: str, *, visible: int, allow_list: tuple[str, ...]) -> None:
        if allow_list and org_id not in allow_list:
            why = "it is not in meraki.organizations"
        else:
            why = f"the API key sees {visible} organization(s) and this is not one of them"
        super().__init__(
            f"--org {org_id!r}: no such organization ({why}); `meraki-sync check` counts what"
            " the key sees, and meraki.organizations limits it"
        )
        self.org_id = org_id


class SyncNowTimeout(MerakiSyncError):
    """Running instances asked to sync organizations now had not done so in time."""

    def __init__(self, timeout_s: float, pending: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{org} ({state})" for org, state in pending[:10])
        more = f"; and {len(pending) - 10} more" if len(pending) > 10 else ""
        super().__init__(
            f"timed out after {timeout_s:g} s waiting for running meraki-sync instances to sync"
            f" {len(pending)} organization(s): {shown}{more}. Raise cluster.sync_now_timeout_s"
            " or pass --timeout"
        )
        self.pending = pending
