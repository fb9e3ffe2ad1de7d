"""Reading one field of a platform's JSON, or saying exactly which field was wrong.

Parsers read every field through these, so an item with a bad `created_time`,
a list where a string belongs or a string where an object belongs raises
`Unreadable(field)`: the connector skips that one item, counts it and logs
its id with the field, and stores the rest of the page.
"""
from __future__ import annotations

from datetime import datetime

from connectors.http import parse_time


class Unreadable(Exception):
    def __init__(self, field: str, why: str = "has the wrong shape"):
        super().__init__(f"{field} {why}")
        self.field = field


def obj(raw: object, key: str | None = None) -> dict:
    """`raw[key]` as an object (absent: empty); `raw` itself when no key is given."""
    value = raw if key is None else (raw.get(key) if isinstance(raw, dict) else None)
    if value is None and key is not None:
        return {}
    if not isinstance(value, dict):
        raise Unreadable(key or "(item)", "is not an object")
    return value


def text(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # ids sometimes come as numbers
    raise Unreadable(key, "is not text")


def required_text(raw: dict, key: str) -> str:
    value = text(raw, key)
    if not value:
        raise Unreadable(key, "is missing")
    return value


def time(raw: dict, key: str, required: bool = True) -> datetime | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise Unreadable(key, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Unreadable(key, "is not a time")
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError):
        raise Unreadable(key, "is not a time") from None


def flag(raw: dict, key: str, default: bool | None = False) -> bool | None:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Unreadable(key, "is not true or false")
    return value


def items(raw: dict, key: str) -> list:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(key, "is not a list")
    return value


def item_id(raw: object) -> str:
    """An id safe to put in a log line (ids only: never text or names)."""
    value = raw.get("id") if isinstance(raw, dict) else None
    value = value if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    return str(value)[:64] if value is not None else "(no id)"
