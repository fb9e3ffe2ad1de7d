"""A local imitation of an OAuth 2.0 authorisation server, for tests and benchmarks.

It speaks the real shapes (RFC 6749 form posts and JSON answers, RFC 7636
PKCE, HTTP Basic or form client authentication) and can issue short-lived
access tokens, rotate refresh tokens on every use (as X does), revoke a
grant (invalid_grant from then on) and refuse consent. Use its `handler`
with `httpx.MockTransport`; `consent(url)` plays the person in the browser
and returns the URL the browser would be sent back to.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx


@dataclass
class FakeOAuthServer:
    clock: Callable[[], datetime]
    client_id: str = "client-id-1"
    client_secret: str | None = "client-secret-1"
    lifetime: int = 3600  # seconds an access token lives
    rotate: bool = False  # a refresh token works once
    scopes: str = "scope.read scope.write"  # granted at consent
    access: dict[str, datetime] = field(default_factory=dict)  # access token -> expiry
    refresh: dict[str, bool] = field(default_factory=dict)  # refresh token -> still valid
    codes: dict[str, dict] = field(default_factory=dict)
    token_requests: int = 0
    refused_refreshes: int = 0
    issued: list[str] = field(default_factory=list)  # every secret handed out, for leak searches

    def _new(self, prefix: str) -> str:
        value = f"{prefix}-{secrets.token_urlsafe(16)}"
        self.issued.append(value)
        return value

    def grant(self, with_refresh: bool = True) -> dict:
        token = {"access_token": self._new("at"), "token_type": "bearer", "expires_in": self.lifetime,
                 "scope": self.scopes}
        self.access[token["access_token"]] = self.clock() + timedelta(seconds=self.lifetime)
        if with_refresh:
            token["refresh_token"] = self._new("rt")
            self.refresh[token["refresh_token"]] = True
        return token

    def revoke_all(self) -> None:
        self.refresh = {k: False for k in self.refresh}
        self.access.clear()

    def valid(self, authorization: str | None) -> bool:
        token = (authorization or "").removeprefix("Bearer ").strip()
        expiry = self.access.get(token)
        return expiry is not None and self.clock() < expiry

    # --- the browser side ------------------------------------------------------------
    def consent(self, authorize_url: str, *, refuse: bool = False, scopes: str | None = None) -> str:
        q = dict(parse_qsl(urlsplit(authorize_url).query))
        assert q["client_id"] == self.client_id, "authorisation asked for another app"
        back = q["redirect_uri"]
        sep = "&" if "?" in back else "?"
        if refuse:
            return back + sep + urlencode({"error": "access_denied", "error_description": "The user denied access",
                                           "state": q.get("state", "")})
        code = self._new("code")
        self.codes[code] = {"redirect_uri": back, "challenge": q.get("code_challenge"),
                            "scopes": scopes if scopes is not None else self.scopes}
        return back + sep + urlencode({"code": code, "state": q.get("state", "")})

    # --- the token endpoint -----------------------------------------------------------
    def handler(self, request: httpx.Request) -> httpx.Response:
        self.token_requests += 1
        form = dict(parse_qsl(request.content.decode()))
        if not self._client_ok(request, form):
            return httpx.Response(401, json={"error": "invalid_client", "error_description": "Client authentication failed"})
        kind = form.get("grant_type")
        if kind == "refresh_token":
            rt = form.get("refresh_token", "")
            if not self.refresh.get(rt):
                self.refused_refreshes += 1
                return httpx.Response(400, json={"error": "invalid_grant",
                                                 "error_description": "Token has been expired or revoked."})
            token = self.grant(with_refresh=self.rotate)
            if self.rotate:
                self.refresh[rt] = False
            return httpx.Response(200, json=token)
        if kind == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["redirect_uri"] != form.get("redirect_uri"):
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "Bad code"})
            if code["challenge"]:
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if digest != code["challenge"]:
                    return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE mismatch"})
            token = self.grant()
            token["scope"] = code["scopes"]
            return httpx.Response(200, json=token)
        if kind == "fb_exchange_token":  # Meta's long-lived user token exchange
            if not self.valid(f"Bearer {form.get('fb_exchange_token', '')}"):
                return httpx.Response(400, json={"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}})
            token = self.grant(with_refresh=False)
            token["expires_in"] = 5183944
            self.access[token["access_token"]] = self.clock() + timedelta(seconds=5183944)
            return httpx.Response(200, json=token)
        return httpx.Response(400, json={"error": "unsupported_grant_type"})

    def _client_ok(self, request: httpx.Request, form: dict) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            cid, secret = form.get("client_id"), form.get("client_secret")
        if cid != self.client_id:
            return False
        return self.client_secret is None or secret == self.client_secret
