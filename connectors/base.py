"""The one seam the pipeline uses to talk to a platform.

A connector turns "what is new since these cursors" into batches of items.
Each batch carries the cursor values that become true once its items are
stored; the pipeline commits items and cursors in one transaction, so a
cursor never runs ahead of what is committed.

Failures are classified into a value the pipeline can act on (the house
style's "errors are values"): rate limited until T, auth lost, permission
missing, misconfigured, or temporary (retry budget spent).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Mapping, Protocol

from monitor.core.types import Batch, CursorKey, FetchedItem

__all__ = ["Batch", "CursorKey", "FetchedItem"]  # the seam's types live in the core


def merged(batches: list[Batch]) -> Batch | None:
    """Several batches as one transaction: later cursor values win, as they would in turn."""
    if not batches:
        return None
    out = Batch(items=[], cursors={})
    for b in batches:
        out.items += b.items
        out.cursors.update(b.cursors)
    return out


class ConnectorError(Exception):
    """Base of the classified failures. `detail` never holds tokens or comment text."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class RateLimited(ConnectorError):
    def __init__(self, detail: str, until: datetime):
        super().__init__(detail)
        self.until = until


class AuthFailed(ConnectorError):
    """The token is expired or revoked: stop polling until it changes."""


class PermissionMissing(AuthFailed):
    def __init__(self, detail: str, permission: str | None = None):
        super().__init__(detail)
        self.permission = permission


class Misconfigured(ConnectorError):
    """Wrong id, wrong api_base, unsupported option: a person must fix config."""


class TemporaryFailure(ConnectorError):
    """Timeouts, 5xx, malformed answers: the retry budget for this cycle is spent."""


class HideRefused(ConnectorError):
    """The platform will not hide this item (can_hide false, wrong kind, refused)."""


class Connector(Protocol):
    platform: str

    def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        """Yield batches of new items since `cursors`; raise a ConnectorError."""
        ...

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        """Hide (or unhide) an item on the platform, or raise HideRefused."""
        ...

    # Optional: `async def recheck(known: Sequence[KnownItem]) -> list[ItemChange]` reads stored
    # comments again and reports edits, hides and deletions (monitor/recheck.py calls it hourly).
