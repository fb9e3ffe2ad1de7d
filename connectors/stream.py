"""The base every platform connector stands on, so a platform keeps only its own hooks.

What is shared lives here once (the house style's Airbyte `HttpStream`):
- the constructor: the account, its API base (the account's `api_base`, else
  the platform table's), the shared httpx client, the credentials and a clock;
- the error-status ladder (`classify`): redirect -> configuration error,
  the platform's own error shapes (`platform_errors`), 5xx -> retry,
  429 -> rate limited, 401 -> reconnect, 403 -> permission, other 4xx -> config;
- `pages`: one pagination walk, guarded against loops, following either a
  `next` link or a page token;
- `newest_first`: a walk over newest-first pages that stops at a watermark.

A platform subclass sets `platform`, implements `stream(cursors)` (its
endpoints, fields and parsing) and overrides the hooks it needs.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Callable, ClassVar, Mapping, TypeVar

import httpx

from connectors.auth import Credentials, as_credentials
from connectors.fields import Unreadable, item_id
from connectors.base import (
    AuthFailed,
    Batch,
    ConnectorError,
    CursorKey,
    HideRefused,
    Misconfigured,
    PermissionMissing,
    RateLimited,
    TemporaryFailure,
)
from connectors.http import Http, Limits, Pacer, Pager, RetryPolicy, Retryable, Sleep, json_body, rebase
from connectors.watermark import Watermark
from monitor.core.platforms import PLATFORMS
from monitor.core.settings import AccountConfig
from monitor.core.types import FetchedItem

log = logging.getLogger(__name__)

RATE_LIMIT_PAUSE = timedelta(minutes=1)  # when a 429 names no time
LOUD_SKIPS = 20  # unreadable items logged at WARNING per fetch; the rest at DEBUG
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One element of a newest-first list: its watermark key and time, and the items it becomes."""

    key: str
    at: datetime
    items: list[FetchedItem]


