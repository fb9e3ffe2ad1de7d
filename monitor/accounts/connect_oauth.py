"""`nurserywatch connect google|x`: the authorisation-code flow that ends with a refresh token.

Google: the installed-app flow with `business.manage`, `access_type=offline`
and `prompt=consent` (so a refresh token comes every time), then the Business
Profile accounts and their locations to choose from.

X: OAuth 2.0 with PKCE and `offline.access`; `/2/users/me` names the account.
Its refresh tokens work once: the provider stores each new one before use.

Both store kind "oauth2" (access token, refresh token, the app's client id
and secret) encrypted; without the refresh token, access would end within
hours, so a missing `offline` grant is an error that says how to fix it.
"""
from __future__ import annotations

import secrets
from datetime import datetime

import httpx

from monitor.accounts.flow import ConnectError, Prompt, authorization_code, choose
from monitor.accounts.oauth import FACTS, GOOGLE_SCOPE, grant_from
from monitor.accounts.vault import Credential

GOOGLE_ACCOUNTS = "https://mybusinessaccountmanagement.googleapis.com/v1"
GOOGLE_INFO = "https://mybusinessbusinessinformation.googleapis.com/v1"
X_API = "https://api.x.com/2"


def google_listing_bases(api_base: str | None) -> tuple[str, str]:
    """Where accounts and locations are listed. With an overridden api_base (a
    proxy or an imitation), both are served under `/v1` of the same origin."""
    if not api_base:
        return GOOGLE_ACCOUNTS, GOOGLE_INFO
    origin = api_base.rstrip("/").rsplit("/", 1)[0]
    return f"{origin}/v1", f"{origin}/v1"


def missing(platform: str, granted: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    f = FACTS[platform]
    return ({k: v for k, v in f.read.items() if k not in granted}, {k: v for k, v in f.hide.items() if k not in granted})


async def _get(http: httpx.AsyncClient, url: str, token: str, **params) -> dict:
    resp = await http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
    if resp.status_code != 200:
        try:
            body = resp.json()
            err = body.get("error") if isinstance(body.get("error"), dict) else {}
            detail = err.get("message") or body.get("detail") or body.get("title") or ""
        except ValueError:
            detail = ""
        raise ConnectError(f"GET {httpx.URL(url).path}: HTTP {resp.status_code} {detail}".strip())
    return resp.json()


def _oauth2_credential(platform: str, external_id: str, label: str, token: dict, now: datetime,
                       client_id: str, client_secret: str | None) -> Credential:
    grant = grant_from(token, now)
    lifetime = (grant.expires_at - now).total_seconds() if grant.expires_at else None
    secret = {"access_token": grant.access_token, "refresh_token": grant.refresh_token,
              "grant_id": secrets.token_hex(8), "lifetime": lifetime, "client_id": client_id,
              "client_secret": client_secret}
    return Credential(platform, external_id, "oauth2", secret, expires_at=grant.expires_at, scopes=grant.scopes,
                      label=label)


async def connect_google(
    *, auth_url: str, token_url: str, api_base: str | None, client_id: str, client_secret: str, ui: Prompt,
    http: httpx.AsyncClient, location: str | None, paste: bool, redirect_uri: str | None, now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Credential, dict, dict]:
    token = await authorization_code(
        "google", auth_url=auth_url, token_url=token_url, client_id=client_id, client_secret=client_secret, ui=ui,
        redirect_uri=redirect_uri, paste=paste, extra=FACTS["google"].auth_params, transport=transport)
    granted = str(token.get("scope") or "").split()
    need_read, need_hide = missing("google", granted)
    if need_read:
        raise ConnectError("Google did not grant " + "; ".join(f"{k} ({v})" for k, v in need_read.items())
                           + ": tick the Business Profile box on the consent page")
    if not token.get("refresh_token"):
        raise ConnectError("Google sent no refresh token, so access would end within the hour: remove the app at "
                           "https://myaccount.google.com/permissions and connect again")
    accounts_base, info_base = google_listing_bases(api_base)
    access = str(token["access_token"])
    accounts = (await _get(http, f"{accounts_base}/accounts", access)).get("accounts") or []
    places: list[tuple[str, str]] = []
    for acc in accounts:
        body = await _get(http, f"{info_base}/{acc['name']}/locations", access, readMask="name,title", pageSize=100)
        for loc in body.get("locations") or []:
            # locations are named "locations/L" here; the reviews API wants "accounts/A/locations/L"
            full = f"{acc['name']}/{loc['name']}"
            places.append((full, f"{loc.get('title') or loc['name']} ({acc.get('accountName') or acc['name']})"))
    if not places:
        raise ConnectError("this Google user manages no Business Profile locations: sign in as an owner or manager "
                           "of the nursery's profile")
    if location:
        chosen = [p for p in places if p[0] == location or p[0].endswith("/" + location.rsplit("/", 1)[-1])]
        if not chosen:
            raise ConnectError(f"this Google user does not manage the location {location}; they manage: "
                               + ", ".join(f"{label} = {name}" for name, label in places))
        name, label = chosen[0]
    else:
        name, label = places[choose(ui, "location", [f"{lbl}  [{n}]" for n, lbl in places])]
    return _oauth2_credential("google", name, label, token, now, client_id, client_secret), need_read, need_hide


async def connect_x(
    *, auth_url: str, token_url: str, api_base: str | None, client_id: str, client_secret: str | None, ui: Prompt,
    http: httpx.AsyncClient, paste: bool, redirect_uri: str | None, now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Credential, dict, dict]:
    token = await authorization_code(
        "x", auth_url=auth_url, token_url=token_url, client_id=client_id, client_secret=client_secret, ui=ui,
        redirect_uri=redirect_uri, paste=paste, transport=transport)
    granted = str(token.get("scope") or "").split()
    need_read, need_hide = missing("x", granted)
    blocking = {k: v for k, v in need_read.items()}
    if blocking:
        raise ConnectError("X did not grant " + "; ".join(f"{k} ({v})" for k, v in blocking.items())
                           + ": check the app's permissions in the X developer console and connect again")
    me = (await _get(http, f"{(api_base or X_API).rstrip('/')}/users/me", str(token["access_token"]))).get("data") or {}
    if not me.get("id"):
        raise ConnectError("X did not say which account signed in (/2/users/me had no id)")
    cred = _oauth2_credential("x", str(me["id"]), "@" + str(me.get("username") or me["id"]), token, now,
                              client_id, client_secret)
    return cred, need_read, need_hide
