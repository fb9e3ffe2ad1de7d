"""Meta webhooks in a group: one app subscription, deliveries for any setting's Page
alert that setting's people."""
from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import select

from monitor.core.group import load_group
from monitor.core.models import Item, OutboxMessage, Setting, WebhookEvent
from monitor.runtime import build_group_runtime
from monitor.webhook_events import process_and_alert, queue_event
from tests.monitor.helpers import Keywords
from tests.monitor.test_group_runtime import write_group
from tests.monitor.test_webhooks import DISCLOSURE, PAGE, Graph, feed_change

FACEBOOK = f"""
[[accounts]]
platform = "facebook"
id = "{PAGE}"
token_env = "FB_TOKEN"
api_base = "https://graph.test/v21.0"
"""


def test_a_delivery_for_the_second_settings_page_alerts_that_settings_people(tmp_path, db_url, sessions, clock,
                                                                             monkeypatch):
    monkeypatch.setenv("FB_TOKEN", "page-token")
    path = write_group(tmp_path, db_url)
    oak = tmp_path / "settings.d" / "oak.toml"  # "elm" sorts first: oak is the second setting
    oak.write_text(oak.read_text() + FACEBOOK)
    graph = Graph(clock)
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords(),
                             http=httpx.AsyncClient(transport=httpx.MockTransport(graph)))
    try:
        assert [r.config.setting.key for r in rt.every_setting] == ["elm", "oak"]
        graph.comment("2001_3001", DISCLOSURE)
        with sessions.begin() as s:  # as the pages queue it: under the first setting
            queue_event(s, rt.setting_id, "meta", json.dumps(feed_change("2001_3001")).encode(), clock())

        report = asyncio.run(process_and_alert(rt))

        assert report.events == 1 and report.stored == 1 and report.failed == 0
        with sessions() as s:
            oak_id = s.scalar(select(Setting.id).where(Setting.key == "oak"))
            assert s.scalar(select(Item.setting_id).where(Item.external_id == "2001_3001")) == oak_id
            told = {m.address for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))}
            assert s.scalar(select(WebhookEvent.state)) == "done"
        assert told == {"oak.dsl@example.org"}
    finally:
        asyncio.run(rt.aclose())
