"""A per-thread high-water mark: the newest time stored plus the ids near it.

Platforms list comments newest first without a "since" filter, so a walk
stops at the mark. Ids within `OVERLAP` of the mark are remembered so items
with the same second (or arriving slightly late) are neither skipped nor
yielded twice. The value is what goes into a cursor row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connectors.http import iso, parse_time

OVERLAP = timedelta(minutes=2)


@dataclass
class Watermark:
    newest: datetime | None = None
    recent: dict[str, str] = field(default_factory=dict)  # id -> iso time, within OVERLAP of newest

    @classmethod
    def load(cls, value: dict | None) -> "Watermark":
        value = value or {}
        return cls(parse_time(value.get("newest")), dict(value.get("recent") or {}))

    def dump(self) -> dict:
        return {"newest": iso(self.newest) if self.newest else None, "recent": dict(self.recent)}

    @property
    def floor(self) -> datetime | None:
        return self.newest - OVERLAP if self.newest else None

    def is_new(self, item_id: str, at: datetime) -> bool:
        if item_id in self.recent:
            return False
        return self.floor is None or at >= self.floor

    def is_older(self, at: datetime) -> bool:
        """Older than anything that could still be new: a newest-first walk can stop."""
        return self.floor is not None and at < self.floor

    def advanced(self, seen: list[tuple[str, datetime]]) -> "Watermark":
        """The mark after storing `seen` (id, time) pairs."""
        times = [t for _, t in seen]
        newest = max([*times, *([self.newest] if self.newest else [])], default=None)
        if newest is None:
            return Watermark()
        floor = newest - OVERLAP
        recent = {k: v for k, v in self.recent.items() if (parse_time(v) or newest) >= floor}
        recent.update({i: iso(t) for i, t in seen if t >= floor})
        return Watermark(newest, recent)
