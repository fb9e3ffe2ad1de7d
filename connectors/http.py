"""The one request loop every platform client shares.

A platform supplies a `classify(response)` hook that returns the parsed body
or raises: `Retryable` (try again after a backoff, inside the budget) or a
final `ConnectorError` (rate limited until T, auth lost, misconfigured).
Timeouts, transport errors and malformed JSON are `Retryable` here.

There is exactly one retry loop (`Http.request`), with a budget of attempts,
exponential backoff with jitter, and an injected `sleep` so tests run
instantly and can count requests. A `Pacer` may slow requests down or pause
the account before a platform's limit is reached.

Pagination lives in `Pager`: a repeated page token is a detected loop and an
endless run of empty pages a fault, never a hang.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from connectors.auth import Credentials, StaticToken
from connectors.base import AuthFailed, ConnectorError, PermissionMissing, TemporaryFailure

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
Authorize = Callable[[str], "tuple[dict[str, str], dict[str, str]]"]


def bearer(token: str) -> tuple[dict[str, str], dict[str, str]]:
    return {"Authorization": f"Bearer {token}"}, {}


class Retryable(Exception):
    """A failure worth another attempt in this cycle (5xx, timeout, bad JSON, transient code)."""

    def __init__(self, detail: str, after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.after = after  # the platform's own hint, in seconds


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # requests per call, the first one included
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, rng: random.Random, hint: float | None = None) -> float:
        """Exponential backoff with 'equal jitter': half fixed, half random."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        if hint is not None:
            cap = min(self.max_delay, max(cap, hint))
        return cap / 2 + rng.uniform(0, cap / 2)


@dataclass(frozen=True)
class Limits:
    """What one request may cost: a deadline for connect, headers and body together, and a size."""

    deadline: float = 60.0
    max_bytes: int = 20 * 1024 * 1024


class Refused(Exception):
    """An answer not worth another attempt in this cycle: too slow or too large."""


class Pacer(Protocol):
    async def before(self) -> None:
        """Sleep or raise RateLimited before a request is sent."""

    def observe(self, response: httpx.Response) -> None:
        """Read usage headers from any response."""


@dataclass
class Page:
    body: dict
    headers: httpx.Headers


