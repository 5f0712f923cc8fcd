"""File attributes and the filters over them (OpenAI's comparison and compound filters).

A comparison is ``{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin", "key", "value"}``;
a compound is ``{"type": "and"|"or", "filters": [...]}``, nested freely.  Numbers compare
as numbers, strings as strings, booleans only by (in)equality; a comparison of different
kinds, or on a missing key, is false, except ``ne`` and ``nin``, which are then true.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequestError

MAX_ATTRIBUTES = 16
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_VALUE = 512
COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUNDS = ("and", "or")
MAX_DEPTH = 16

Scalar = str | int | float | bool


def attributes(value: Any, param: str = "attributes") -> dict[str, Scalar] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidRequestError(
            f"Invalid '{param}': too many properties. Expected an object with at most {MAX_ATTRIBUTES} "
            f"properties, but got an object with {len(value)} properties instead.", param=param)
    for key, val in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_ATTRIBUTE_KEY:
            raise InvalidRequestError(
                f"Invalid '{param}': keys must be strings of 1 to {MAX_ATTRIBUTE_KEY} characters.", param=param)
        if not isinstance(val, (str, int, float, bool)) or val is None:
            raise InvalidRequestError(
                f"Invalid type for '{param}.{key}': expected a string, a number or a boolean.",
                param=f"{param}.{key}")
        if isinstance(val, str) and len(val) > MAX_ATTRIBUTE_VALUE:
            raise InvalidRequestError(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"{MAX_ATTRIBUTE_VALUE}, but got a string with length {len(val)} instead.", param=f"{param}.{key}")
    return dict(value)


def check(value: Any, param: str = "filters", depth: int = 0) -> dict | None:
    """Validate a filter (returned as given) or raise naming the offending part."""
    if value is None:
        return None
    if depth > MAX_DEPTH:
        raise InvalidRequestError(f"Invalid '{param}': filters nested too deep.", param=param)
    if not isinstance(value, dict):
        raise InvalidRequestError(f"Invalid type for '{param}': expected an object.", param=param)
    kind = value.get("type")
    if kind in COMPOUNDS:
        subs = value.get("filters")
        if not isinstance(subs, list) or not subs:
            raise InvalidRequestError(f"Invalid '{param}.filters': expected a non-empty array of filters.",
                                      param=f"{param}.filters")
        for i, sub in enumerate(subs):
            check(sub, f"{param}.filters[{i}]", depth + 1)
        return value
    if kind not in COMPARISONS:
        raise InvalidRequestError(
            f"Invalid value for '{param}.type': expected one of {', '.join(COMPARISONS + COMPOUNDS)}.",
            param=f"{param}.type")
    if not isinstance(value.get("key"), str) or not value["key"]:
        raise InvalidRequestError(f"Missing required parameter: '{param}.key'.", param=f"{param}.key")
    if "value" not in value:
        raise InvalidRequestError(f"Missing required parameter: '{param}.value'.", param=f"{param}.value")
    target = value["value"]
    if kind in ("in", "nin"):
        if not isinstance(target, list) or not all(_scalar(x) for x in target):
            raise InvalidRequestError(f"Invalid type for '{param}.value': expected an array of strings or "
                                      "numbers.", param=f"{param}.value")
    elif not _scalar(target):
        raise InvalidRequestError(f"Invalid type for '{param}.value': expected a string, a number or a "
                                  "boolean.", param=f"{param}.value")
    return value


def matches(flt: dict | None, attrs: dict[str, Any] | None) -> bool:
    """Whether a file with ``attrs`` passes ``flt`` (a checked filter; None passes all)."""
    if flt is None:
        return True
    attrs = attrs or {}
    kind = flt["type"]
    if kind == "and":
        return all(matches(f, attrs) for f in flt["filters"])
    if kind == "or":
        return any(matches(f, attrs) for f in flt["filters"])
    key, target = flt["key"], flt["value"]
    if key not in attrs:
        return kind in ("ne", "nin")
    have = attrs[key]
    if kind == "in":
        return any(_equal(have, t) for t in target)
    if kind == "nin":
        return not any(_equal(have, t) for t in target)
    if kind == "eq":
        return _equal(have, target)
    if kind == "ne":
        return not _equal(have, target)
    if _kind(have) != _kind(target) or _kind(have) == "bool":
        return False
    if kind == "gt":
        return have > target
    if kind == "gte":
        return have >= target
    if kind == "lt":
        return have < target
    return have <= target  # lte


def _scalar(x: Any) -> bool:
    return isinstance(x, (str, int, float, bool))


def _kind(x: Any) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, (int, float)):
        return "number"
    return "string"


def _equal(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and a == b
