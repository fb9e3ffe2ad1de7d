"""X (API v2): mentions of the account, and replies in its own conversations.

Mentions: `GET /users/{id}/mentions` newest first, `since_id` from the last
run, `pagination_token` to page. Replies: the account's own posts of the last
6 days (recent search reaches 7; refreshed every 30 minutes) give conversation ids, then recent search
`conversation_id:A OR conversation_id:B ...` (512 characters a query) with
`since_id`; a conversation seen for the first time is searched from its root.

X signals limits with 429 and `x-rate-limit-reset` (epoch seconds) and sends
`x-rate-limit-remaining` on every answer: at 0 the account pauses until the
reset before the next call. A 429 of type usage-capped is not retried.

Cursors:
  ("mentions", "")       {"since_id": newest mention id}
  ("conversations", "")  {"ids": [own post ids], "checked": iso}
  ("replies", "")        {"since_id": newest reply id, "conversations": [ids searched]}
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator, Mapping

import httpx

from connectors.base import Batch, ConnectorError, CursorKey, Misconfigured, PermissionMissing, RateLimited
from connectors.http import Clock, Pacer, Sleep, iso, parse_time
from connectors.stream import PlatformConnector
from connectors.x.parse import id_time, newest_id, post_item, users_by_id

log = logging.getLogger(__name__)

TWEET_FIELDS = "created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,note_tweet"
MENTIONS: CursorKey = ("mentions", "")
CONVERSATIONS: CursorKey = ("conversations", "")
REPLIES: CursorKey = ("replies", "")
USAGE_CAP_PAUSE = timedelta(hours=24)
QUERY_MAX = 512
SEARCH_REACH = timedelta(days=6)  # recent search covers 7 days; keep a margin


def _reset_time(headers: httpx.Headers) -> datetime | None:
    raw = headers.get("x-rate-limit-reset")
    try:
        return datetime.fromtimestamp(int(raw), timezone.utc) if raw else None
    except ValueError:
        return None


def x_errors(resp: httpx.Response, clock: Clock) -> None:
    """X's own answers: a usage cap is not a rate limit, a 403 may be an unenrolled app."""
    if resp.status_code == 429:
        body = _problem(resp)
        if "usage-capped" in str(body.get("type", "")) or body.get("title") == "UsageCapExceeded":
            period = body.get("period", "")
            raise RateLimited(f"X usage cap exceeded ({period}): not retried", clock() + USAGE_CAP_PAUSE)
    elif resp.status_code >= 400 and resp.status_code not in (401, 403) and resp.status_code < 500:
        title = _problem(resp).get("title", "")
        raise Misconfigured(f"X refused the request (HTTP {resp.status_code} {title}): check the user id and api_base")


