"""Small stand-ins for pipeline tests: a scripted connector and a keyword classifier."""
from __future__ import annotations

import asyncio
from datetime import datetime

from monitor.core.types import Batch, Classification, Evidence, FetchedItem, Finding


class Scripted:
    """A connector that returns whatever items the test gives it, once each."""

    platform = "demo"

    def __init__(self):
        self.items: list[FetchedItem] = []
        self.polls = 0

    def post(self, external_id: str, text: str, created_at: datetime, permalink: str | None = None) -> None:
        self.items.append(FetchedItem(external_id=external_id, kind="comment", text=text, created_at=created_at,
                                      author_name="A Parent", permalink=permalink or f"https://example.org/{external_id}",
                                      can_hide=True))

    async def fetch(self, cursors):
        self.polls += 1
        seen = set((cursors.get(("all", "")) or {}).get("ids", []))
        new = [i for i in self.items if i.external_id not in seen]
        yield Batch(items=new, cursors={("all", ""): {"ids": sorted(seen | {i.external_id for i in new})}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        return None


class Stuck:
    """A platform that accepted the connection and never answers."""

    platform = "demo"

    def __init__(self):
        self.polls = 0

    async def fetch(self, cursors):
        self.polls += 1
        await asyncio.sleep(3600)
        yield Batch(items=[])

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        return None


class Keywords:
    """Flags 'bruise' as safeguarding; counts calls to show when it was (not) used."""

    def __init__(self):
        self.calls = 0

    def classify_batch(self, items):
        self.calls += 1
        out = []
        for text, *_ in items:
            at = text.find("bruise")
            if at < 0:
                out.append(Classification())
                continue
            ev = (Evidence(at, at + 6, "bruise", "injury"),)
            out.append(Classification(labels=("safeguarding",),
                                      findings=(Finding("safeguarding", "high", 0.9, ev, "test"),)))
        return out
