"""Facebook Page: the feed (own, visitor and tagging posts) and every comment.

One request lists the Page's posts of the trailing window with the newest
page of each post's comments embedded (`filter=stream`, all levels, newest
first, `parent{id}` to rebuild threads). A quiet Page costs one request per
page of posts. Only a post whose embedded comments run past its watermark
costs more: its `paging.next` is followed until the watermark is reached.

Cursors, one per (stream, parent):
  ("posts", "")          {"seen": {post id: created iso}}  posts already stored, pruned to the window
  ("comments", post id)  watermark of that post's comments (connectors.watermark)
Old posts keep their cursor, so a new reply on last month's post is found
as long as the post is inside the window (`options.trailing_days`, 90).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import AsyncIterator, Mapping, Sequence

from connectors.base import Batch, CursorKey, HideRefused, Misconfigured, merged
from connectors.facebook.parse import comment_item, next_link, post_item
from connectors.fields import Unreadable, flag, text
from connectors.http import iso, parse_time, rebase
from connectors.meta import GraphConnector
from connectors.stream import Entry
from connectors.watermark import Watermark
from monitor.core.types import ItemChange, KnownItem

log = logging.getLogger(__name__)

COMMENT_FIELDS = (
    "id,message,created_time,from{id,name},parent{id},is_hidden,can_hide,permalink_url,"
    "attachment{type,url,media{image{src}}}"  # photo, sticker and GIF comments carry no message
)
POST_FIELDS = "id,created_time,updated_time,message,story,permalink_url,from{id,name},is_hidden"
POSTS: CursorKey = ("posts", "")
RECHECK_FIELDS = "message,is_hidden,attachment{type,url,media{image{src}}}"
IDS_PER_REQUEST = 50  # Graph multi-id reads: each id counts as a call


class FacebookConnector(GraphConnector):
    platform = "facebook"
    permission = "pages_read_engagement"

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.options.trailing_days)

    def comments_expansion(self) -> str:
        return (
            f"comments.filter(stream).order(reverse_chronological).limit({self.options.comments_embedded})"
            f".summary(true){{{COMMENT_FIELDS}}}"
        )

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        now = self.clock()
        since = now - self.window
        seen = {
            k: v for k, v in (cursors.get(POSTS, {}).get("seen") or {}).items() if (parse_time(v) or now) >= since
        }
        params = {
            "fields": f"{POST_FIELDS},{self.comments_expansion()}",
            "limit": self.options.posts_per_page,
            "since": int(since.timestamp()),
        }
        async for _, posts in self.pages(f"{self.account.id}/feed", params, "facebook feed"):
            done = []  # one transaction per page of posts, not one per post
            for post in posts:
                async for batch in self._post(post, cursors, seen):
                    if batch.cursors:
                        done.append(batch)
                    else:
                        yield batch  # part of a very busy thread
            if (batch := merged(done)) is not None:
                if POSTS in batch.cursors:
                    batch.cursors[POSTS] = {"seen": dict(seen)}  # one copy per page, not one per post
                yield batch

    async def _post(self, post: dict, cursors: Mapping[CursorKey, dict], seen: dict) -> AsyncIterator[Batch]:
        item = self.read(post_item, post)
        if item is None:
            return
        pid = item.external_id
        pending = [] if pid in seen else [item]
        key: CursorKey = ("comments", pid)
        mark = Watermark.load(cursors.get(key))
        found: list[tuple[str, datetime]] = []

        def entry(raw: object) -> Entry | None:
            c = self.read(comment_item, raw, pid)
            return c and Entry(c.external_id, c.created_at, [c])

        async for items, new in self.newest_first(self._comment_pages(post.get("comments"), pid), mark, entry):
            pending += items
            found += new
            if len(pending) >= 500:  # a very busy thread: store as we go, cursor at the end
                yield Batch(items=pending)
                pending = []
        cursors_out: dict[CursorKey, dict] = {}
        if found:
            cursors_out[key] = mark.advanced(found).dump()
        if pid not in seen:
            seen[pid] = iso(item.created_at)
            cursors_out[POSTS] = {}  # filled in once for the whole page
        if pending or cursors_out:
            yield Batch(items=pending, cursors=cursors_out)

    async def _comment_pages(self, block: object, pid: str) -> AsyncIterator[tuple[dict, list]]:
        """The embedded first page of a post's comments, then its `next` links."""
        block = block if isinstance(block, dict) else {}
        data = block.get("data")
        yield block, data if isinstance(data, list) else []
        nxt = next_link(block)
        if not nxt:
            return
        try:
            async for page in self.pages(rebase(nxt, self.base, limit=self.options.comments_per_page), None,
                                         "facebook comments of a post"):
                yield page
        except Misconfigured:
            # "(#100) The After Cursor specified exceeds the max limit": very long threads cannot be paged
            # to the end. Keep what was read; what lies beyond is unreachable through the API.
            log.info("facebook account %s: post %s cannot be paged further", self.account.id, pid)

    async def recheck(self, known: Sequence[KnownItem]) -> list[ItemChange]:
        """Read stored comments again: what was edited, hidden or deleted on Facebook since."""
        changes: list[ItemChange] = []
        for start in range(0, len(known), IDS_PER_REQUEST):
            chunk = known[start : start + IDS_PER_REQUEST]
            found = await self._read_many([k.external_id for k in chunk])
            for k in chunk:
                raw = found.get(k.external_id)
                if raw is None:
                    changes.append(ItemChange(k.external_id, deleted=True))
                    continue
                try:
                    said, hidden = text(raw, "message") or "", bool(flag(raw, "is_hidden"))
                except Unreadable:
                    continue  # not worth a guess: the next re-read may do better
                if said != k.text or hidden != k.is_hidden:
                    changes.append(ItemChange(k.external_id, text=said if said != k.text else None,
                                              is_hidden=hidden if hidden != k.is_hidden else None))
        return changes

    async def _read_many(self, ids: list[str]) -> dict:
        """{id: object} for the ids that still exist (`GET /?ids=a,b,c`)."""
        try:
            body = (await self.http.request("GET", "", {"ids": ",".join(ids), "fields": RECHECK_FIELDS})).body
            return {i: v for i, v in body.items() if isinstance(v, dict)}
        except Misconfigured:
            # Graph refuses the whole list when one id no longer exists (code 100): ask one by one
            out = {}
            for i in ids:
                try:
                    out[i] = (await self.http.request("GET", i, {"fields": RECHECK_FIELDS})).body
                except Misconfigured:
                    pass  # deleted, or no longer visible to the Page
            return out

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        """POST /{comment-id}?is_hidden=true, after checking can_hide."""
        try:
            info = (await self.http.request("GET", external_id, {"fields": "can_hide,is_hidden"})).body
        except Misconfigured as err:
            raise HideRefused(f"facebook: cannot read this item's can_hide ({err.detail})") from None
        if info.get("can_hide") is False:
            raise HideRefused("facebook: the platform says this comment cannot be hidden (can_hide is false)")
        if bool(info.get("is_hidden")) == hidden:
            return
        await self.change("POST", external_id, params={"is_hidden": "true" if hidden else "false"},
                          confirmed=lambda body: body.get("success") is True, forbidden="facebook refused: hiding needs the pages_manage_engagement permission")
