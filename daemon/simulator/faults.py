"""Runtime-switchable misbehaviour: server errors, resets, extra 429s, bad rows, redirects.

Random choices per request come from a generator seeded with the world's seed, so a run that
sends the same requests in the same order meets the same faults. Which rows are malformed is
a pure function of (seed, endpoint, row key): the same rows are bad on every read.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from email.utils import formatdate
from typing import Any, Literal, TypeGuard

from daemon.simulator.hashing import mix64, text_hash, unit
from daemon.simulator.options import SimulatorOptions

RETRY_AFTER_STYLES = ("seconds", "decimal", "http-date", "missing")
ServerFault = Literal[500, 502, 503, "reset"]
SERVER_FAULTS: tuple[ServerFault, ...] = (500, 502, 503, "reset")


class FaultSettingsError(ValueError):
    """A fault setting has the wrong type or an out-of-range value."""


@dataclass
class FaultSettings:
    """The current fault knobs; `POST /_sim/faults` patches them."""

    fault_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_style: str = "seconds"
    malformed_rate: float = 0.0
    redirect_to: str | None = None
    redirect_once_to_self: bool = False
    api_key: str = ""
    forbidden_orgs: tuple[str, ...] = ()
    latency_ms: float = 0.0

    @classmethod
    def from_options(cls, options: SimulatorOptions) -> FaultSettings:
        """The settings a simulator starts with."""
        return cls(
            fault_rate=options.fault_rate,
            api_key=options.api_key,
            forbidden_orgs=tuple(options.forbidden_orgs),
            latency_ms=options.latency_ms,
        )

    def as_json(self) -> dict[str, Any]:
        """The settings as a JSON object."""
        data = asdict(self)
        data["forbidden_orgs"] = list(self.forbidden_orgs)
        return data

    def update(self, patch: Mapping[str, Any]) -> None:
        """Apply a partial update; all-or-nothing, raising FaultSettingsError on a bad value."""
        known = {field.name for field in fields(self)}
        unknown = sorted(set(patch) - known)
        if unknown:
            raise FaultSettingsError(f"unknown fault settings: {', '.join(unknown)}")
        staged = {name: _validated(name, value) for name, value in patch.items()}
        for name, value in staged.items():
            setattr(self, name, value)


def _validated(name: str, value: Any) -> Any:
    if name in ("fault_rate", "rate_limit_rate", "malformed_rate"):
        if not is_finite_number(value) or not 0.0 <= value <= 1.0:
            raise FaultSettingsError(f"{name} must be a number between 0 and 1")
        return float(value)
    if name == "latency_ms":
        if not is_finite_number(value) or value < 0:
            raise FaultSettingsError("latency_ms must be a number >= 0")
        return float(value)
    if name == "retry_after_style":
        if value not in RETRY_AFTER_STYLES:
            raise FaultSettingsError(f"retry_after_style must be one of {RETRY_AFTER_STYLES}")
        return value
    if name == "redirect_to":
        if value is not None and not (isinstance(value, str) and value.startswith("http")):
            raise FaultSettingsError("redirect_to must be null or an http(s) URL prefix")
        return value.rstrip("/") if value else None
    if name == "redirect_once_to_self":
        if not isinstance(value, bool):
            raise FaultSettingsError("redirect_once_to_self must be a boolean")
        return value
    if name == "api_key":
        if not isinstance(value, str) or not value:
            raise FaultSettingsError("api_key must be a non-empty string")
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise FaultSettingsError("forbidden_orgs must be a list of organization ids")
    return tuple(value)


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """Whether a decoded JSON value is a finite number (booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class FaultInjector:
    """Draws the faults each request meets, from the current settings."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._seed_mix = mix64(seed)
        self._rng = random.Random(f"faults:{seed}")
        self._redirected_paths: set[str] = set()

    def server_fault(self) -> ServerFault | None:
        """A 5xx status or "reset" for this request, or None to answer normally."""
        if self.settings.fault_rate and self._rng.random() < self.settings.fault_rate:
            return self._rng.choice(SERVER_FAULTS)
        return None

    def inject_rate_limit(self) -> bool:
        """Whether to answer this org request 429 although its bucket has tokens."""
        rate = self.settings.rate_limit_rate
        return bool(rate) and self._rng.random() < rate

    def is_malformed(self, endpoint: str, key: str) -> bool:
        """Whether the row with `key` from `endpoint` is served malformed."""
        rate = self.settings.malformed_rate
        return bool(rate) and unit(text_hash(f"{endpoint}\x00{key}") ^ self._seed_mix) < rate

    def redirect_once(self, path: str) -> bool:
        """True the first time `path` is seen while redirect_once_to_self is on."""
        if not self.settings.redirect_once_to_self or path in self._redirected_paths:
            return False
        self._redirected_paths.add(path)
        return True

    def retry_after(self, wait_s: float) -> dict[str, str]:
        """The Retry-After header for a wait, in the configured style (maybe none at all)."""
        style = self.settings.retry_after_style
        if style == "missing":
            return {}
        if style == "decimal":
            return {"Retry-After": f"{max(wait_s, 0.001):.3f}"}
        seconds = max(1, math.ceil(wait_s))
        if style == "http-date":
            # HTTP-dates have whole-second resolution; round up so a client never comes early.
            return {"Retry-After": formatdate(math.ceil(time.time()) + seconds, usegmt=True)}
        return {"Retry-After": str(seconds)}
