"""The web pages of a group: a person of two settings sees both, separated; a
setting's own people see only their setting; email links open in their setting."""
from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.core.group import load_group
from monitor.core.models import Alert, OutboxMessage, Setting
from monitor.pipeline import run_cycle
from monitor.runtime import build_group_runtime
from monitor.web import WebDeps, create_app
from tests.monitor.helpers import Keywords
from tests.monitor.test_group_digest import OWNER
from tests.monitor.test_group_runtime import scripted, write_group
from tests.monitor.webapp_helpers import csrf_of, request_link

BASE = "http://127.0.0.1:8080"


@pytest.fixture
def group_rt(tmp_path, db_url, sessions, clock):
    path = write_group(tmp_path, db_url)
    path.write_text(path.read_text() + OWNER)
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords())
    pages = scripted(rt)
    pages["oak"].post("o1", "my son came home with a bruise", clock())
    pages["elm"].post("e1", "a bruise on her arm", clock())
    asyncio.run(run_cycle(rt))
    yield rt
    asyncio.run(rt.aclose())


@pytest.fixture
def client(group_rt):
    deps = WebDeps(group_rt.sessions, group_rt.alert_env, group_rt.clock,
                   envs={r.setting_id: r.alert_env for r in group_rt.settings})
    return TestClient(create_app(deps), base_url=BASE, follow_redirects=False, client=("203.0.113.9", 50000))


def alert_of(rt, key: str) -> int:
    with rt.sessions() as s:
        return s.scalar(select(Alert.id).join(Setting, Setting.id == Alert.setting_id).where(Setting.key == key))


def sign_in(client: TestClient, rt, email: str) -> str:
    """Ask for a link, open it, press the button; where it lands."""
    assert request_link(client, email).status_code == 200
    with rt.sessions() as s:
        payload = s.scalar(select(OutboxMessage.payload).where(OutboxMessage.kind == "signin", OutboxMessage.address == email)
                           .order_by(OutboxMessage.id.desc()).limit(1))
    link = payload["context"]["url"].removeprefix(BASE)
    page = client.get(link)
    assert page.status_code == 200, page.text
    r = client.post(link, data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def sections(html: str) -> dict[str, str]:
    """Setting name -> the HTML of its section on the group page."""
    return {m.group(1): m.group(2) for m in re.finditer(r'<h2 id="setting-\d+">([^<]+)</h2>(.*?)</section>', html, re.S)}


def test_a_person_of_both_settings_sees_both_on_the_group_page_separated(client, group_rt):
    assert sign_in(client, group_rt, "owner@example.org") == "/group"
    page = client.get("/group")
    assert page.status_code == 200
    shown = sections(page.text)
    assert list(shown) == ["Elm Nursery", "Oak Nursery"] or list(shown) == ["Oak Nursery", "Elm Nursery"]
    assert f'name="alert" value="{alert_of(group_rt, "oak")}"' in shown["Oak Nursery"]
    assert f'name="alert" value="{alert_of(group_rt, "oak")}"' not in shown["Elm Nursery"]
    assert f'name="alert" value="{alert_of(group_rt, "elm")}"' in shown["Elm Nursery"]


@pytest.mark.parametrize("key", ["oak", "elm"])
def test_opening_an_alert_from_the_group_page_shows_it_in_its_setting(client, group_rt, key):
    sign_in(client, group_rt, "owner@example.org")
    alert_id = alert_of(group_rt, key)
    setting_id = next(r.setting_id for r in group_rt.settings if r.config.setting.key == key)
    token = csrf_of(client.get("/group").text)
    r = client.post("/group/open", data={"csrf": token, "setting": str(setting_id), "alert": str(alert_id)})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{alert_id}"
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert f"{key.title()} Nursery &middot; signed in as Olu Owner" in page.text
    inbox = client.get("/alerts").text
    assert f"/alerts/{alert_id}" in inbox


def test_a_settings_own_person_sees_only_their_setting(client, group_rt):
    sign_in(client, group_rt, "oak.dsl@example.org")
    assert list(sections(client.get("/group").text)) == ["Oak Nursery"]
    inbox = client.get("/alerts").text
    assert f"/alerts/{alert_of(group_rt, 'oak')}" in inbox
    assert f"/alerts/{alert_of(group_rt, 'elm')}" not in inbox
    assert client.get(f"/alerts/{alert_of(group_rt, 'elm')}").status_code == 404
    elm_id = next(r.setting_id for r in group_rt.settings if r.config.setting.key == "elm")
    token = csrf_of(client.get("/group").text)
    r = client.post("/group/open", data={"csrf": token, "setting": str(elm_id)})
    assert r.status_code == 404


def test_an_alert_emails_link_opens_in_the_alerts_own_setting(client, group_rt):
    for key in ("oak", "elm"):
        with group_rt.sessions() as s:
            payload = s.scalar(select(OutboxMessage.payload).where(
                OutboxMessage.kind == "alert", OutboxMessage.address == f"{key}.dsl@example.org"))
        page = client.get(payload["context"]["ack_url"].removeprefix(BASE))
        assert page.status_code == 200, page.text
        assert f"{key.title()} Nursery" in page.text


def test_a_settings_admin_sends_the_test_alert_in_their_own_setting(tmp_path, db_url, sessions, clock, monkeypatch):
    """The running service's button (monitor.daemon.make_web_server): the [TEST] alert is
    the admin's own setting's, not the group's first setting's."""
    from monitor.daemon import make_web_server
    from tests.monitor.webapp_helpers import post_form

    monkeypatch.setenv("NURSERYWATCH_SECRET_KEY", "test-secret-key-0123456789abcdef")
    path = write_group(tmp_path, db_url)
    oak_file = tmp_path / "settings.d" / "oak.toml"
    oak_file.write_text(oak_file.read_text().replace(
        '[[accounts]]', '[[recipients]]\nname = "Ola Admin"\nemail = "oak.admin@example.org"\nroles = ["admin"]\n'
                        '[[accounts]]'))
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords())
    assert [r.config.setting.key for r in rt.settings][0] == "elm"  # oak is not the first setting
    app = make_web_server(rt, "127.0.0.1", 0).config.app
    with TestClient(app, base_url=BASE, follow_redirects=False, client=("203.0.113.9", 50000)) as client:
        sign_in(client, rt, "oak.admin@example.org")
        r = post_form(client, "/admin", "/admin/test-alert")
        assert r.status_code == 200, r.text
        assert "[TEST] alert was sent to oak.admin@example.org" in r.text
    asyncio.run(rt.aclose())
    with rt.sessions() as s:
        tests = [(m.address, m.setting_id) for m in s.scalars(select(OutboxMessage))
                 if (m.payload or {}).get("context", {}).get("test")]
        oak = s.scalar(select(Setting.id).where(Setting.key == "oak"))
    assert tests == [("oak.admin@example.org", oak)]
