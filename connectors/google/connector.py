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
from connectors.fields import time
from connectors.stream import Entry, PlatformConnector
from connectors.watermark import Watermark

REVIEWS: CursorKey = ("reviews", "")
# "If your quota limit for the Google Business Profile API is 0, you have not yet been granted access"
# (developers.google.com/my-business/content/limits)
ACCESS_FORM = "https://support.google.com/business/contact/api_default"
PREREQS = "https://developers.google.com/my-business/content/prereqs"


def quota_is_zero(resp: httpx.Response) -> bool:
    """A RESOURCE_EXHAUSTED whose ErrorInfo says the limit itself is 0 (`"quota_limit_value": "0"`)."""
    try:
        error = resp.json().get("error") or {}
        details = error.get("details") or []
        return any(str((d.get("metadata") or {}).get("quota_limit_value")) == "0" for d in details if isinstance(d, dict))
    except (ValueError, AttributeError):
        return False


class GoogleConnector(PlatformConnector):
    platform = "google"
    next_token_at = ("nextPageToken",)

    @property
    def location(self) -> str | None:
        if self.account.id.startswith("accounts/"):
            return self.account.id
        acc_id = self.options.account_id
        return f"accounts/{acc_id}/locations/{self.account.id}" if acc_id else None

    def platform_errors(self, resp: httpx.Response) -> None:
        if resp.status_code == 429 and quota_is_zero(resp):
            raise Misconfigured(
                "Google answered 429 with a quota of 0: this Cloud project has not been granted Business Profile "
                f"API access. Apply for Business Profile API access: {ACCESS_FORM} (prerequisites: {PREREQS})"
            )

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
            items = self.read(review_items, review, self.account.name)
            if items is None:
                return None  # skipped and counted
            updated = time(review, "updateTime", required=False) or items[0].created_at
            return Entry(f"{review_id(review)}@{review.get('updateTime')}", updated, items)

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
