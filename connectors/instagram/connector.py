"""Instagram business account (Graph API): recent media, comments, replies, tags.

Comments have no timestamp filter and come newest first, 50 a page, with
replies via the `replies{...}` expansion. So a media's comments are read
only when its `comments_count` moved since the last look, and the walk stops
at the watermark once it has found as many new comments as the count grew.
Because a new reply can hang under an old top-level comment, each media is
also rescanned in full now and then: hourly while it is a day old, daily once
it is a month old (age / 24, between 15 minutes and a day).

Cursors:
  ("media", "")          {"seen": {media id: iso}}   media already stored, pruned to the window
  ("comments", media id) watermark + {"count": n, "checked": iso}
  ("tags", "")           watermark of media the account is tagged in
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import AsyncIterator, Mapping

from connectors.base import Batch, CursorKey, Misconfigured, PermissionMissing, merged
from connectors.http import iso, parse_time, rebase
from connectors.instagram.parse import comment_item, media_item, next_link
from connectors.meta import GraphConnector
from connectors.stream import Entry
from connectors.watermark import Watermark
from monitor.core.types import FetchedItem

log = logging.getLogger(__name__)

MEDIA_FIELDS = "id,caption,timestamp,permalink,comments_count,username,media_product_type"
REPLY_FIELDS = "id,text,timestamp,username,from{id,username},hidden,parent_id"
COMMENT_FIELDS = f"{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}"
MEDIA: CursorKey = ("media", "")
TAGS: CursorKey = ("tags", "")


def recheck_every(age: timedelta) -> timedelta:
    return min(timedelta(days=1), max(timedelta(minutes=15), age / 24))


class InstagramConnector(GraphConnector):
    platform = "instagram"
    permission = "instagram_manage_comments"

    @property
    def user_id(self) -> str:
        return self.options.ig_user_id or self.account.id

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        now = self.clock()
        since = now - timedelta(days=self.options.trailing_days)
        seen = {k: v for k, v in (cursors.get(MEDIA, {}).get("seen") or {}).items() if (parse_time(v) or now) >= since}
        params = {"fields": MEDIA_FIELDS, "limit": 25, "since": int(since.timestamp())}
        async for _, data in self.pages(f"{self.user_id}/media", params, "instagram media"):
            done = []  # one transaction per page of media, not one per media
            for media in data:
                async for batch in self._media(media, cursors, seen, now):
                    done.append(batch)
            if (batch := merged(done)) is not None:
                if MEDIA in batch.cursors:
                    batch.cursors[MEDIA] = {"seen": dict(seen)}  # one copy per page, not one per media
                yield batch
        if self.options.tags:
            async for batch in self._tags(cursors):
                yield batch

    async def _media(self, media: dict, cursors: Mapping[CursorKey, dict], seen: dict, now: datetime) -> AsyncIterator[Batch]:
        item = self.read(media_item, media)
        if item is None:
            return
        mid = item.external_id
        pending: list[FetchedItem] = [] if mid in seen else [item]
        out: dict[CursorKey, dict] = {}
        if mid not in seen:
            seen[mid] = iso(item.created_at)
            out[MEDIA] = {}  # filled in once for the whole page
        key: CursorKey = ("comments", mid)
        cur = cursors.get(key) or {}
        count = media.get("comments_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else 0
        prev = cur.get("count")
        checked = parse_time(cur.get("checked"))
        due = checked is None or now - checked >= recheck_every(now - item.created_at)
        if count and (prev != count or due):
            mark = Watermark.load(cur)
            full = prev is None or due
            owner = (self.user_id, item.author_name)  # the media's username is the account's own
            found = await self._comments(mid, mark, full, count - (prev or 0), pending, owner)
            out[key] = {**mark.advanced(found).dump(), "count": count, "checked": iso(now)}
        elif prev != count:
            out[key] = {**cur, "count": count, "checked": iso(now)}
        if pending or out:
            yield Batch(items=pending, cursors=out)

    async def _comments(self, mid: str, mark: Watermark, full: bool, grew: int, pending: list, owner: tuple) -> list:
        """Walk a media's comments newest first; append new ones to `pending`."""
        found: list[tuple[str, datetime]] = []

        def take(it: FetchedItem | None) -> None:
            if it is not None and mark.is_new(it.external_id, it.created_at):
                pending.append(it)
                found.append((it.external_id, it.created_at))

        params = {"fields": COMMENT_FIELDS, "limit": 50}
        async for _, data in self.pages(f"{mid}/comments", params, "instagram comments"):
            oldest = None
            for raw in data:
                top = self.read(comment_item, raw, mid, None, owner)
                take(top)
                if top is None:
                    continue
                oldest = top.created_at
                replies = raw.get("replies") if isinstance(raw.get("replies"), dict) else {}
                first = replies.get("data") if isinstance(replies.get("data"), list) else []
                for r in first:
                    take(self.read(comment_item, r, mid, top.external_id, owner))
                if next_link(replies):
                    async for _, more in self.pages(rebase(next_link(replies), self.base), None, "instagram replies"):
                        for r in more:
                            take(self.read(comment_item, r, mid, top.external_id, owner))
            if not full and len(found) >= grew and oldest is not None and mark.is_older(oldest):
                break
        return found

    async def _tags(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        """Media other accounts tagged this one in, newest first, down to the watermark."""
        mark = Watermark.load(cursors.get(TAGS))
        pending: list[FetchedItem] = []
        found: list[tuple[str, datetime]] = []

        def entry(raw: object) -> Entry | None:
            it = self.read(media_item, raw, "mention")
            return it and Entry(it.external_id, it.created_at, [it])

        params = {"fields": "id,caption,timestamp,permalink,username", "limit": 25}
        try:
            async for items, new in self.newest_first(self.pages(f"{self.user_id}/tags", params, "instagram tags"),
                                                      mark, entry):
                pending += items
                found += new
        except (Misconfigured, PermissionMissing) as err:
            # tags are "where available": a missing feature must not stop the comments
            log.info("instagram account %s: tags unavailable (%s)", self.account.id, type(err).__name__)
            return
        if pending:
            yield Batch(items=pending, cursors={TAGS: mark.advanced(found).dump()})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        """POST /{ig-comment-id}?hide=true. The account's own comments cannot be hidden."""
        await self.change("POST", external_id, params={"hide": "true" if hidden else "false"},
                          confirmed=lambda body: body.get("success") is True,
                          forbidden="instagram refused: hiding needs the instagram_manage_comments permission")
