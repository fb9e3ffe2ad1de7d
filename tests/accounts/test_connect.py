"""`connect` end to end against local imitations of each platform's
authorisation and token endpoints and its listing APIs."""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

import httpx
import pytest

from alerts.testing import FakeClock
from monitor.accounts.connect import run_connect
from monitor.accounts.fakeoauth import FakeOAuthServer
from monitor.accounts.flow import ConnectError, ConsentRefused
from monitor.accounts.oauth import GOOGLE_SCOPE

READ_FB = "pages_show_list pages_read_engagement pages_read_user_content"


class ScriptedUI:
    """Plays the person: answers the paste prompt by consenting at the imitation."""

    def __init__(self, server: FakeOAuthServer, *, refuse=False, scopes=None, answers=(), browser=False):
        self.server, self.refuse, self.scopes = server, refuse, scopes
        self.answers = list(answers)
        self.said: list[str] = []
        self.browser = browser

    def say(self, text):
        self.said.append(text)

    def ask(self, question):
        if "Paste the whole address" in question:
            url = next(line.strip() for line in reversed(self.said) if line.strip().startswith("https://"))
            return self.server.consent(url, refuse=self.refuse, scopes=self.scopes)
        return self.answers.pop(0)

    def open_browser(self, url):
        if not self.browser:
            return False
        back = self.server.consent(url, refuse=self.refuse, scopes=self.scopes)
        threading.Thread(target=httpx.get, args=(back,), daemon=True).start()  # the browser follows the redirect
        return True


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))


def platform_api(server: FakeOAuthServer, routes: dict):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token") or request.url.path.endswith("/oauth/access_token"):
            return server.handler(request)
        for path, answer in routes.items():
            if request.url.path == path:
                return answer(request) if callable(answer) else httpx.Response(200, json=answer)
        return httpx.Response(404, json={"error": {"message": f"no route {request.url.path}"}})
    return httpx.MockTransport(handler)


def graph_routes(server, scopes: str, pages: list[dict]):
    def debug(request):
        assert request.headers["authorization"] == "Bearer meta-app|meta-secret"
        return httpx.Response(200, json={"data": {"type": "PAGE", "is_valid": True, "expires_at": 0,
                                                  "scopes": scopes.split(), "app_id": "meta-app"}})

    def accounts(request):
        assert server.valid(request.headers.get("authorization")), "listing needs the long-lived user token"
        return httpx.Response(200, json={"data": pages})
    return {"/v25.0/debug_token": debug, "/v25.0/me/accounts": accounts}


def config_for(make_config, **account):
    accounts = [account] if account else []
    return make_config(accounts=accounts)


@pytest.fixture
def meta_env(monkeypatch):
    monkeypatch.setenv("META_APP_ID", "meta-app")
    monkeypatch.setenv("META_APP_SECRET", "meta-secret")


