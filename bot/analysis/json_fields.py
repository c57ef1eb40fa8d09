"""Reading JSON from a file we do not trust: a field that should hold an object may hold anything."""

from __future__ import annotations

from typing import Any


def sub_dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` when it is a JSON object, else an empty one (absent, null, a list, a string…)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
