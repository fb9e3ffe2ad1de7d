"""A connector's access token that renews itself (the `connectors.auth.Credentials` seam).

One `AccountCredentials` per account, built by the runtime from the config:

- `token_env`: a token managed by hand; it cannot renew (`refresh()` is False).
- `refresh_token_env` + `client_id_env`: configured refresh credentials; the
  access token is renewed shortly before it expires and once when refused.
- neither: what `nurserywatch connect` stored in the vault, re-read whenever
  its version changes, so a reconnect is picked up without a restart.

A renewed grant is saved (encrypted, compare-and-swap on the version) BEFORE
the new access token is used: X's refresh tokens work once, so a crash after
the refresh must not leave only the spent one behind. If another process won
the race, its token is loaded instead. A refused refresh (`invalid_grant`)
raises `AuthFailed` naming the reason; the account stays failed without
asking the token endpoint again until its credentials change.
"""
from __future__ import annotations

import asyncio
import logging
import os
import secrets
from datetime import datetime, timedelta
from typing import Callable

import httpx

from connectors.base import AuthFailed, TemporaryFailure
from monitor.accounts.oauth import FACTS, Grant, RefreshRefused, RefreshUnavailable, endpoints, refresh_grant
from monitor.accounts.vault import KEY_ENV, Credential, StaleCredential, Vault, VaultError
from monitor.core.settings import AccountConfig
from monitor.core.store import fingerprint

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_MARGIN = timedelta(minutes=2)  # renew this long before expiry at most ...
MIN_MARGIN = timedelta(seconds=2)  # ... and at least this long
# X's app-only bearer tokens (from the developer console) start with this run of A's;
# user-context tokens from OAuth 2.0 do not.
APP_ONLY_PREFIX = "AAAAAAAAAAAAAAAAAAAAA"


def renew_margin(lifetime: timedelta | None) -> timedelta:
    """A quarter of the token's life, between 2 s and 2 min: a 1-hour Google token
    is renewed 2 minutes early, a 20-second one 5 seconds early."""
    if lifetime is None:
        return MAX_MARGIN
    return max(MIN_MARGIN, min(MAX_MARGIN, lifetime / 4))


def refused_reason(platform: str, err: RefreshRefused) -> str:
    """Why the platform refused, in words for the admin (no token in it)."""
    what = {
        "invalid_grant": "the refresh token was refused (revoked, expired, or already used)",
        "invalid_client": "the app's client id or secret was refused",
        "unauthorized_client": "the app is not allowed to use this refresh token",
    }.get(err.error, f"the platform refused to renew access ({err.error})")
    detail = f": {err.description.rstrip('.')}" if err.description else ""
    hint = FACTS[platform].reconnect_hint if platform in FACTS and err.error == "invalid_grant" else ""
    return f"{what}{detail}" + (f". {hint}" if hint else "")


