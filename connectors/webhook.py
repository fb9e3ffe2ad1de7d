"""Meta webhook deliveries -> the changes they announce, as values.

A delivery (`{"object": "page"|"instagram", "entry": [{"id", "time",
"changes": [{"field", "value"}]}]}`) carries ids and snippets only. Each
platform's `webhook.py` turns one `MetaChange` into `Change`s, completing ids
with a targeted fetch through that platform's connector. Shapes: Meta's
webhook reference for Pages (`feed`, `mention`) and Instagram (`comments`,
`mentions`); see docs/webhooks.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from monitor.core.types import FetchedItem

PLATFORM_OF_OBJECT = {"page": "facebook", "instagram": "instagram"}


class MalformedDelivery(ValueError):
    """A signed delivery whose JSON is not a Meta webhook payload."""


@dataclass(frozen=True)
class MetaChange:
    platform: str  # facebook | instagram
    entry_id: str  # the Page id or the Instagram user id the change is about
    time: datetime
    field: str
    value: dict


@dataclass(frozen=True)
class Change:
    """What to do to the store: add an item (or, when stored already with other words, read the edit),
    or mark one."""

    action: Literal["upsert", "hidden", "unhidden", "removed"]
    external_id: str
    item: FetchedItem | None = None


def meta_changes(body: object, now: datetime) -> list[MetaChange]:
    """Every change of a delivery; MalformedDelivery names what is wrong."""
    if not isinstance(body, dict):
        raise MalformedDelivery("the delivery is not a JSON object")
    platform = PLATFORM_OF_OBJECT.get(body.get("object"))  # type: ignore[arg-type]
    if platform is None:
        raise MalformedDelivery(f"unsupported object {str(body.get('object'))[:40]!r} (expected page or instagram)")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedDelivery("'entry' is missing or not a list")
    out = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise MalformedDelivery(f"entry[{n}] has no id")
        when = unix_time(entry.get("time")) or now
        for change in entry.get("changes") or []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict) and change.get("field"):
                out.append(MetaChange(platform, str(entry["id"]), when, str(change["field"]), change["value"]))
    return out


def unix_time(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds > 1e11:  # milliseconds (Instagram sends them in some fields)
        seconds /= 1000
    return datetime.fromtimestamp(seconds, timezone.utc)

