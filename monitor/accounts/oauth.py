"""Each platform's OAuth facts in one place, and the refresh grant (authlib + httpx).

`FACTS[platform]` names the authorisation page, the token endpoint, the scopes
`connect` asks for, and for each permission what the person loses without it
(shown by `connect` and `check`). Every URL can be overridden per account
(`auth_url`, `token_url`), for a proxy or a local imitation in tests.

`refresh_grant` turns a refresh token into a new access token. Its failures are
values: `RefreshRefused` (invalid_grant and friends: a person must reconnect)
or `RefreshUnavailable` (network, 5xx: try again later). Messages carry the
platform's error code and description, never a token.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from monitor.core.graph_api import GRAPH_BASE, GRAPH_VERSION
from monitor.core.settings import AccountConfig

GOOGLE_SCOPE = "https://www.googleapis.com/auth/business.manage"
PERMANENT_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope", "access_denied"}


@dataclass(frozen=True)
class OAuthFacts:
    platform: str
    auth_url: str
    token_url: str
    scopes: tuple[str, ...]  # asked for by `connect`
    read: dict[str, str]  # permission -> what is lost without it (watching)
    hide: dict[str, str] = field(default_factory=dict)  # permission -> what is lost without it (hiding)
    auth_method: str = "client_secret_post"  # how the app authenticates at the token endpoint
    pkce: bool = False
    auth_params: dict[str, str] = field(default_factory=dict)
    rotates_refresh_token: bool = False  # each refresh token works once (X)
    reconnect_hint: str = ""


_META_AUTH = f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth"
_META_TOKEN = f"{GRAPH_BASE}/oauth/access_token"
_NO_HIDE_FB = "alerts offer no 'Hide this comment' button; comments must be hidden by hand on Facebook"

FACTS: dict[str, OAuthFacts] = {
    "facebook": OAuthFacts(
        "facebook", _META_AUTH, _META_TOKEN,
        ("pages_show_list", "pages_read_engagement", "pages_read_user_content", "pages_manage_engagement"),
        read={
            "pages_show_list": "nurserywatch cannot list the Pages you manage, so none can be chosen",
            "pages_read_engagement": "the Page's posts and comments cannot be read: nothing is watched",
            "pages_read_user_content": "posts and comments by visitors cannot be read: most of what parents write is missed",
        },
        hide={"pages_manage_engagement": _NO_HIDE_FB},
    ),
    "instagram": OAuthFacts(
        "instagram", _META_AUTH, _META_TOKEN,
        ("pages_show_list", "pages_read_engagement", "instagram_basic", "instagram_manage_comments"),
        read={
            "pages_show_list": "nurserywatch cannot list the Pages you manage, so the linked Instagram account cannot be found",
            "pages_read_engagement": "the Page linked to the Instagram account cannot be read",
            "instagram_basic": "the Instagram account and its posts cannot be read: nothing is watched",
            "instagram_manage_comments": "Instagram comments cannot be read (or hidden): nothing is watched",
        },
    ),
    "google": OAuthFacts(
        "google", "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
        (GOOGLE_SCOPE,),
        read={GOOGLE_SCOPE: "Google reviews cannot be read: nothing is watched"},
        auth_params={"access_type": "offline", "prompt": "consent"},  # a refresh token every time
        pkce=True,
        reconnect_hint=(
            "If this happens every 7 days, the Google Cloud app's OAuth consent screen is still in 'Testing', "
            "where refresh tokens expire after 7 days: set it to 'In production' and reconnect."
        ),
    ),
    "x": OAuthFacts(
        "x", "https://x.com/i/oauth2/authorize", "https://api.x.com/2/oauth2/token",
        ("tweet.read", "users.read", "tweet.moderate.write", "offline.access"),
        read={
            "tweet.read": "posts and replies cannot be read: nothing is watched",
            "users.read": "the account and reply authors cannot be looked up",
            "offline.access": "access ends after two hours and cannot be renewed: watching stops until you reconnect",
        },
        hide={"tweet.moderate.write": "alerts offer no 'Hide this reply' button; replies must be hidden by hand on X"},
        auth_method="client_secret_basic",
        pkce=True,
        rotates_refresh_token=True,
    ),
}


def endpoints(account: AccountConfig) -> tuple[str, str]:
    """(authorisation URL, token URL) for an account: its overrides, else the platform's."""
    facts = FACTS[account.platform]
    return account.auth_url or facts.auth_url, account.token_url or facts.token_url


class RefreshRefused(Exception):
    """The platform will not renew this grant: a person must reconnect."""

    def __init__(self, error: str, description: str = ""):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class RefreshUnavailable(Exception):
    """The token endpoint could not be reached or failed: try again later."""


@dataclass
class Grant:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False, default=None)
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)


def grant_from(token: dict, now: datetime, previous_refresh: str | None = None) -> Grant:
    expires_in = token.get("expires_in")
    try:
        expires_at = now + timedelta(seconds=int(expires_in)) if expires_in not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        expires_at = None
    scope = token.get("scope") or ""
    scopes = scope.split() if isinstance(scope, str) else list(scope)
    return Grant(str(token["access_token"]), token.get("refresh_token") or previous_refresh, expires_at, scopes)


def oauth_client(
    platform: str, client_id: str, client_secret: str | None, *, redirect_uri: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0,
) -> AsyncOAuth2Client:
    facts = FACTS[platform]
    method = facts.auth_method if client_secret else "none"  # X public clients send only client_id
    kwargs = {"transport": transport} if transport is not None else {}
    return AsyncOAuth2Client(
        client_id=client_id, client_secret=client_secret, token_endpoint_auth_method=method,
        redirect_uri=redirect_uri, scope=" ".join(facts.scopes),
        code_challenge_method="S256" if facts.pkce else None, timeout=timeout, **kwargs,
    )


async def refresh_grant(
    platform: str, *, token_url: str, client_id: str, client_secret: str | None, refresh_token: str,
    now: datetime, transport: httpx.AsyncBaseTransport | None = None,
) -> Grant:
    """One refresh_token grant. Never retried here: a single-use refresh token
    must not be sent twice unless the first answer was lost (the caller decides)."""
    async with oauth_client(platform, client_id, client_secret, transport=transport) as client:
        client.scope = None  # a refresh keeps the granted scopes; asking again is refused by some platforms
        try:
            token = await client.refresh_token(token_url, refresh_token=refresh_token)
        except OAuthError as err:
            if err.error in PERMANENT_ERRORS:
                raise RefreshRefused(err.error, err.description or "") from None
            raise RefreshUnavailable(f"token endpoint answered {err.error}") from None
        except httpx.HTTPStatusError as err:
            raise RefreshUnavailable(f"token endpoint answered HTTP {err.response.status_code}") from None
        except httpx.TransportError as err:
            raise RefreshUnavailable(f"token endpoint unreachable ({type(err).__name__})") from None
        except (ValueError, KeyError):
            raise RefreshUnavailable("token endpoint answered something that is not a token") from None
    if "access_token" not in token:
        raise RefreshUnavailable("token endpoint answered without an access_token")
    return grant_from(dict(token), now, previous_refresh=refresh_token)