def test_facebook_connect_stores_a_page_token_that_never_expires(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret", scopes=READ_FB)
    pages = [{"id": "1000", "name": "Little Acorns", "access_token": "page-token-secret", "tasks": ["MODERATE"]}]
    transport = platform_api(server, graph_routes(server, READ_FB + " pages_manage_engagement", pages))
    ui = ScriptedUI(server)
    config = config_for(make_config, platform="facebook", id="1000")
    assert asyncio.run(run_connect("facebook", config, vault, ui, paste=True, transport=transport, clock=clock)) == 0
    stored = vault.load("facebook", "1000")
    assert stored.kind == "page" and stored.secret["access_token"] == "page-token-secret"
    assert stored.expires_at is None and stored.label == "Little Acorns"
    assert "expires: never" in ui.said and not any("secret" in line for line in ui.said)


def test_facebook_connect_names_a_missing_reading_permission_and_stores_nothing(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret")
    pages = [{"id": "1000", "name": "Little Acorns", "access_token": "page-token-secret"}]
    transport = platform_api(server, graph_routes(server, "pages_show_list pages_read_engagement", pages))
    ui = ScriptedUI(server)
    with pytest.raises(ConnectError, match="without pages_read_user_content.*most of what parents write is missed"):
        asyncio.run(run_connect("facebook", config_for(make_config, platform="facebook", id="1000"), vault, ui,
                                paste=True, transport=transport, clock=clock))
    assert vault.load("facebook", "1000") is None
    assert any("missing permission pages_manage_engagement" in line and "Hide" in line for line in ui.said)


def test_facebook_connect_stores_without_the_hiding_permission_and_says_what_it_costs(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret")
    pages = [{"id": "1000", "name": "Little Acorns", "access_token": "page-token-secret"}]
    ui = ScriptedUI(server)
    asyncio.run(run_connect("facebook", config_for(make_config, platform="facebook", id="1000"), vault, ui, paste=True,
                            transport=platform_api(server, graph_routes(server, READ_FB, pages)), clock=clock))
    assert vault.load("facebook", "1000") is not None
    assert any(line.startswith("warning: permission pages_manage_engagement") for line in ui.said)


def test_facebook_connect_refuses_a_page_the_person_does_not_manage(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret")
    pages = [{"id": "2000", "name": "Another Page", "access_token": "other-page-token"}]
    with pytest.raises(ConnectError, match="does not manage the Page 1000.*Another Page \\(2000\\)"):
        asyncio.run(run_connect("facebook", config_for(make_config, platform="facebook", id="1000"), vault,
                                ScriptedUI(server), paste=True,
                                transport=platform_api(server, graph_routes(server, READ_FB, pages)), clock=clock))
    assert vault.load("facebook", "1000") is None


def test_facebook_connect_with_a_pasted_explorer_token(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret")
    short = server.grant(with_refresh=False)["access_token"]
    pages = [{"id": "1000", "name": "Little Acorns", "access_token": "page-token-secret"}]
    ui = ScriptedUI(server, answers=[short])
    asyncio.run(run_connect("facebook", config_for(make_config, platform="facebook", id="1000"), vault, ui,
                            paste_token=True, transport=platform_api(server, graph_routes(server, READ_FB, pages)),
                            clock=clock))
    assert vault.load("facebook", "1000").secret["access_token"] == "page-token-secret"


def test_instagram_connect_finds_the_linked_business_account(make_config, vault, clock, meta_env):
    server = FakeOAuthServer(clock, client_id="meta-app", client_secret="meta-secret")
    scopes = "pages_show_list pages_read_engagement instagram_basic instagram_manage_comments"
    pages = [{"id": "1000", "name": "Little Acorns", "access_token": "page-token-secret",
              "instagram_business_account": {"id": "17841400000000001", "username": "littleacorns"}}]
    asyncio.run(run_connect("instagram", config_for(make_config), vault, ScriptedUI(server), paste=True,
                            transport=platform_api(server, graph_routes(server, scopes, pages)), clock=clock))
    stored = vault.load("instagram", "17841400000000001")
    assert stored.label == "@littleacorns" and stored.secret["page_id"] == "1000"


@pytest.fixture
def google_env(monkeypatch):
    monkeypatch.setenv("GOOGLE_CLIENT_ID", "g-client")
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "g-secret")


def google_routes():
    return {"/v1/accounts": {"accounts": [{"name": "accounts/1", "accountName": "Little Acorns Ltd"}]},
            "/v1/accounts/1/locations": {"locations": [{"name": "locations/2", "title": "Little Acorns Nursery"},
                                                       {"name": "locations/3", "title": "Little Acorns Pre-school"}]}}


def google_config(make_config, **kw):
    return config_for(make_config, platform="google", id="accounts/1/locations/2", api_base="https://gbp.test/v4",
                      token_url="https://oauth.test/token", auth_url="https://consent.test/auth", **kw)


def test_google_connect_keeps_the_refresh_token_for_the_chosen_location(make_config, vault, clock, google_env):
    server = FakeOAuthServer(clock, client_id="g-client", client_secret="g-secret", scopes=GOOGLE_SCOPE)
    ui = ScriptedUI(server)
    asyncio.run(run_connect("google", google_config(make_config), vault, ui, paste=True,
                            transport=platform_api(server, google_routes()), clock=clock))
    stored = vault.load("google", "accounts/1/locations/2")
    assert stored.label.startswith("Little Acorns Nursery") and server.refresh[stored.secret["refresh_token"]]
    consent_url = next(line for line in ui.said if "consent.test" in line)
    assert "access_type=offline" in consent_url and "code_challenge=" in consent_url and "business.manage" in consent_url


def test_google_connect_after_a_refused_consent_stores_nothing(make_config, vault, clock, google_env):
    server = FakeOAuthServer(clock, client_id="g-client", client_secret="g-secret", scopes=GOOGLE_SCOPE)
    with pytest.raises(ConsentRefused, match="access_denied"):
        asyncio.run(run_connect("google", google_config(make_config), vault, ScriptedUI(server, refuse=True),
                                paste=True, transport=platform_api(server, google_routes()), clock=clock))
    assert vault.load("google", "accounts/1/locations/2") is None


def test_google_connect_without_business_manage_says_what_it_costs(make_config, vault, clock, google_env):
    server = FakeOAuthServer(clock, client_id="g-client", client_secret="g-secret", scopes=GOOGLE_SCOPE)
    with pytest.raises(ConnectError, match="did not grant .*business.manage.*Google reviews cannot be read"):
        asyncio.run(run_connect("google", google_config(make_config), vault, ScriptedUI(server, scopes="openid"),
                                paste=True, transport=platform_api(server, google_routes()), clock=clock))


def test_x_connect_through_the_loopback_redirect_keeps_a_refresh_token(make_config, vault, clock, monkeypatch):
    monkeypatch.setenv("X_CLIENT_ID", "x-client")
    server = FakeOAuthServer(clock, client_id="x-client", client_secret=None, rotate=True,
                             scopes="tweet.read users.read tweet.moderate.write offline.access")
    routes = {"/2/users/me": {"data": {"id": "99", "username": "littleacorns"}}}
    config = config_for(make_config, platform="x", id="99", api_base="https://x.test/2",
                        token_url="https://x.test/2/oauth2/token", auth_url="https://x.test/i/oauth2/authorize")
    ui = ScriptedUI(server, browser=True)
    asyncio.run(run_connect("x", config, vault, ui, transport=platform_api(server, routes), clock=clock))
    stored = vault.load("x", "99")
    assert stored.label == "@littleacorns" and stored.secret["refresh_token"] in server.refresh


def test_no_code_token_or_secret_from_a_connect_is_shown_logged_or_stored_in_clear(make_config, vault, clock,
                                                                                   google_env, sessions, caplog):
    import logging

    from sqlalchemy import MetaData

    caplog.set_level(logging.DEBUG)
    server = FakeOAuthServer(clock, client_id="g-client", client_secret="g-secret", scopes=GOOGLE_SCOPE)
    ui = ScriptedUI(server)
    asyncio.run(run_connect("google", google_config(make_config), vault, ui, paste=True,
                            transport=platform_api(server, google_routes()), clock=clock))
    codes = [x for x in server.issued if x.startswith("code-")]
    assert codes, "the flow used an authorisation code"
    with sessions() as s:
        tables = MetaData()
        tables.reflect(bind=s.get_bind())
        dump = " ".join(str(v) for t in tables.sorted_tables for row in s.execute(t.select()) for v in row)
    shown = "\n".join(ui.said)
    for secret in server.issued + ["g-secret"]:
        assert secret not in caplog.text and secret not in dump and secret not in shown
