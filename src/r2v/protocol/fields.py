"""Typed readers for JSON fields: each refuses a wrong type with a 400 that names the field.

JSON `null` counts as absent everywhere (the Python SDK sends `"prompt": null` and other nulls).
`True`/`False` are never accepted as numbers, and numbers never as booleans.
"""

from __future__ import annotations

from typing import Any

from r2v.errors import invalid

MISSING = object()


def whole_number(text: str) -> int | None:
    """The value of a text of ASCII digits only ("12"), else None. str.isdigit alone is not enough: "²" passes it
    and int() then refuses it, which would surface as a 500."""
    return int(text) if text.isascii() and text.isdigit() else None


def get(obj: dict, key: str) -> Any:
    value = obj.get(key, MISSING)
    return MISSING if value is None else value


def opt_bool(obj: dict, key: str, path: str, default: bool) -> bool:
    value = get(obj, key)
    if value is MISSING:
        return default
    if not isinstance(value, bool):
        raise invalid(_name(path, key), f"must be a boolean (true or false), got {_describe(value)}")
    return value


def opt_int(obj: dict, key: str, path: str, default: int | None, lo: int, hi: int) -> int | None:
    value = get(obj, key)
    if value is MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(_name(path, key), f"must be an integer, got {_describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise invalid(_name(path, key), f"must be an integer, got {value!r}")
        value = int(value)
    if not lo <= value <= hi:
        raise invalid(_name(path, key), f"must be between {lo} and {hi}, got {value}")
    return value


def _name(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _typed(obj: dict, key: str, path: str, kind: type, noun: str):
    """The value if present and of `kind`, None if absent; a 400 naming the field otherwise."""
    value = get(obj, key)
    if value is MISSING:
        return None
    if not isinstance(value, kind):
        raise invalid(_name(path, key), f"must be {noun}, got {_describe(value)}")
    return value


def opt_str(obj: dict, key: str, path: str) -> str | None:
    return _typed(obj, key, path, str, "a string")


def opt_enum(obj: dict, key: str, path: str, default: str, allowed: tuple[str, ...] | list[str]) -> str:
    value = opt_str(obj, key, path)
    if value is None:
        return default
    if value not in allowed:
        raise invalid(_name(path, key), f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def opt_object(obj: dict, key: str, path: str) -> dict:
    value = _typed(obj, key, path, dict, "a JSON object")
    return {} if value is None else value


def opt_list(obj: dict, key: str, path: str) -> list | None:
    return _typed(obj, key, path, list, "an array")


def _describe(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