class PlatformConnector:
    platform: ClassVar[str]
    next_token_at: ClassVar[tuple[str, ...]] = ("paging", "next")  # where a page names the next one

    def __init__(
        self,
        account: AccountConfig,
        credentials: Credentials | str | None,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime],
        *,
        sleep: Sleep = asyncio.sleep,
        policy: RetryPolicy = RetryPolicy(),
    ):
        self.account = account
        self.options = account.options
        self.clock = clock
        self.unreadable = 0  # skipped since the last batch went out
        self.skipped = 0  # skipped in this fetch, for the log's loudness
        self.base = (account.api_base or PLATFORMS[self.platform].default_base or "").rstrip("/")
        self.http = Http(
            client,
            base=self.base,
            classify=self.classify,
            credentials=as_credentials(credentials),
            authorize=self.authorize,
            pacer=self.pacer(sleep),
            policy=policy,
            sleep=sleep,
            limits=Limits(deadline=account.request_deadline, max_bytes=account.max_response_mb * 1024 * 1024),
        )

    # -- hooks a platform may override ------------------------------------------------

    def pacer(self, sleep: Sleep) -> Pacer | None:
        return None

    def authorize(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and query parameters that authenticate one request."""
        return {"Authorization": f"Bearer {token}"}, {}

    def platform_errors(self, resp: httpx.Response) -> None:
        """Raise for the platform's own error shapes before the generic ladder runs."""

    def rate_limited_until(self, resp: httpx.Response) -> datetime:
        after = resp.headers.get("retry-after", "")
        return self.clock() + (timedelta(seconds=int(after)) if after.isdigit() else RATE_LIMIT_PAUSE)

    def forbidden(self, resp: httpx.Response) -> ConnectorError:
        return PermissionMissing(f"{self.platform} refused access (403): the token lacks a permission")

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        raise NotImplementedError
        yield  # pragma: no cover

    # -- the shared parts -------------------------------------------------------------

    async def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        """The platform's batches, each carrying the count of items skipped since the last one."""
        self.unreadable = self.skipped = 0
        async for batch in self.stream(cursors):
            batch.unreadable, self.unreadable = batch.unreadable + self.unreadable, 0
            yield batch
        if self.unreadable:
            yield Batch(items=[], unreadable=self.unreadable)
            self.unreadable = 0

    def read(self, parse: Callable[..., T], raw: object, *args: Any) -> T | None:
        """`parse(raw, *args)`, or None for an item that does not parse: skipped, counted, logged by id."""
        try:
            return parse(raw, *args)
        except Unreadable as err:
            why = str(err)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
            why = f"could not be read ({type(err).__name__})"
        self.unreadable += 1
        self.skipped += 1
        (log.warning if self.skipped <= LOUD_SKIPS else log.debug)(
            "%s account %s: item %s skipped: %s", self.platform, self.account.id, item_id(raw), why
        )
        return None

    def classify(self, resp: httpx.Response) -> dict:
        """The one error-status ladder: a response -> its JSON body, or a classified failure."""
        status = resp.status_code
        if 300 <= status < 400:
            where = httpx.URL(resp.headers.get("location", "")).host or "another address"
            raise Misconfigured(
                f"{self.platform}: the API answered HTTP {status}, a redirect to {where}: "
                "set api_base to the platform's API address (redirects are not followed)"
            )
        self.platform_errors(resp)
        if status >= 500:
            raise Retryable(f"HTTP {status}")
        if status == 429:
            raise RateLimited(f"{self.platform} rate limit reached (429)", self.rate_limited_until(resp))
        if status == 401:
            raise AuthFailed(f"{self.platform} rejected the token (401 Unauthorized)")
        if status == 403:
            raise self.forbidden(resp)
        if status >= 400:
            raise Misconfigured(f"{self.platform} refused the request (HTTP {status}): check the account id and api_base")
        body = json_body(resp)
        if not isinstance(body, dict):
            raise Retryable(f"{self.platform} answered with JSON that is not an object")
        return body

    async def pages(
        self, path: str, params: dict | None, what: str, *, key: str = "data", token_param: str | None = None
    ) -> AsyncIterator[tuple[dict, list]]:
        """(body, the list under `key`) for each page, following links or page tokens."""
        pager = Pager(what)
        while True:
            body = await self.get_page(path, params)
            data = body.get(key) or []
            if not isinstance(data, list):
                raise TemporaryFailure(f"{what}: the page's {key!r} is not a list")
            yield body, data
            token = pager.advance(self.next_token(body), not data)
            if not token:
                return
            path, params = self.follow(token, path, params, token_param)

    async def get_page(self, path: str, params: dict | None) -> dict:
        """One page's body (a hook: Graph asks again for less when told the page is too big)."""
        return (await self.http.request("GET", path, params)).body

    def next_token(self, body: dict) -> str | None:
        value: object = body
        for part in self.next_token_at:
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) and value else None

    def follow(self, token: str, path: str, params: dict | None, token_param: str | None) -> tuple[str, dict | None]:
        if token.startswith(("http://", "https://")):
            return rebase(token, self.base), None  # the link carries its own query
        return path, {**(params or {}), token_param or "pageToken": token}

    async def newest_first(
        self, bodies: AsyncIterator[tuple[dict, list]], mark: Watermark, entry: Callable[[object], Entry | None]
    ) -> AsyncIterator[tuple[list[FetchedItem], list[tuple[str, datetime]]]]:
        """(new items, their (key, time)) per page, until an entry older than the watermark."""
        async for _, data in bodies:
            items: list[FetchedItem] = []
            found: list[tuple[str, datetime]] = []
            reached = False
            for raw in data:
                e = entry(raw)
                if e is None:
                    continue
                if mark.is_older(e.at):
                    reached = True
                    break
                if mark.is_new(e.key, e.at):
                    items += e.items
                    found.append((e.key, e.at))
            yield items, found
            if reached:
                return

    async def change(self, method: str, path: str, *, params: dict | None = None, json_body: object = None,
                     confirmed: Callable[[dict], bool], forbidden: str) -> None:
        """A moderation call (hide/unhide): refusals become HideRefused; limits and lost tokens stay."""
        try:
            body = (await self.http.request(method, path, params, json_body=json_body)).body
        except PermissionMissing:
            raise HideRefused(forbidden) from None
        except (RateLimited, AuthFailed):
            raise
        except ConnectorError as err:
            raise HideRefused(f"{self.platform} refused: {err.detail}") from None
        if not confirmed(body):
            raise HideRefused(f"{self.platform} did not confirm the change")

