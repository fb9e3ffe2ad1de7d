"""RSS and Atom feeds the setting chooses: Google Alerts for its name, a
forum's search feed, a local news site.

One GET of `options.url` per poll, parsed by feedparser (`feeds.parse`).
Entries already seen are skipped by id; the store's (account, id) key would
drop them anyway, this only saves work. An entry is somewhere other than the
setting's own page: it cannot be hidden from here, and the alert says where
it was found and how to report it.

Failures: a redirect names where the feed moved (update `options.url`; it is
not followed, so a feed cannot be bounced to another host), 404/410 and a
document that is not a feed at all are configuration errors, 5xx and
timeouts are retried, 429 waits for Retry-After. A half-broken feed
(feedparser's `bozo`) still yields the entries it could read.

Cursor: ("entries", "")  {"seen": [entry ids, newest last, at most KEEP]}
"""
from __future__ import annotations

import logging
from typing import AsyncIterator, Mapping

import httpx

from connectors.base import Batch, CursorKey, HideRefused, Misconfigured, RateLimited
from connectors.feeds.parse import NotAFeed, entry_item, parse_feed
from connectors.http import Retryable
from connectors.stream import PlatformConnector

log = logging.getLogger(__name__)

ENTRIES: CursorKey = ("entries", "")
KEEP = 1000
ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
MAX_BYTES = 5 * 1024 * 1024


class FeedConnector(PlatformConnector):
    platform = "feeds"

    def authorize(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        return {"Accept": ACCEPT, "User-Agent": "nurserywatch (feed reader)"}, {}

    def classify(self, resp: httpx.Response) -> dict:
        status = resp.status_code
        if 300 <= status < 400:
            where = resp.headers.get("location", "another address")
            raise Misconfigured(f"feed {self.account.id}: moved (HTTP {status}) to {where}: update options.url")
        if status in (404, 410):
            raise Misconfigured(f"feed {self.account.id}: the address answers HTTP {status}: check options.url")
        if status == 429:
            raise RateLimited(f"feed {self.account.id}: rate limited (429)", self.rate_limited_until(resp))
        if status >= 500:
            raise Retryable(f"HTTP {status}")
        if status >= 400:
            raise Misconfigured(f"feed {self.account.id}: the site refused (HTTP {status}): check options.url")
        if len(resp.content) > MAX_BYTES:
            raise Misconfigured(f"feed {self.account.id}: the document is over {MAX_BYTES // 1024 // 1024} MB")
        return {"content": resp.content}

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        page = await self.http.request("GET", self.options.url)
        try:
            parsed = parse_feed(page.body["content"])
        except NotAFeed as err:
            raise Misconfigured(f"feed {self.account.id}: {err}: check options.url") from None
        if parsed.get("bozo"):
            log.info("feed %s: not well-formed (%s); keeping %s entries it could read", self.account.id,
                     type(parsed.get("bozo_exception")).__name__, len(parsed.entries))
        seen = list((cursors.get(ENTRIES) or {}).get("seen") or [])
        known = set(seen)
        title = (parsed.get("feed") or {}).get("title") or ""
        items = []
        for entry in parsed.entries:
            item = entry_item(entry, title, self.clock())
            if item is None or item.external_id in known or not item.text:
                continue
            known.add(item.external_id)
            items.append(item)
            seen.append(item.external_id)
        if items:
            yield Batch(items=items, cursors={ENTRIES: {"seen": seen[-KEEP:]}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        raise HideRefused("feeds: this was published elsewhere; report it to the site instead")
