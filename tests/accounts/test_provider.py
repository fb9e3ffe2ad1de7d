from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx
import pytest

from connectors.base import AuthFailed
from monitor.accounts.fakeoauth import FakeOAuthServer
from monitor.accounts.provider import AccountCredentials
from monitor.accounts.vault import Credential
from monitor.core.settings import AccountConfig
from alerts.testing import FakeClock

TOKEN_URL = "https://oauth.test/token"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))


def google(**kw) -> AccountConfig:
    base = dict(platform="google", id="accounts/1/locations/2", client_id_env="G_ID", client_secret_env="G_SECRET",
                refresh_token_env="G_REFRESH", token_url=TOKEN_URL)
    return AccountConfig(**(base | kw))


@pytest.fixture
def server(clock, monkeypatch):
    srv = FakeOAuthServer(clock, lifetime=20)
    first = srv.grant()
    monkeypatch.setenv("G_ID", srv.client_id)
    monkeypatch.setenv("G_SECRET", srv.client_secret)
    monkeypatch.setenv("G_REFRESH", first["refresh_token"])
    return srv


def run(coro):
    return asyncio.run(coro)


def test_configured_refresh_credentials_give_a_token_and_renew_it_before_it_expires(server, clock, vault):
    creds = AccountCredentials(google(), vault=vault, clock=clock, transport=httpx.MockTransport(server.handler))
    first = run(creds.token())
    assert server.valid(f"Bearer {first}")
    clock.advance(seconds=10)
    assert run(creds.token()) == first  # still fresh: no request
    clock.advance(seconds=6)  # 4 s left, inside the 5 s margin of a 20 s token
    second = run(creds.token())
    assert second != first and server.valid(f"Bearer {second}")
    assert creds.renewals == 2 and server.token_requests == 2


def test_a_refused_token_is_renewed_once_on_refresh(server, clock, vault):
    creds = AccountCredentials(google(), vault=vault, clock=clock, transport=httpx.MockTransport(server.handler))
    first = run(creds.token())
    server.access.clear()  # the platform forgot it early
    assert run(creds.refresh()) is True
    assert run(creds.token()) != first


def test_a_revoked_refresh_token_fails_with_the_reason_once_and_then_stops_asking(server, clock, vault):
    creds = AccountCredentials(google(), vault=vault, clock=clock, transport=httpx.MockTransport(server.handler))
    run(creds.token())
    server.revoke_all()
    clock.advance(seconds=30)
    with pytest.raises(AuthFailed, match="refresh token was refused.*Testing.*In production"):
        run(creds.token())
    with pytest.raises(AuthFailed):
        run(creds.token())
    assert server.refused_refreshes == 1


def test_a_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(clock, vault, monkeypatch):
    server = FakeOAuthServer(clock, lifetime=7200, rotate=True, client_secret=None)
    monkeypatch.setenv("X_ID", server.client_id)
    account = AccountConfig(platform="x", id="99", token_url=TOKEN_URL)
    vault.save(Credential("x", "99", "oauth2", {"refresh_token": server.grant()["refresh_token"], "grant_id": "g1",
                                              "client_id": server.client_id}), clock())
    seen_at_use: list[str] = []

    def api(request):  # what the vault holds when the new token is first used
        seen_at_use.append(vault.load("x", "99").secret["refresh_token"])
        return server.handler(request)

    creds = AccountCredentials(account, vault=vault, clock=clock, transport=httpx.MockTransport(api))
    token = run(creds.token())
    stored = vault.load("x", "99").secret
    assert stored["access_token"] == token and server.refresh[stored["refresh_token"]] is True
    # a second process starting now uses the new refresh token, not the spent one
    clock.advance(hours=3)
    other = AccountCredentials(account, vault=vault, clock=clock, transport=httpx.MockTransport(server.handler))
    assert server.valid(f"Bearer {run(other.token())}")


def test_a_newly_connected_grant_is_picked_up_without_a_restart(server, clock, vault, monkeypatch):
    account = AccountConfig(platform="google", id="accounts/1/locations/2", token_url=TOKEN_URL)
    creds = AccountCredentials(account, vault=vault, clock=clock, transport=httpx.MockTransport(server.handler))
    with pytest.raises(AuthFailed, match="never connected"):
        run(creds.token())
    before = creds.identity()
    grant = server.grant()
    vault.save(Credential("google", account.id, "oauth2",
                          {"refresh_token": grant["refresh_token"], "grant_id": "g2", "client_id": server.client_id,
                           "client_secret": server.client_secret}), clock())
    assert server.valid(f"Bearer {run(creds.token())}")
    assert creds.identity() != before


def test_a_hand_managed_token_is_used_as_it_is_and_cannot_renew(monkeypatch, clock):
    monkeypatch.setenv("FB_TOKEN", "page-token-1")
    creds = AccountCredentials(AccountConfig(platform="facebook", id="1", token_env="FB_TOKEN"), vault=None, clock=clock)
    assert run(creds.token()) == "page-token-1"
    assert run(creds.refresh()) is False
    assert "page-token" not in repr(creds)


def test_an_x_app_only_token_watches_but_says_why_it_cannot_hide(monkeypatch, clock):
    monkeypatch.setenv("X_BEARER", "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid")
    creds = AccountCredentials(AccountConfig(platform="x", id="99", token_env="X_BEARER"), vault=None, clock=clock)
    assert run(creds.token()).startswith("AAAA")
    assert "app-only token, which can read replies but not hide them" in creds.hide_unavailable()
    monkeypatch.setenv("X_BEARER", "dXNlci1jb250ZXh0LXRva2Vu")
    assert creds.hide_unavailable() is None


def test_a_wrong_vault_key_fails_the_account_with_the_reason_but_never_the_identity(server, clock, vault, monkeypatch):
    from cryptography.fernet import Fernet

    from monitor.accounts.vault import KEY_ENV, Vault

    account = AccountConfig(platform="google", id="accounts/1/locations/2", token_url=TOKEN_URL)
    vault.save(Credential("google", account.id, "oauth2", {"refresh_token": "rt", "grant_id": "g"}), clock())
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    creds = AccountCredentials(account, vault=Vault(vault.sessions, vault.setting_id), clock=clock)
    creds.identity()  # does not raise: the pipeline asks for it before polling
    with pytest.raises(AuthFailed, match="cannot be decrypted"):
        run(creds.token())
