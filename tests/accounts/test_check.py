"""`check --online`: each warning, a bad token and a refused SMTP login fail it."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerts.testing import FakeClock, ScriptedHandler, free_port
from monitor.accounts.check import run_check
from monitor.core.settings import config_from_dict
from tests.conftest import base_settings

GOOD = "https://watch.acorns.example"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))


def _auth(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_auth(monkeypatch):
    controller = Controller(ScriptedHandler(), hostname="127.0.0.1", port=free_port(), authenticator=_auth,
                            auth_require_tls=False)
    controller.start()
    monkeypatch.setenv("NW_SMTP_USER", "mailer")
    monkeypatch.setenv("NW_SMTP_PASS", "s3cret")
    yield controller.port
    controller.stop()


def config(db_url, tmp_path, smtp_port=None, *, web=None, setting=None, email=None, accounts=None):
    data = base_settings(db_url, tmp_path, smtp_port)
    data["web"] = web or {"base_url": GOOD}
    if setting:
        data["setting"] |= setting
    if smtp_port:
        data["email"] |= {"smtp_username_env": "NW_SMTP_USER", "smtp_password_env": "NW_SMTP_PASS"}
    data["email"] |= email or {}
    if accounts is not None:
        data["accounts"] = accounts
    return config_from_dict(data)


def graph(valid_token: str):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {valid_token}":
            return httpx.Response(400, json={"error": {"message": "Error validating access token", "code": 190,
                                                       "error_subcode": 463, "type": "OAuthException"}})
        return httpx.Response(200, json={"id": "1000", "name": "Little Acorns"})
    return httpx.MockTransport(handler)


def levels(lines, level):
    return [str(line) for line in lines if line.level == level]


def check(cfg, clock, vault=None, online=True, transport=None):
    return asyncio.run(run_check(cfg, vault, online=online, clock=clock, transport=transport))


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_working_setup_passes_with_what_is_watched(db_url, tmp_path, clock, smtp_auth, monkeypatch):
    monkeypatch.setenv("FB_TOKEN", "page-token")
    cfg = config(db_url, tmp_path, smtp_auth, accounts=[{"platform": "facebook", "id": "1000", "token_env": "FB_TOKEN",
                                                         "api_base": "https://graph.test/v25.0"}])
    lines = check(cfg, clock, transport=graph("page-token"))
    assert levels(lines, "fail") == []
    assert any("watching Little Acorns" in line for line in levels(lines, "ok"))
    assert any("logged in" in line for line in levels(lines, "ok"))


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_bad_token_fails_the_check_and_names_the_fix(db_url, tmp_path, clock, smtp_auth, monkeypatch):
    monkeypatch.setenv("FB_TOKEN", "expired-token")
    cfg = config(db_url, tmp_path, smtp_auth, accounts=[{"platform": "facebook", "id": "1000", "token_env": "FB_TOKEN",
                                                         "api_base": "https://graph.test/v25.0"}])
    fails = levels(check(cfg, clock, transport=graph("page-token")), "fail")
    assert len(fails) == 1 and "refused" in fails[0] and "put a new token in FB_TOKEN" in fails[0]
    assert "expired-token" not in " ".join(fails)


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_a_refused_smtp_login_fails_the_check(db_url, tmp_path, clock, smtp_auth, monkeypatch):
    monkeypatch.setenv("NW_SMTP_PASS", "wrong")
    fails = levels(check(config(db_url, tmp_path, smtp_auth), clock), "fail")
    assert fails == ["FAIL email: 127.0.0.1:%d: login refused (535): check NW_SMTP_USER and NW_SMTP_PASS" % smtp_auth]


def test_no_smtp_server_means_nobody_is_emailed(db_url, tmp_path, clock):
    assert any("nobody is emailed" in f for f in levels(check(config(db_url, tmp_path), clock), "fail"))


@pytest.mark.parametrize("change, expected", [
    ({"web": {"base_url": "http://127.0.0.1:8080"}}, "open only on the server"),
    ({"web": {"base_url": "http://localhost:8080"}}, "open only on the server"),
    ({"web": {"base_url": "http://watch.acorns.example"}}, "plain http"),
    ({"setting": {"timezone": "GMT"}}, "'GMT' is not a region"),
    ({"setting": {"timezone": "UTC"}}, "'UTC' is not a region"),
    ({"email": {"from": "nurserywatch@localhost"}}, "has no real domain"),
])
def test_each_offline_warning_is_given(db_url, tmp_path, clock, change, expected):
    warnings = levels(check(config(db_url, tmp_path, **change), clock, online=False), "warn")
    assert any(expected in w for w in warnings), warnings


def test_a_short_signing_key_is_a_failure(db_url, tmp_path, clock, monkeypatch):
    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", "0123456789")
    assert any("10 characters" in f for f in levels(check(config(db_url, tmp_path), clock, online=False), "fail"))


def test_a_clean_configuration_has_no_warnings(db_url, tmp_path, clock):
    assert levels(check(config(db_url, tmp_path), clock, online=False), "warn") == []


def test_an_x_app_only_token_watches_read_only_and_says_hiding_is_unavailable(db_url, tmp_path, clock, monkeypatch):
    monkeypatch.setenv("X_BEARER", "app-bearer")

    def x(request):
        if request.url.path == "/2/users/me":
            return httpx.Response(403, json={"title": "Unsupported Authentication", "status": 403, "type": "about:blank",
                                             "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."})
        return httpx.Response(200, json={"data": {"id": "99", "username": "littleacorns"}})
    cfg = config(db_url, tmp_path, accounts=[{"platform": "x", "id": "99", "token_env": "X_BEARER",
                                              "api_base": "https://x.test/2"}])
    lines = check(cfg, clock, transport=httpx.MockTransport(x))
    assert any("app-only bearer token, valid; watching @littleacorns read-only" in line for line in levels(lines, "ok"))
    assert any("cannot hide replies" in line for line in levels(lines, "warn"))


def test_a_connected_page_is_checked_with_the_permissions_granted_at_connect(db_url, tmp_path, clock, sessions,
                                                                            monkeypatch):
    from monitor.accounts.vault import Credential, Vault
    from monitor.core.store import sync_config

    for name in ("META_APP_ID", "META_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    cfg = config(db_url, tmp_path, accounts=[{"platform": "facebook", "id": "1000", "api_base": "https://graph.test/v25.0"}])
    with sessions.begin() as s:
        vault = Vault(sessions, sync_config(s, cfg).id)
    vault.save(Credential("facebook", "1000", "page", {"access_token": "page-token", "grant_id": "g"}, label="Little Acorns",
                          scopes=["pages_show_list", "pages_read_engagement", "pages_read_user_content"]), clock())
    lines = check(cfg, clock, vault=vault, transport=graph("page-token"))
    assert any("as granted at connect" in line and "watching Little Acorns" in line for line in levels(lines, "ok"))
    assert any("missing permission pages_manage_engagement" in w for w in levels(lines, "warn"))
    assert not any("1000" in f for f in levels(lines, "fail"))


@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")
def test_the_check_command_exits_non_zero_on_a_refused_smtp_login_and_zero_when_all_works(db_url, tmp_path,
                                                                                          smtp_auth, monkeypatch, capsys):
    from monitor.cli.main import main

    path = tmp_path / "c.toml"
    path.write_text(f"""
[setting]
name = "Willowbrook"
[database]
url = "{db_url}"
[web]
base_url = "https://watch.acorns.example"
[email]
from = "alerts@acorns.example"
smtp_host = "127.0.0.1"
smtp_port = {smtp_auth}
smtp_starttls = false
smtp_username_env = "NW_SMTP_USER"
smtp_password_env = "NW_SMTP_PASS"
[[recipients]]
name = "Jo"
email = "jo@acorns.example"
roles = ["manager", "dsl"]
[[accounts]]
platform = "demo"
id = "page-1"
""")
    assert main(["check", "--config", str(path), "--online"]) == 0
    assert "0 failure(s)" in capsys.readouterr().out
    monkeypatch.setenv("NW_SMTP_PASS", "wrong")
    assert main(["check", "--config", str(path), "--online"]) == 1
    assert "login refused" in capsys.readouterr().out
