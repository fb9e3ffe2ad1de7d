"""`nurserywatch connect facebook|instagram`: from a person's user token to a Page token.

1. A user token: Facebook Login (the authorisation-code flow), or one pasted
   from the Graph API Explorer (`--paste-token`).
2. Exchanged for a long-lived user token (`grant_type=fb_exchange_token`).
3. `/me/accounts` lists the Pages the person manages, each with its own
   Page token; a Page token obtained from a long-lived user token does not expire.
4. For Instagram, the Page's `instagram_business_account`.
5. `debug_token` (with the app token `APP_ID|APP_SECRET`) proves the Page
   token: type PAGE, valid, which permissions, expiry. Each missing permission
   is named with what it costs; without a reading permission nothing is stored.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from authlib.integrations.httpx_client import OAuthError

from monitor.accounts.flow import ConnectError, Prompt, authorization_code, choose
from monitor.accounts.oauth import FACTS, oauth_client
from monitor.accounts.vault import Credential


@dataclass
class TokenReport:
    """What debug_token says about a token, for `connect` and `check`."""

    valid: bool
    kind: str
    scopes: list[str]
    expires_at: datetime | None  # None: never
    missing_read: dict[str, str]
    missing_hide: dict[str, str]
    error: str | None = None

    def lines(self) -> list[str]:
        out = [f"token: {self.kind.lower()} token, " + ("valid" if self.valid else f"NOT valid ({self.error})"),
               "expires: " + (self.expires_at.strftime("%Y-%m-%d %H:%M UTC") if self.expires_at else "never"),
               "permissions: " + (", ".join(self.scopes) or "none")]
        for name, cost in {**self.missing_read, **self.missing_hide}.items():
            out.append(f"missing permission {name}: {cost}")
        return out


def graph_error(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error") or {}
    except ValueError:
        return f"HTTP {resp.status_code}"
    return f"Graph error {err.get('code', '?')}: {err.get('message', '')}".strip()


async def graph_get(http: httpx.AsyncClient, base: str, path: str, token: str, **params) -> dict:
    resp = await http.get(f"{base.rstrip('/')}/{path.lstrip('/')}", params=params,
                          headers={"Authorization": f"Bearer {token}"})
    if resp.status_code != 200:
        raise ConnectError(f"GET /{path}: {graph_error(resp)}")
    return resp.json()


async def debug_token(http: httpx.AsyncClient, base: str, platform: str, token: str, app_token: str) -> TokenReport:
    resp = await http.get(f"{base.rstrip('/')}/debug_token", params={"input_token": token},
                          headers={"Authorization": f"Bearer {app_token}"})
    if resp.status_code != 200:
        return TokenReport(False, "unknown", [], None, {}, {}, graph_error(resp))
    data = resp.json().get("data") or {}
    scopes = list(data.get("scopes") or [])
    expires = data.get("expires_at") or 0
    facts = FACTS[platform]
    return TokenReport(
        valid=bool(data.get("is_valid")),
        kind=str(data.get("type") or "unknown"),
        scopes=scopes,
        expires_at=datetime.fromtimestamp(expires, timezone.utc) if expires else None,
        missing_read={k: v for k, v in facts.read.items() if k not in scopes},
        missing_hide={k: v for k, v in facts.hide.items() if k not in scopes},
        error=(data.get("error") or {}).get("message"),
    )


async def long_lived(token_url: str, app_id: str, app_secret: str, user_token: str,
                     transport: httpx.AsyncBaseTransport | None) -> str:
    async with oauth_client("facebook", app_id, app_secret, transport=transport) as client:
        client.scope = None
        try:
            token = await client.fetch_token(token_url, grant_type="fb_exchange_token", fb_exchange_token=user_token,
                                             client_id=app_id)
        except OAuthError as err:
            raise ConnectError(f"Meta refused to extend the user token ({err.error}: {err.description or ''}); "
                               "is it from this app, and still valid?") from None
    return str(token["access_token"])


async def connect_meta(
    platform: str, *, base: str, auth_url: str, token_url: str, app_id: str, app_secret: str, ui: Prompt,
    http: httpx.AsyncClient, page_id: str | None, user_token: str | None, paste: bool,
    redirect_uri: str | None, transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[Credential, TokenReport]:
    if user_token is None:
        token = await authorization_code(
            platform, auth_url=auth_url, token_url=token_url, client_id=app_id, client_secret=app_secret, ui=ui,
            redirect_uri=redirect_uri, paste=paste, transport=transport)
        user_token = str(token["access_token"])
    user_token = await long_lived(token_url, app_id, app_secret, user_token, transport)
    fields = "id,name,access_token,tasks" + (",instagram_business_account{id,username}" if platform == "instagram" else "")
    pages = (await graph_get(http, base, "me/accounts", user_token, fields=fields, limit=100)).get("data") or []
    if not pages:
        raise ConnectError("this Facebook user manages no Pages that the app may see: sign in as a Page admin, "
                           "and tick the Page when Facebook asks which Pages to share")
    if platform == "instagram":
        if page_id:  # the Instagram account id, or its Page's id
            pages = [p for p in pages if page_id in (p.get("id"), (p.get("instagram_business_account") or {}).get("id"))] or pages
        linked = [p for p in pages if p.get("instagram_business_account")]
        if not linked:
            raise ConnectError("none of the Pages this person manages has an Instagram professional account linked: "
                               "link it in the Page's settings (Linked accounts) first")
        pages = linked
    if page_id and platform == "facebook":
        chosen = [p for p in pages if p.get("id") == page_id]
        if not chosen:
            names = ", ".join(f"{p.get('name')} ({p.get('id')})" for p in pages)
            raise ConnectError(f"this Facebook user does not manage the Page {page_id} (or did not share it with "
                               f"the app); the Pages they manage are: {names}")
        page = chosen[0]
    else:
        page = pages[choose(ui, "Page", [f"{p.get('name')} ({p.get('id')})" for p in pages])]
    page_token = page.get("access_token")
    if not page_token:
        raise ConnectError(f"no Page token for {page.get('name')}: the person needs a role on the Page that can moderate")
    report = await debug_token(http, base, platform, page_token, f"{app_id}|{app_secret}")
    if not report.valid or report.kind != "PAGE":
        raise ConnectError(f"the Page token did not check out: {report.kind} token, "
                           f"{'valid' if report.valid else 'not valid'} ({report.error or 'no detail'})")
    if platform == "instagram":
        ig = page["instagram_business_account"]
        external_id, label = str(ig["id"]), "@" + str(ig.get("username") or ig["id"])
    else:
        external_id, label = str(page["id"]), str(page.get("name") or page["id"])
    cred = Credential(platform, external_id, "page",
                      {"access_token": page_token, "grant_id": secrets.token_hex(8), "page_id": str(page["id"])},
                      expires_at=report.expires_at, scopes=report.scopes, label=label)
    return cred, report
