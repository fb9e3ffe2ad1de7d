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

import asyncio
import logging
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable, Mapping

import httpx

from connectors.base import (
    AuthFailed,
    Batch,
    merged,
    ConnectorError,
    CursorKey,
    HideRefused,
    Misconfigured,
    PermissionMissing,
    RateLimited,
)
from connectors.facebook.parse import comment_item, next_link, post_item
from connectors.http import Pager, RetryPolicy, Sleep, iso, parse_time, rebase
from connectors.meta import GRAPH_BASE, graph_http
from connectors.watermark import Watermark
from monitor.core.settings import AccountConfig

log = logging.getLogger(__name__)

COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},is_hidden,can_hide,permalink_url"
POST_FIELDS = "id,created_time,updated_time,message,story,permalink_url,from{id,name},is_hidden"
POSTS: CursorKey = ("posts", "")


class FacebookConnector:
    platform = "facebook"

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
        self.base = (account.api_base or GRAPH_BASE).rstrip("/")
        opts = account.options
        self.window = timedelta(days=int(opts.get("trailing_days", 90)))
        self.posts_per_page = int(opts.get("posts_per_page", 25))
        self.embedded = int(opts.get("comments_embedded", 25))
        self.comments_per_page = int(opts.get("comments_per_page", 100))
        self.http = graph_http(
            client, base=self.base, token=token, clock=clock, permission="pages_read_engagement", policy=policy, sleep=sleep
        )

    def comments_expansion(self) -> str:
        return (
            f"comments.filter(stream).order(reverse_chronological).limit({self.embedded})"
            f".summary(true){{{COMMENT_FIELDS}}}"
        )

    async def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        now = self.clock()
        since = now - self.window
        seen = {
            k: v for k, v in (cursors.get(POSTS, {}).get("seen") or {}).items() if (parse_time(v) or now) >= since
        }
        pager = Pager("facebook feed")
        url: str | None = f"{self.account.id}/feed"
        params: dict | None = {
            "fields": f"{POST_FIELDS},{self.comments_expansion()}",
            "limit": self.posts_per_page,
            "since": int(since.timestamp()),
        }
        while url:
            page = await self.http.request("GET", url, params)
            posts = page.body.get("data") or []
            done = []  # one transaction per page of posts, not one per post
            for post in posts:
                async for batch in self._post(post, cursors, seen):
                    if batch.cursors:
                        done.append(batch)
                    else:
                        yield batch  # part of a very busy thread
            if (batch := merged(done)) is not None:
                yield batch
            nxt = next_link(page.body)
            url = pager.advance(nxt, not posts) and rebase(nxt, self.base)
            params = None

    async def _post(self, post: dict, cursors: Mapping[CursorKey, dict], seen: dict) -> AsyncIterator[Batch]:
        item = post_item(post)
        if item is None:
            return
        pid = item.external_id
        pending = [] if pid in seen else [item]
        key: CursorKey = ("comments", pid)
        mark = Watermark.load(cursors.get(key))
        found: list[tuple[str, datetime]] = []
        block = post.get("comments") or {}
        pager = Pager("facebook comments of a post")
        while True:
            data = block.get("data") or []
            reached = False
            for raw in data:
                c = comment_item(raw, pid)
                if c is None:
                    continue
                if mark.is_older(c.created_at):
                    reached = True
                    break
                if mark.is_new(c.external_id, c.created_at):
                    pending.append(c)
                    found.append((c.external_id, c.created_at))
            nxt = next_link(block)
            if reached or not pager.advance(nxt, not data):
                break
            if len(pending) >= 500:  # a very busy thread: store as we go, cursor at the end
                yield Batch(items=pending)
                pending = []
            try:
                block = (await self.http.request("GET", rebase(nxt, self.base, limit=self.comments_per_page))).body
            except Misconfigured:
                # "(#100) The After Cursor specified exceeds the max limit": very long threads cannot be paged
                # to the end. Keep what was read; what lies beyond is unreachable through the API.
                log.info("facebook account %s: post %s cannot be paged further", self.account.id, pid)
                break
        cursors_out: dict[CursorKey, dict] = {}
        if found:
            cursors_out[key] = mark.advanced(found).dump()
        if pid not in seen:
            seen[pid] = iso(item.created_at)
            cursors_out[POSTS] = {"seen": dict(seen)}
        if pending or cursors_out:
            yield Batch(items=pending, cursors=cursors_out)

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
        try:
            body = (await self.http.request("POST", external_id, {"is_hidden": "true" if hidden else "false"})).body
        except PermissionMissing:
            raise HideRefused("facebook refused: hiding needs the pages_manage_engagement permission") from None
        except (RateLimited, AuthFailed):
            raise
        except ConnectorError as err:
            raise HideRefused(f"facebook refused: {err.detail}") from None
        if body.get("success") is not True:
            raise HideRefused("facebook did not confirm the change")
