"""Strict validation against the generated GA response models of `meraki-client`.

Those models are lenient on purpose, for clients of the real API: `extra="allow"` (newer API
versions add fields) keeps any field the GA contract lacks in `model_extra`, and
`coerce_numbers_to_str` (with pydantic's other lax coercions) accepts a JSON number where GA
says string. For judging our simulator both would hide exactly the mistakes we look for, so
`strict_validate` validates, then walks the model tree alongside the raw payload and fails on
every key no GA field claims and on every value whose JSON type the model had to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, RootModel, ValidationError
from pydantic_core import to_jsonable_python

M = TypeVar("M", bound=BaseModel)


class ContractViolation(AssertionError):
    """A payload the GA model refuses, or one the GA model only accepts by bending it."""


def _json_key(model: type[BaseModel], name: str) -> str:
    """The payload key of a model field: its validation alias when it has one."""
    alias = model.model_fields[name].validation_alias
    return alias if isinstance(alias, str) else name


def extra_paths(value: Any, where: str = "$") -> Iterator[str]:
    """Paths of every key that no GA model field claimed, anywhere under `value`."""
    if isinstance(value, RootModel):
        yield from extra_paths(value.root, where)
    elif isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            yield f"{where}.{key}"
        for name in type(value).model_fields:
            yield from extra_paths(getattr(value, name), f"{where}.{_json_key(type(value), name)}")
    elif isinstance(value, list | tuple):
        for index, element in enumerate(value):
            yield from extra_paths(element, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, element in value.items():
            yield from extra_paths(element, f"{where}.{key}")


def _json_type(value: Any) -> str:
    """The JSON type of a decoded JSON value (JSON has one number type)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def coerced_paths(value: Any, raw: Any, where: str = "$") -> Iterator[str]:
    """Paths where the payload's JSON type differs from what the validated model holds.

    A null array the model turns into [] is the models' own documented leniency and passes.
    """
    if isinstance(value, RootModel):
        yield from coerced_paths(value.root, raw, where)
    elif isinstance(value, BaseModel):
        if not isinstance(raw, dict):
            yield f"{where}: GA says object, got {_json_type(raw)}"
            return
        for name in type(value).model_fields:
            key = _json_key(type(value), name)
            if key in raw:
                yield from coerced_paths(getattr(value, name), raw[key], f"{where}.{key}")
    elif isinstance(value, list | tuple):
        if raw is None and not value:
            return
        if not isinstance(raw, list):
            yield f"{where}: GA says array, got {_json_type(raw)}"
            return
        for index, (element, raw_element) in enumerate(zip(value, raw, strict=True)):
            yield from coerced_paths(element, raw_element, f"{where}[{index}]")
    elif isinstance(value, dict):
        if not isinstance(raw, dict):
            yield f"{where}: GA says object, got {_json_type(raw)}"
            return
        for key, element in value.items():
            yield from coerced_paths(element, raw.get(key), f"{where}.{key}")
    else:
        expected, actual = _json_type(to_jsonable_python(value)), _json_type(raw)
        if expected != actual:
            yield f"{where}: GA says {expected}, got {actual} {raw!r}"


def strict_validate(model: type[M], payload: Any, where: str = "$") -> M:
    """`payload` validated into `model`; fails on a refused value, a coerced type or an extra
    field, naming every offending path."""
    try:
        validated = model.model_validate(payload)
    except ValidationError as exc:
        refused = "; ".join(
            f"{where}.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ContractViolation(f"{model.__name__} refuses {refused}") from None
    problems = [
        *(f"{path}: not in {model.__name__}" for path in extra_paths(validated, where)),
        *coerced_paths(validated, payload, where),
    ]
    if problems:
        raise ContractViolation("; ".join(sorted(problems)))
    return validated


def key_paths(value: Any, where: str = "$") -> Iterator[str]:
    """Every key path in a decoded JSON value, list indices folded to `[]`:
    {"a": [{"b": 1}]} gives `$.a` and `$.a[].b`."""
    if isinstance(value, dict):
        for key, element in value.items():
            yield f"{where}.{key}"
            yield from key_paths(element, f"{where}.{key}")
    elif isinstance(value, list):
        for element in value:
            yield from key_paths(element, f"{where}[]")


def never_sent(example_paths: set[str], sent_paths: set[str]) -> list[str]:
    """The example's key paths never sent, each named once at its shallowest missing level."""
    missing = example_paths - sent_paths
    return sorted(
        path
        for path in missing
        if not any(path.startswith((f"{other}.", f"{other}[]")) for other in missing)
    )
