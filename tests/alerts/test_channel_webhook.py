"""The webhook channel (Teams/Slack-style JSON POST), added as a module and a
config section only, tested against respx: what it posts carries fixed words
and the link, never a name or the comment; HTTP answers map to temporary and
permanent failures; the URL is a secret read from the environment."""
from __future__ import annotations

import json

import httpx
import pytest
import respx
from sqlalchemy import select

from alerts.channels import build_notifiers, channel_problems
from alerts.delivery import deliver_due
from alerts.testing import PEOPLE, make_config
from monitor.core.models import OutboxMessage
from monitor.core.settings import ConfigError

HOOK = "https://teams.example/webhook/secret-token"
COMMENT = "A member of staff grabbed my son by the arm"


@pytest.fixture
def hooked(new_world, monkeypatch):
    monkeypatch.setenv("NW_TEAMS_DSL", HOOK)
    people = [dict(p) for p in PEOPLE]
    people[0] = {**people[0], "addresses": {"webhook": "NW_TEAMS_DSL"}}  # Dana, the DSL
    world = new_world(recipients=people, channels={"webhook": {"timeout": "5s"}})
    return world


def webhook_rows(world):
    with world.sessions() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()


def deliver(world):
    return deliver_due(world.sessions, build_notifiers(world.config), world.clock, retry_for=3600)


def test_an_alert_is_posted_with_its_title_and_link_and_nothing_personal(hooked):
    hooked.raise_alert(COMMENT, evidence="grabbed my son", author="Karen Jones")
    with respx.mock:
        route = respx.post(HOOK).mock(return_value=httpx.Response(200))
        report = deliver(hooked)
    assert route.call_count == 1 and report.failed == 0
    body = json.loads(route.calls[0].request.content)
    title, link = body["text"].split("\n")
    assert title == "[nurserywatch] Safeguarding concern on your Facebook page"
    assert link.startswith("https://watch.acorns.example/a/")
    assert body["nurserywatch"]["kind"] == "alert"
    sent = json.dumps(body)
    for private in ("Karen", "grabbed", "son", "staff"):
        assert private not in sent
    assert [r.state for r in webhook_rows(hooked)] == ["sent"]


def test_a_server_error_is_retried_and_a_gone_webhook_fails_and_the_admin_is_told(hooked):
    hooked.raise_alert("x")
    with respx.mock(assert_all_called=False) as mock:
        mock.post(HOOK).mock(return_value=httpx.Response(503))
        mock.post().pass_through()
        deliver(hooked)
        (row,) = webhook_rows(hooked)
        assert (row.state, row.attempts) == ("pending", 1) and "HTTP 503" in row.last_error

        mock.post(HOOK).mock(return_value=httpx.Response(404))
        hooked.clock.advance(minutes=5)
        report = deliver(hooked)
    (row,) = webhook_rows(hooked)
    assert row.state == "failed" and "HTTP 404" in row.last_error and "secret-token" not in row.last_error
    assert report.failed == 1
    with hooked.sessions() as s:
        notices = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "delivery_failed")).all()
    assert [n.address for n in notices] == ["jo@acorns.example"]


def test_a_plain_http_webhook_url_is_refused(hooked, monkeypatch):
    monkeypatch.setenv("NW_TEAMS_DSL", "http://teams.example/webhook/secret-token")
    hooked.raise_alert("x")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post().mock(return_value=httpx.Response(200))
        deliver(hooked)
    (row,) = webhook_rows(hooked)
    assert route.call_count == 0 and row.state == "failed" and "must start with https://" in row.last_error


def test_a_webhook_url_written_into_the_config_is_refused(tmp_path):
    people = [dict(p) for p in PEOPLE]
    people[0] = {**people[0], "addresses": {"webhook": HOOK}}
    config = make_config(tmp_path, "sqlite:///unused.db", recipients=people, channels={"webhook": {}})
    with pytest.raises(ConfigError, match=r"recipients\[0\]\.addresses\.webhook: give the NAME"):
        build_notifiers(config)


def test_check_config_names_an_unknown_option_of_a_channel(tmp_path):
    config = make_config(tmp_path, "sqlite:///unused.db", channels={"webhook": {"colour": "red"}})
    assert channel_problems(config) == ["channels.webhook.colour: Extra inputs are not permitted"]
