"""Helpers for tests and benchmarks of connectors: drain a fetch, record sleeps."""
from __future__ import annotations

from connectors.base import Connector, CursorKey
from monitor.core.types import FetchedItem


class Sleeps:
    """An injected `sleep` that returns at once and remembers what was asked."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def drain(
    connector: Connector, cursors: dict[CursorKey, dict], store: dict[str, FetchedItem] | None = None
) -> list[FetchedItem]:
    """Run one fetch as the pipeline would: commit each batch's items, then its cursors.

    `cursors` and `store` (external id -> item, first version wins like the
    database's ON CONFLICT DO NOTHING) are updated in place, so after a
    ConnectorError they hold what was committed before it.
    """
    items: list[FetchedItem] = []
    async for batch in connector.fetch(dict(cursors)):
        items += batch.items
        if store is not None:
            for it in batch.items:
                store.setdefault(it.external_id, it)
        cursors.update(batch.cursors)
    return items