class AccountCredentials:
    def __init__(
        self,
        account: AccountConfig,
        *,
        vault: Vault | None,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.account = account
        self.vault = vault
        self.clock = clock
        self.transport = transport
        self.renewals = 0  # for tests and benchmarks
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at: datetime | None = None
        self._lifetime: timedelta | None = None
        self._version = -1  # vault version loaded; -1: not loaded
        self._grant_id: str | None = None  # stays the same through renewals; changes on reconnect
        self._client: tuple[str | None, str | None] = (None, None)
        self._refused: str | None = None  # why renewal was refused, until the credentials change

    def __repr__(self) -> str:
        return f"AccountCredentials({self.account.platform}:{self.account.id})"

    # --- what the connector sees -------------------------------------------------
    async def token(self) -> str:
        async with self._lock:
            self._sync()
            if self._refused:
                raise AuthFailed(self._refused)
            if self._access is None or self._expiring():
                if self._can_renew():
                    await self._renew()
                elif self._access is None:
                    raise AuthFailed(self._missing())
            return self._access

    async def refresh(self) -> bool:
        """The platform refused the current token: renew once, if there is a way."""
        async with self._lock:
            refused = self._access
            self._sync(force=True)
            if self._access and self._access != refused:
                return True  # a reconnect or another process already renewed it
            if self._refused or not self._can_renew():
                return False
            await self._renew()
            return True

    def identity(self) -> str | None:
        """Changes when a person gives new credentials, not when a token is renewed.
        Never raises: an unreadable vault shows up when the token is asked for."""
        try:
            self._sync()
        except AuthFailed:
            pass
        if self.account.token_env:
            return fingerprint(os.environ.get(self.account.token_env))
        if self.account.refresh_token_env:
            return fingerprint(os.environ.get(self.account.refresh_token_env))
        return fingerprint(self._grant_id)

    @property
    def expires_at(self) -> datetime | None:
        """When the access token in hand expires (None: it does not, or none yet)."""
        return self._expires_at

    @property
    def renews(self) -> bool:
        """True when this account's access renews itself."""
        return self._can_renew()

    def hide_unavailable(self) -> str | None:
        """Why alerts for this account can offer no hide button, or None when they can."""
        if self.account.platform != "x" or not self.account.token_env:
            return None
        token = os.environ.get(self.account.token_env) or ""
        if token.startswith(APP_ONLY_PREFIX):
            return ("this X account is watched with an app-only token, which can read replies but not hide them: "
                    "hide the reply on X, or connect the account with `nurserywatch connect x` to hide from here")
        return None

    # --- loading ---------------------------------------------------------------------
    def _sync(self, force: bool = False) -> None:
        acc = self.account
        if acc.token_env:
            token = os.environ.get(acc.token_env)
            self._access, self._refresh, self._expires_at = token or None, None, None
            return
        if self.vault is None:
            if self._version == -1 and acc.refresh_token_env:
                self._seed_from_env()  # kept in memory only: no key to encrypt it with
                self._version = 0
            return
        try:
            version = self.vault.version(acc.platform, acc.id)
            if version == self._version and not force:
                return
            cred = self.vault.load(acc.platform, acc.id)
        except VaultError as err:
            raise AuthFailed(str(err)) from None
        if acc.refresh_token_env:
            seed = fingerprint(os.environ.get(acc.refresh_token_env))
            if cred is None or cred.secret.get("seed") != seed:
                self._seed_from_env()  # first start, or the admin put in a new refresh token
                self._version = version
                return
        if cred is None:
            self._access = None
            self._version = version
            return
        s = cred.secret
        if s.get("grant_id") != self._grant_id or cred.kind != "oauth2":
            self._refused = None  # new credentials: worth trying again
        self._access, self._refresh = s.get("access_token"), s.get("refresh_token")
        self._expires_at, self._grant_id = cred.expires_at, s.get("grant_id")
        self._lifetime = timedelta(seconds=s["lifetime"]) if s.get("lifetime") else None
        self._client = (s.get("client_id"), s.get("client_secret"))
        self._version = cred.version

    def _seed_from_env(self) -> None:
        acc = self.account
        self._access, self._expires_at = None, None
        self._refresh = os.environ.get(acc.refresh_token_env or "")
        self._grant_id = fingerprint(self._refresh)
        self._refused = None

    def _client_credentials(self) -> tuple[str | None, str | None]:
        acc = self.account
        cid = os.environ.get(acc.client_id_env) if acc.client_id_env else None
        secret = os.environ.get(acc.client_secret_env) if acc.client_secret_env else None
        return cid or self._client[0], secret or self._client[1]

    def _can_renew(self) -> bool:
        return bool(self._refresh and self._client_credentials()[0])

    def _expiring(self) -> bool:
        if self._expires_at is None:
            return False
        return self.clock() >= self._expires_at - renew_margin(self._lifetime)

    def _missing(self) -> str:
        acc = self.account
        if acc.token_env:
            return f"environment variable {acc.token_env} is empty"
        if acc.refresh_token_env:
            return f"no client id or refresh token (check {acc.client_id_env} and {acc.refresh_token_env})"
        if self.vault is None:
            return f"{KEY_ENV} is not set, so the credentials stored by `nurserywatch connect` cannot be read"
        return "no credentials are stored for this account: it was never connected, or they were removed"

    # --- renewing --------------------------------------------------------------------
    async def _renew(self) -> None:
        acc = self.account
        if self.vault is None and FACTS[acc.platform].rotates_refresh_token:
            raise AuthFailed(f"{acc.platform} refresh tokens work once, and without {KEY_ENV} the new one could not "
                             "be kept: set it (see `nurserywatch credentials new-key`)")
        client_id, client_secret = self._client_credentials()
        _, token_url = endpoints(acc)
        now = self.clock()
        try:
            grant = await refresh_grant(
                acc.platform, token_url=token_url, client_id=client_id, client_secret=client_secret,
                refresh_token=self._refresh, now=now, transport=self.transport,
            )
        except RefreshRefused as err:
            self._refused = refused_reason(acc.platform, err)
            log.error("account %s:%s: renewing access was refused (%s)", acc.platform, acc.id, err.error)
            raise AuthFailed(self._refused) from None
        except RefreshUnavailable as err:
            log.warning("account %s:%s: could not renew access: %s", acc.platform, acc.id, err)
            raise TemporaryFailure(f"renewing access: {err}") from None
        self._store(grant, now)
        self.renewals += 1
        log.info("account %s:%s: access renewed", acc.platform, acc.id)

    def _store(self, grant: Grant, now: datetime) -> None:
        """Keep the new grant, durably first when there is a vault."""
        lifetime = grant.expires_at - now if grant.expires_at else None
        if self.vault is not None:
            acc = self.account
            secret = {
                "access_token": grant.access_token,
                "refresh_token": grant.refresh_token,
                "grant_id": self._grant_id or secrets.token_hex(8),
                "lifetime": lifetime.total_seconds() if lifetime else None,
                "client_id": self._client[0],
                "client_secret": self._client[1],
            }
            if acc.refresh_token_env:
                secret["seed"] = fingerprint(os.environ.get(acc.refresh_token_env))
            old = self.vault.load(acc.platform, acc.id)
            cred = Credential(acc.platform, acc.id, "oauth2", secret, expires_at=grant.expires_at,
                              scopes=grant.scopes or (old.scopes if old else []), label=old.label if old else None)
            try:
                self.vault.save(cred, now, expect_version=self._version if self._version > 0 else None)
            except StaleCredential:
                log.info("account %s:%s: another process renewed first; using its token", acc.platform, acc.id)
                self._sync(force=True)
                return
            self._version = cred.version
        self._access, self._refresh, self._expires_at = grant.access_token, grant.refresh_token, grant.expires_at
        self._lifetime = lifetime
