"""Replays bundled sample comments, a few per cycle, for the demo and tests.

The samples are invented; no real person is named. The cursor is simply the
index of the next sample, so a restarted demo carries on where it stopped.
"""
from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import AsyncIterator, Callable, Mapping

from connectors.base import Batch, CursorKey, HideRefused
from monitor.core.settings import AccountConfig
from monitor.core.types import FetchedItem

STREAM: CursorKey = ("comments", "")


def load_samples() -> list[dict]:
    text = resources.files(__package__).joinpath("samples.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class DemoConnector:
    platform = "demo"

    def __init__(self, account: AccountConfig, clock: Callable[[], datetime], per_cycle: int | None = None):
        self.account = account
        self.clock = clock
        self.per_cycle = per_cycle or account.options.per_cycle
        self.samples = load_samples()

    async def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        start = int(cursors.get(STREAM, {}).get("next", 0))
        chunk = self.samples[start : start + self.per_cycle]
        if not chunk:
            return
        now = self.clock()
        items = [
            FetchedItem(
                external_id=f"demo-{start + i}",
                kind=s.get("kind", "comment"),
                text=s["text"],
                created_at=now,
                author_name=s.get("author"),
                parent_external_id=s.get("parent"),
                permalink=f"https://example.org/demo/posts/1?comment=demo-{start + i}",
                rating=s.get("rating"),
                can_hide=True,
            )
            for i, s in enumerate(chunk)
        ]
        yield Batch(items=items, cursors={STREAM: {"next": start + len(chunk)}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        if not external_id.startswith("demo-"):
            raise HideRefused(f"{external_id} is not a demo item")
