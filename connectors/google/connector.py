"""Google Business Profile reviews (My Business API v4).

`GET accounts/{a}/locations/{l}/reviews?orderBy=updateTime desc&pageSize=50`,
newest change first; the walk stops at the watermark of `updateTime`, so a
new review and an edited one are both picked up, and a quiet location costs
one request. The account `id` is `accounts/{a}/locations/{l}` (or the
location id with `options.account_id`).

Cursor: ("reviews", "") watermark keyed by review id and update time.
Errors use Google's JSON format; quota is HTTP 429 / RESOURCE_EXHAUSTED.
Reviews cannot be hidden: `hide` always refuses.
"""
from __future__ import annotations

from datetime import datetime
from typing import AsyncIterator, Mapping

import httpx

from connectors.base import Batch, ConnectorError, CursorKey, HideRefused, Misconfigured, PermissionMissing
from connectors.google.parse import review_id, review_items
from connectors.http import parse_time
from connectors.stream import Entry, PlatformConnector
from connectors.watermark import Watermark

REVIEWS: CursorKey = ("reviews", "")


class GoogleConnector(PlatformConnector):
    platform = "google"
    next_token_at = ("nextPageToken",)

    @property
    def location(self) -> str | None:
        if self.account.id.startswith("accounts/"):
            return self.account.id
        acc_id = self.options.account_id
        return f"accounts/{acc_id}/locations/{self.account.id}" if acc_id else None

    def forbidden(self, resp: httpx.Response) -> ConnectorError:
        return PermissionMissing(
            "Google refused access (403 PERMISSION_DENIED): the token needs the business.manage scope "
            "and the location must be managed by this account",
            "https://www.googleapis.com/auth/business.manage",
        )

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        if self.location is None:
            raise Misconfigured("google: id must be accounts/{account}/locations/{location}, or set options.account_id")
        mark = Watermark.load(cursors.get(REVIEWS))
        found: list[tuple[str, datetime]] = []

        def entry(review: object) -> Entry | None:
            rid = review_id(review)
            updated = parse_time(review.get("updateTime") or review.get("createTime"))
            if rid is None or updated is None:
                return None
            return Entry(f"{rid}@{review.get('updateTime')}", updated, review_items(review, self.account.name))

        params = {"pageSize": 50, "orderBy": "updateTime desc"}
        pages = self.pages(f"{self.location}/reviews", params, "google reviews", key="reviews")
        async for items, new in self.newest_first(pages, mark, entry):
            found += new
            if items:
                yield Batch(items=items)
        if found:
            yield Batch(items=[], cursors={REVIEWS: mark.advanced(found).dump()})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        raise HideRefused("Google reviews cannot be hidden; reply to the review or report it to Google instead")