class Http:
    """A platform's view of the shared httpx.AsyncClient."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base: str,
        classify: Callable[[httpx.Response], dict],
        credentials: Credentials | None = None,
        authorize: Authorize = bearer,
        pacer: Pacer | None = None,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        limits: Limits = Limits(),
    ):
        self.client = client
        self.base = base.rstrip("/")
        self.classify = classify
        self.credentials = credentials or StaticToken("")
        self.authorize = authorize
        self.pacer = pacer
        self.policy = policy
        self.limits = limits
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.requests = 0  # sent, for benchmarks and tests

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base}/{path_or_url.lstrip('/')}"

    async def request(
        self, method: str, path_or_url: str, params: Mapping[str, Any] | None = None, json_body: Any = None
    ) -> Page:
        url, query = split_query(self.url(path_or_url))
        query.update(params or {})
        where = f"{method} {urlsplit(url).path}"  # never the query: it may carry a token
        last = ""
        refreshed = refreshed_now = False
        attempt = 0
        hint = None
        while attempt < self.policy.attempts:
            if attempt and not refreshed_now:
                await self.sleep(self.policy.delay(attempt - 1, self.rng, hint))
            attempt += 1
            hint, refreshed_now = None, False
            if self.pacer:
                await self.pacer.before()
            headers, auth_params = self.authorize(await self.credentials.token())
            self.requests += 1
            request = self.client.build_request(
                method, url, params={**query, **auth_params} or None, json=json_body, headers=headers
            )
            try:
                resp = await self.send(request)
            except Refused as err:
                log.info("%s: %s", where, err)
                raise TemporaryFailure(f"{where}: {err}") from None
            except httpx.TimeoutException:
                last = "timed out"
                continue
            except httpx.TransportError as err:
                last = f"connection failed ({type(err).__name__})"
                continue
            if self.pacer:
                self.pacer.observe(resp)
            try:
                body = self.classify(resp)
            except Retryable as err:
                last, hint = err.detail, err.after
                continue
            except AuthFailed as err:
                if refreshed or isinstance(err, PermissionMissing) or not await self.credentials.refresh():
                    raise
                refreshed = refreshed_now = True
                attempt -= 1  # once per request, outside the retry budget
                log.info("%s: token refused, retrying once with a refreshed one", where)
                continue
            return Page(body=body, headers=resp.headers)
        log.info("%s: giving up after %s attempts: %s", where, self.policy.attempts, last)
        raise TemporaryFailure(f"{where}: {last} ({self.policy.attempts} attempts)")


    async def send(self, request: httpx.Request) -> httpx.Response:
        """One request within the deadline and the size limit, its body read in full.

        The deadline covers connecting, the headers and the whole body, so a
        server that trickles a byte every few seconds cannot hold the cycle.
        """
        deadline, limit = self.limits.deadline, self.limits.max_bytes
        try:
            async with asyncio.timeout(deadline):
                resp = await self.client.send(request, stream=True, follow_redirects=False)  # a token never follows
                try:
                    declared = resp.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise Refused(f"answer of {int(declared):,} bytes refused (limit {limit:,})")
                    chunks, size = [], 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise Refused(f"answer over {limit:,} bytes refused")
                        chunks.append(chunk)
                finally:
                    await resp.aclose()
        except TimeoutError:
            raise Refused(f"no complete answer within the {deadline:g} s deadline") from None
        headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(resp.status_code, headers=headers, content=b"".join(chunks), request=request)


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """A URL without its query, and the query as a dict (httpx drops a URL's query when params are given)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def json_body(resp: httpx.Response) -> Any:
    """The response's JSON, or Retryable: a truncated or HTML answer is a fault, not data."""
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise Retryable(f"HTTP {resp.status_code} with a body that is not JSON") from None


class Pager:
    """Guards one pagination walk: no repeated tokens, no endless empty pages, a page cap."""

    def __init__(self, what: str, max_pages: int = 500, max_empty: int = 5):
        self.what = what
        self.max_pages = max_pages
        self.max_empty = max_empty
        self.seen: set[str] = set()
        self.pages = 0
        self.empty_run = 0

    def advance(self, token: str | None, page_was_empty: bool) -> str | None:
        """The next token to fetch, None at the end; raises on a loop."""
        self.pages += 1
        self.empty_run = self.empty_run + 1 if page_was_empty else 0
        if not token:
            return None
        if token in self.seen:
            raise TemporaryFailure(f"{self.what}: the platform repeated a page token (a paging loop)")
        if self.empty_run >= self.max_empty:
            raise TemporaryFailure(f"{self.what}: {self.empty_run} empty pages in a row that still link onwards")
        if self.pages >= self.max_pages:
            raise TemporaryFailure(f"{self.what}: more than {self.max_pages} pages")
        self.seen.add(token)
        return token


def rebase(url: str, base: str, drop: tuple[str, ...] = ("access_token", "appsecret_proof"), **replace: object) -> str:
    """Point a platform's absolute `next` link at our configured api_base.

    Keeps the link's path below the version segment and its query, minus
    secrets (the token goes in a header), with `replace` values set.
    (httpx drops a URL's query when `params` are passed, so they go here.) Lets a proxy or a local test server
    stand in for the real host.
    """
    parts = urlsplit(url)
    base_parts = urlsplit(base)
    path = parts.path
    if base_parts.path.rstrip("/") and path.startswith(base_parts.path.rstrip("/") + "/"):
        path = path[len(base_parts.path.rstrip("/")) :]
    else:
        segs = path.lstrip("/").split("/", 1)
        if len(segs) == 2 and segs[0][:1] == "v" and segs[0][1:].replace(".", "").isdigit():
            path = "/" + segs[1]
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in drop and k not in replace]
    query = urlencode(pairs + [(k, str(v)) for k, v in replace.items()])
    return f"{base.rstrip('/')}{path}" + (f"?{query}" if query else "")


def parse_time(value: str | int | float | None) -> datetime | None:
    """ISO 8601 (`+0000`, `Z`, fractions) or unix seconds -> aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    if "." in text:  # Google sends up to nanoseconds; fromisoformat takes 6 digits
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


__all__ = [
    "ConnectorError",
    "Http",
    "Page",
    "Pager",
    "Pacer",
    "RetryPolicy",
    "Retryable",
    "iso",
    "json_body",
    "parse_time",
    "rebase",
]
