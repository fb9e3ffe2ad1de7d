"""What Facebook and Instagram share: the Graph API's errors and usage headers.

Errors are classified by `error.code` / `error_subcode`, never by HTTP status
or `type`: Meta throttles arrive as HTTP 400/403 OAuthException, not 429.
See docs/connectors.md. `GraphConnector` is the base Facebook and Instagram
share: Meta's error codes, usage-header pacing and the bearer token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from datetime import datetime, timedelta

import httpx

from connectors.base import AuthFailed, Misconfigured, PermissionMissing, RateLimited, TemporaryFailure
from connectors.http import Clock, Pacer, Retryable, Sleep, json_body, split_query
from connectors.stream import PlatformConnector
from monitor.core.graph_api import version_in

log = logging.getLogger(__name__)

THROTTLE_CODES = {4, 17, 32, 613, 80001, 80002}
TRANSIENT_CODES = {2, 341, 368}
TOO_MUCH_DATA = 1  # "Please reduce the amount of data you're asking for, then retry your request"
EXPANSION_LIMIT = re.compile(r"\.limit\((\d+)\)")
TOKEN_SUBCODES = {
    458: "the app is not installed",
    459: "the user is checkpointed",
    460: "the password changed",
    463: "the token expired",
    464: "the user is unconfirmed",
    467: "the token is invalid",
    492: "the user lost their role on the Page",
}
DEFAULT_PAUSE = timedelta(minutes=15)  # Meta sends no Retry-After
# the permission each failing edge needs, to say which one is missing
PERMISSION_HINTS = ("pages_read_engagement", "pages_read_user_content", "pages_manage_engagement",
                    "instagram_basic", "instagram_manage_comments")


class TooMuchData(TemporaryFailure):
    """Graph code 1: ask again for a smaller page, not the same one again."""


def appsecret_proof(app_secret: str, token: str) -> str:
    """HMAC-SHA256 of the access token keyed by the app secret, hex (Graph API "Securing Requests")."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def smaller(query: dict) -> dict | None:
    """The query with its page size and every embedded `.limit(n)` halved; None when already 1."""
    limit = int(query.get("limit") or 25)
    embedded = [int(n) for n in EXPANSION_LIMIT.findall(str(query.get("fields", "")))]
    if max([limit, *embedded]) <= 1:
        return None
    out = dict(query, limit=max(1, limit // 2))
    if "fields" in query:
        out["fields"] = EXPANSION_LIMIT.sub(lambda m: f".limit({max(1, int(m.group(1)) // 2)})", str(query["fields"]))
    return out


def graph_error(body: object) -> dict | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return None


def classify_graph(resp: httpx.Response, clock: Clock, permission: str | None = None) -> dict:
    """A Graph API answer -> its body, or a classified failure."""
    graph_errors(resp, clock, permission)
    body = json_body(resp)
    if not isinstance(body, dict):
        raise Retryable(f"HTTP {resp.status_code} with JSON that is not an object")
    return body


def graph_errors(resp: httpx.Response, clock: Clock, permission: str | None = None) -> None:
    """Raise the classified failure a Graph error answer stands for (by code, not by HTTP status)."""
    if resp.status_code >= 500:
        err = graph_error(_maybe_json(resp)) or {}
        if _too_much_data(err):
            raise TooMuchData(f"Graph error 1 (HTTP {resp.status_code}): the platform asked for less data")
        raise Retryable(f"HTTP {resp.status_code} (code {err.get('code', '-')})")
    if resp.status_code < 400:
        return
    err = graph_error(json_body(resp))
    if err is None:
        raise Retryable(f"HTTP {resp.status_code} without a Graph error body")
    code, sub = _int(err.get("code")), _int(err.get("error_subcode"))
    label = f"Graph error {code}" + (f"/{sub}" if sub else "")
    if _too_much_data(err):
        raise TooMuchData(f"{label}: the platform asked for less data")
    if code in THROTTLE_CODES:
        until = clock() + (regain_time(resp.headers) or DEFAULT_PAUSE)
        raise RateLimited(f"{label}: request limit reached", until)
    if code == 190 or sub in TOKEN_SUBCODES:
        why = TOKEN_SUBCODES.get(sub, "the access token is expired or invalid")
        raise AuthFailed(f"{label}: {why}")
    if code == 10 or (code is not None and 200 <= code <= 299):
        needed = mentioned_permission(str(err.get("message", ""))) or permission
        raise PermissionMissing(f"{label}: a permission is missing" + (f" ({needed})" if needed else ""), needed)
    if (code in TRANSIENT_CODES | {TOO_MUCH_DATA} and err.get("is_transient") is not False) or err.get("is_transient") is True:
        raise Retryable(f"{label}: temporary")
    if code == 100:
        needed = mentioned_permission(str(err.get("message", "")))
        if needed:
            raise PermissionMissing(f"{label}: object not readable without {needed}", needed)
        raise Misconfigured(f"{label}: unknown object or bad parameter (check the account id and api_base)")
    if code == 12:
        raise Misconfigured(f"{label}: deprecated in this API version")
    raise Misconfigured(f"{label}: refused")


def _too_much_data(err: dict) -> bool:
    """Code 1 without a subcode: "Please reduce the amount of data you're asking for"."""
    return _int(err.get("code")) == TOO_MUCH_DATA and err.get("error_subcode") is None \
        and err.get("is_transient") is not False


def mentioned_permission(message: str) -> str | None:
    for name in PERMISSION_HINTS:
        if name in message:
            return name
    return None


def regain_time(headers: httpx.Headers) -> timedelta | None:
    """The longest `estimated_time_to_regain_access` (minutes) in the BUC header."""
    minutes = [u.get("estimated_time_to_regain_access") or 0 for u in _buc_entries(headers)]
    longest = max(minutes, default=0)
    return timedelta(minutes=longest) if longest else None


def usage_percent(headers: httpx.Headers) -> float:
    """The highest usage percentage across X-App-Usage and X-Business-Use-Case-Usage."""
    values: list[float] = []
    app = _header_json(headers, "x-app-usage")
    if isinstance(app, dict):
        values += [float(v) for k, v in app.items() if isinstance(v, (int, float))]
    for entry in _buc_entries(headers):
        values += [float(entry[k]) for k in ("call_count", "total_cputime", "total_time") if isinstance(entry.get(k), (int, float))]
    return max(values, default=0.0)


class MetaPacer:
    """Slows down as usage climbs and pauses the account before Meta does.

    Above `slow_at` percent every request waits a little longer; at `stop_at`
    (or when Meta names a time to regain access) requests raise RateLimited
    until that time instead of spending calls that would still count. The
    pause ends by itself: the connector lives across cycles.
    """

    def __init__(self, clock: Clock, sleep: Sleep, slow_at: float = 75.0, stop_at: float = 90.0,
                 pinned: str | None = None):
        self.clock, self.sleep = clock, sleep
        self.pinned = pinned  # the version in the URL; Meta names the one it served in a header
        self.served: str | None = None
        self.slow_at, self.stop_at = slow_at, stop_at
        self.usage = 0.0
        self.paused_until: datetime | None = None

    async def before(self) -> None:
        if self.paused_until is not None:
            if self.paused_until > self.clock():
                raise RateLimited(f"usage at {self.usage:.0f}% of the Graph API limit: pausing", self.paused_until)
            self.paused_until, self.usage = None, 0.0
        if self.usage >= self.slow_at:
            await self.sleep(1.0 + (self.usage - self.slow_at) / 2)

    def observe(self, response: httpx.Response) -> None:
        served = response.headers.get("facebook-api-version")
        if served and self.pinned and served != self.pinned and served != self.served:
            log.warning("Graph API answered as %s although %s is pinned (an expired version is served by the "
                        "oldest available one): upgrade nurserywatch", served, self.pinned)
        self.served = served or self.served
        self.usage = usage_percent(response.headers)
        regain = regain_time(response.headers)
        if regain:
            self.paused_until = self.clock() + regain
        elif self.usage >= self.stop_at:
            self.paused_until = self.clock() + DEFAULT_PAUSE
        else:
            self.paused_until = None


def _buc_entries(headers: httpx.Headers) -> list[dict]:
    buc = _header_json(headers, "x-business-use-case-usage")
    if not isinstance(buc, dict):
        return []
    return [e for entries in buc.values() if isinstance(entries, list) for e in entries if isinstance(e, dict)]


def _header_json(headers: httpx.Headers, name: str) -> object:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _maybe_json(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class GraphConnector(PlatformConnector):
    """Facebook and Instagram: Meta's error codes (naming `permission` when one
    is missing) and requests paced by the usage headers."""

    permission: str

    def pacer(self, sleep: Sleep) -> Pacer:
        return MetaPacer(self.clock, sleep, pinned=version_in(self.base))

    def authorize(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        """The bearer token, and `appsecret_proof` when the app's secret is configured, so apps
        with "Require App Secret" on are served."""
        headers, params = super().authorize(token)
        env = self.options.app_secret_env
        if env:
            secret = os.environ.get(env)
            if not secret:
                raise Misconfigured(f"options.app_secret_env: environment variable {env} is not set")
            params = {**params, "appsecret_proof": appsecret_proof(secret, token)}
        return headers, params

    def platform_errors(self, resp: httpx.Response) -> None:
        graph_errors(resp, self.clock, self.permission)

    async def get_page(self, path: str, params: dict | None) -> dict:
        """Code 1 ("reduce the amount of data") is answered by halving the page and its embedded
        lists until the platform answers, never by sending the same request again."""
        url, query = split_query(self.http.url(path))
        query.update(params or {})
        while True:
            try:
                return (await self.http.request("GET", url, query)).body
            except TooMuchData as err:
                less = smaller(query)
                if less is None:
                    raise
                log.info("%s account %s: %s; asking for %s a page", self.platform, self.account.id, err.detail,
                         less["limit"])
                query = less
