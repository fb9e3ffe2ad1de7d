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

import asyncio
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable, Mapping

import httpx

from connectors.base import AuthFailed, Batch, CursorKey, HideRefused, Misconfigured, PermissionMissing, RateLimited
from connectors.google.parse import review_id, review_items
from connectors.http import Clock, Http, Pager, Retryable, RetryPolicy, Sleep, json_body, parse_time
from connectors.watermark import Watermark
from monitor.core.settings import AccountConfig

DEFAULT_BASE = "https://mybusiness.googleapis.com/v4"
REVIEWS: CursorKey = ("reviews", "")
QUOTA_PAUSE = timedelta(minutes=1)  # quotas are per minute


def classify_google(resp: httpx.Response, clock: Clock) -> dict:
    if resp.status_code >= 500:
        raise Retryable(f"HTTP {resp.status_code}")
    if resp.status_code == 429:
        retry_after = resp.headers.get("retry-after", "")
        pause = timedelta(seconds=int(retry_after)) if retry_after.isdigit() else QUOTA_PAUSE
        raise RateLimited("Google quota exceeded (429 RESOURCE_EXHAUSTED)", clock() + pause)
    if resp.status_code == 401:
        raise AuthFailed("Google rejected the credentials (401 UNAUTHENTICATED)")
    if resp.status_code == 403:
        raise PermissionMissing(
            "Google refused access (403 PERMISSION_DENIED): the token needs the business.manage scope "
            "and the location must be managed by this account",
            "https://www.googleapis.com/auth/business.manage",
        )
    if resp.status_code >= 400:
        raise Misconfigured(f"Google refused the request (HTTP {resp.status_code}): check the location id and api_base")
    body = json_body(resp)
    if not isinstance(body, dict):
        raise Retryable("Google answered with JSON that is not an object")
    return body


class GoogleConnector:
    platform = "google"

    def __init__(
        self,
        account: AccountConfig,
        token: str,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime],
        *,
        sleep: Sleep = asyncio.sleep,
        policy: RetryPolicy = RetryPolicy(),
    ):
        self.account = account
        self.clock = clock
        self.base = (account.api_base or DEFAULT_BASE).rstrip("/")
        acc_id = account.options.get("account_id")
        self.location = account.id if account.id.startswith("accounts/") else f"accounts/{acc_id}/locations/{account.id}"
        self.configured = account.id.startswith("accounts/") or bool(acc_id)
        self.http = Http(
            client,
            base=self.base,
            classify=lambda r: classify_google(r, clock),
            headers={"Authorization": f"Bearer {token}"},
            policy=policy,
            sleep=sleep,
        )

    async def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        if not self.configured:
            raise Misconfigured("google: id must be accounts/{account}/locations/{location}, or set options.account_id")
        mark = Watermark.load(cursors.get(REVIEWS))
        found: list[tuple[str, datetime]] = []
        pager = Pager("google reviews")
        params = {"pageSize": 50, "orderBy": "updateTime desc"}
        while True:
            body = (await self.http.request("GET", f"{self.location}/reviews", params)).body
            reviews = body.get("reviews") or []
            items, stop = [], False
            for review in reviews:
                rid = review_id(review)
                updated = parse_time(review.get("updateTime") or review.get("createTime"))
                if rid is None or updated is None:
                    continue
                if mark.is_older(updated):
                    stop = True
                    break
                key = f"{rid}@{review.get('updateTime')}"
                if mark.is_new(key, updated):
                    items += review_items(review, self.account.name)
                    found.append((key, updated))
            if items:
                yield Batch(items=items)
            token = None if stop else pager.advance(body.get("nextPageToken"), not reviews)
            if not token:
                break
            params = {**params, "pageToken": token}
        if found:
            yield Batch(items=[], cursors={REVIEWS: mark.advanced(found).dump()})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        raise HideRefused("Google reviews cannot be hidden; reply to the review or report it to Google instead")