def _problem(resp: httpx.Response) -> dict:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class XPacer:
    """Pauses the account once `x-rate-limit-remaining` reaches 0, until the reset."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.until: datetime | None = None

    async def before(self) -> None:
        if self.until and self.until > self.clock():
            raise RateLimited("X rate limit used up: pausing until the reset", self.until)

    def observe(self, response: httpx.Response) -> None:
        if response.headers.get("x-rate-limit-remaining") == "0":
            self.until = _reset_time(response.headers)


class XConnector(PlatformConnector):
    platform = "x"
    next_token_at = ("meta", "next_token")

    @property
    def user_id(self) -> str:
        return self.options.user_id or self.account.id

    def pacer(self, sleep: Sleep) -> Pacer:
        return XPacer(self.clock)

    def platform_errors(self, resp: httpx.Response) -> None:
        x_errors(resp, self.clock)

    def rate_limited_until(self, resp: httpx.Response) -> datetime:
        until = _reset_time(resp.headers) or self.clock() + timedelta(minutes=15)
        return max(until, self.clock()) + timedelta(seconds=1)

    def forbidden(self, resp: httpx.Response) -> ConnectorError:
        problem = _problem(resp)
        if problem.get("reason") == "client-not-enrolled" or "client-forbidden" in str(problem.get("type", "")):
            return Misconfigured(
                "X: the app's keys are not attached to a Project with API access (client-not-enrolled): "
                "in the X developer console, add the app to a Project and enable pay-per-use access"
            )
        return PermissionMissing("X refused access (403): the token lacks a scope", "tweet.read users.read")

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        since = (cursors.get(MENTIONS) or {}).get("since_id")
        params = {"max_results": 100, "tweet.fields": TWEET_FIELDS, "expansions": "author_id",
                  "user.fields": "username,name"}
        if since:
            params["since_id"] = since
        else:
            params["start_time"] = self._ago(timedelta(days=self.options.backfill_days))
        newest = None
        async for items, top in self._pages(f"users/{self.user_id}/mentions", params, "pagination_token", "mention"):
            newest = newest or top
            if items:
                yield Batch(items=items)
        if newest:
            yield Batch(items=[], cursors={MENTIONS: {"since_id": newest}})
        if self.options.replies:
            async for batch in self._conversation_replies(cursors):
                yield batch

    async def _conversation_replies(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        now = self.clock()
        conv = cursors.get(CONVERSATIONS) or {}
        checked = parse_time(conv.get("checked"))
        ids = list(conv.get("ids") or [])
        if checked is None or now - checked >= timedelta(minutes=30):
            ids = await self._own_recent_posts()
            yield Batch(items=[], cursors={CONVERSATIONS: {"ids": ids, "checked": iso(now)}})
        ids = [i for i in ids if id_time(i) >= now - SEARCH_REACH]  # search reaches no further
        if not ids:
            return
        state = cursors.get(REPLIES) or {}
        known = set(state.get("conversations") or [])
        since = state.get("since_id")
        newest = [since] if since else []
        if since and id_time(since) < now - SEARCH_REACH:
            since = None  # recent search refuses a since_id older than its 7 days
        old = [i for i in ids if i in known and since]
        new = [i for i in ids if i not in old]
        for group, group_since in ((old, lambda chunk: since), (new, lambda chunk: min(chunk, key=int))):
            for chunk in _chunks(group):
                query = " OR ".join(f"conversation_id:{c}" for c in chunk)
                params = {"query": query, "max_results": 100, "tweet.fields": TWEET_FIELDS,
                          "expansions": "author_id", "user.fields": "username,name", "since_id": group_since(chunk)}
                async for items, top in self._pages("tweets/search/recent", params, "next_token", "reply"):
                    if top:
                        newest.append(top)
                    items = [i for i in items if i.external_id not in chunk]  # the roots are the account's own
                    if items:
                        yield Batch(items=items)
        yield Batch(items=[], cursors={REPLIES: {"since_id": newest_id(newest), "conversations": ids}})

    async def _own_recent_posts(self) -> list[str]:
        params = {"max_results": 100, "exclude": "retweets,replies", "tweet.fields": "created_at,conversation_id",
                  "start_time": self._ago(SEARCH_REACH)}
        ids: list[str] = []
        async for items, _ in self._pages(f"users/{self.user_id}/tweets", params, "pagination_token", "post"):
            ids += [i.external_id for i in items]
        return ids

    async def _pages(self, path: str, params: dict, token_param: str, kind: str):
        """Yield (items, newest id of the first page) for each page of a v2 timeline or search."""
        first_newest = None
        async for body, data in self.pages(path, params, f"x {path.split('/')[-1]}", token_param=token_param):
            users = users_by_id(body)
            now = self.clock()
            items = [it for p in data if (it := self.read(post_item, p, users, kind, now, self.user_id)) is not None]
            if first_newest is None:
                first_newest = (body.get("meta") or {}).get("newest_id") or newest_id([i.external_id for i in items])
                yield items, first_newest
            else:
                yield items, None

    def _ago(self, delta: timedelta) -> str:
        return (self.clock() - delta).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        """PUT /tweets/{id}/hidden: only replies in the account's own conversations."""
        await self.change("PUT", f"tweets/{external_id}/hidden", json_body={"hidden": hidden},
                          confirmed=lambda body: (body.get("data") or {}).get("hidden") is hidden,
                          forbidden="X refused: only replies to the account's own posts can be hidden")


def _chunks(ids: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    cur: list[str] = []
    for i in ids:
        candidate = cur + [i]
        if cur and len(" OR ".join(f"conversation_id:{c}" for c in candidate)) > QUERY_MAX:
            out.append(cur)
            candidate = [i]
        cur = candidate
    if cur:
        out.append(cur)
    return out
