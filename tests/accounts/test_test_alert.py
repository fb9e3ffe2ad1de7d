"""`test-alert`: a marked test alert through the real route, with a link that opens."""
from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from alerts.channels.email.transport import SmtpTransport
from monitor.accounts.testalert import send_test_alert
from monitor.core.models import Alert
from monitor.core.settings import ConfigError
from monitor.web import WebDeps, create_app
from alerts.service import AlertEnv


def open_link(sessions, config, clock, setting_id, url):
    env = AlertEnv.from_config(config, setting_id, "test-secret-key-0123456789abcdef")
    app = create_app(WebDeps(sessions, env, clock))

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=config.web.base_url) as c:
            return await c.get(url)
    return asyncio.run(go())


def test_a_test_alert_reaches_the_routed_people_marked_and_its_link_opens(make_config, sessions, clock, smtp_server):
    config = make_config(smtp_port=smtp_server.port)
    transport = SmtpTransport("127.0.0.1", smtp_server.port, starttls=False)
    alert_id, sent_to = send_test_alert(config, sessions, transport, clock)
    got = smtp_server.handler.messages
    assert sent_to and sorted(rcpts[0] for _f, rcpts, _m in got) == sorted(sent_to)
    msg = got[0][2]
    assert msg["Subject"].startswith("[TEST] ")
    text = msg.get_body(("plain",)).get_content()
    assert "This is a »TEST alert« from nurserywatch" in text
    link = re.search(r"acknowledge\): (\S+)", text).group(1)
    with sessions() as s:
        alert = s.get(Alert, alert_id)
        assert alert.next_escalation_at is None
        setting_id = alert.setting_id
    page = open_link(sessions, config, clock, setting_id, link)
    assert page.status_code == 200 and "got this" in page.text


def test_a_test_alert_can_go_to_one_recipient_only(make_config, sessions, clock, smtp_server):
    config = make_config(smtp_port=smtp_server.port)
    transport = SmtpTransport("127.0.0.1", smtp_server.port, starttls=False)
    _, sent_to = send_test_alert(config, sessions, transport, clock, to="manager@example.org")
    assert sent_to == ["manager@example.org"]
    assert [rcpts for _f, rcpts, _m in smtp_server.handler.messages] == [["manager@example.org"]]


def test_a_test_alert_to_someone_not_configured_is_refused_by_name(make_config, sessions, clock):
    with pytest.raises(ConfigError, match="stranger@example.org: not a recipient"):
        send_test_alert(make_config(), sessions, None, clock, to="stranger@example.org")
