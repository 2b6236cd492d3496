"""Dashboard JSON held to grafana-foundation-sdk's models of the current dashboard schema.

The SDK's decoders read a dashboard (panels, their options and field config, Prometheus and SQL
targets, variables) into typed models. A dashboard passes when it decodes, when encoding the
models again gives back exactly the same JSON (so no key was unknown to the models, misspelled
or misplaced), when every value has the type its model declares (enums included), and when its
schemaVersion is the one the SDK's schema is at.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard

from grafana import sql_query

SCHEMA_VERSION = dashboard.Dashboard().schema_version
_MODEL_MODULES = ("grafana_foundation_sdk.models.", sql_query.__name__)


@cache
def _registered() -> bool:
    """Register the SDK's panel and query decoders, and the SQL target's, once."""
    plugins.register_default_plugins()
    sql_query.register()
    return True


def decode(data: dict[str, Any]) -> dashboard.Dashboard:
    """The dashboard read into the SDK's models."""
    _registered()
    return dashboard.Dashboard.from_json(data)


def encode(value: object) -> Any:
    """Models as plain JSON values."""
    return json.loads(json.dumps(value, cls=JSONEncoder))


def differences(given: Any, again: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, as paths."""
    if isinstance(given, dict) and isinstance(again, dict):
        # Keys only the decoded side has are defaults the decoders fill in, not problems.
        found = [f"{path}.{key}: not in the schema's models" for key in given if key not in again]
        for key in given.keys() & again.keys():
            found += differences(given[key], again[key], f"{path}.{key}")
        return found
    if isinstance(given, list) and isinstance(again, list):
        if len(given) != len(again):
            return [f"{path}: {len(given)} items, {len(again)} after decoding"]
        found = []
        for index, (one, other) in enumerate(zip(given, again, strict=True)):
            found += differences(one, other, f"{path}[{index}]")
        return found
    if given != again or type(given) is not type(again):
        return [f"{path}: {given!r} reads back as {again!r}"]
    return []


def _is_model(value: object) -> bool:
    return type(value).__module__.startswith(_MODEL_MODULES)


def type_errors(value: object, path: str = "$") -> list[str]:
    """Values of a decoded model tree whose type is not the one their model declares."""
    if isinstance(value, cogruntime.UnknownDataquery):
        return [f"{path}: a target of no known data source type"]
    if not _is_model(value) or isinstance(value, enum.Enum):
        return []
    found: list[str] = []
    for name, hint in typing.get_type_hints(type(value)).items():
        found += _check(getattr(value, name, None), hint, f"{path}.{name}")
    return found


def _same_kind(value: object, hint: Any) -> bool:
    """Whether `value` is the container or class `hint` names (whatever its contents)."""
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and isinstance(value, origin)


def _check(value: object, hint: Any, path: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is object:
        return type_errors(value, path)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        if value is not None and len(present) == 1:
            return _check(value, present[0], path)
        results = [_check(value, arg, path) for arg in args]
        if any(not result for result in results):
            return []
        # Say why the member of the value's own kind does not fit, where there is one.
        for arg, result in zip(args, results, strict=True):
            if _same_kind(value, arg):
                return result
        return [f"{path}: {value!r} is none of {hint}"]
    if hint is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [e for i, item in enumerate(value) for e in _check(item, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        return [e for key, item in value.items() for e in _check(item, args[1], f"{path}.{key}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = {member.value for member in hint}
        return [] if value in allowed else [f"{path}: {value!r} is not one of {sorted(allowed)}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: {value!r} is not a boolean"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: {value!r} is not a string"]
    if isinstance(hint, type):
        if isinstance(value, dict) and hint.__module__.startswith(_MODEL_MODULES):
            # Some decoders leave a nested object as JSON (panel transformations and links):
            # read it with its own model, as strictly as the rest.
            from_json: Callable[[dict[str, Any]], object] | None = getattr(hint, "from_json", None)
            if from_json is None:
                return [f"{path}: {hint.__name__} cannot be read from JSON"]
            try:
                decoded = from_json(value)
            except (KeyError, TypeError, ValueError) as exc:
                return [f"{path}: does not decode as {hint.__name__}: {exc!r}"]
            return differences(value, encode(decoded), path) + type_errors(decoded, path)
        if not isinstance(value, hint):
            return [f"{path}: {type(value).__name__} is not {hint.__name__}"]
        return type_errors(value, path)
    raise TypeError(f"{path}: no check for the type {hint!r}")


def problems(data: dict[str, Any]) -> list[str]:
    """Everything that keeps `data` from being a dashboard of the current schema; empty when
    it is one."""
    found: list[str] = []
    if data.get("schemaVersion") != SCHEMA_VERSION:
        found.append(f"schemaVersion {data.get('schemaVersion')!r} is not {SCHEMA_VERSION}")
    try:
        model = decode(data)
    except (KeyError, TypeError, ValueError) as exc:
        return [*found, f"does not decode: {exc!r}"]
    found += differences(data, encode(model))
    found += type_errors(model)
    for index, panel in enumerate(model.panels or []):
        for target in getattr(panel, "targets", None) or []:
            if not isinstance(target, cogvariants.Dataquery):
                found.append(f"$.panels[{index}]: target {target!r} is not a query")
    return found
