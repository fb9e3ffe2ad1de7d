"""Mentions beyond the setting's own pages, end to end: an X search hit, a feed entry and a
forwarded email each become an alert that says where it was found and to report it (no hide)."""
from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import respx
import trustme
from sqlalchemy import select

from monitor.core.models import Alert, Item
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from tests.connectors.imap_server import Mailbox, serve
from tests.connectors.test_feeds import FORUM_RSS
from tests.connectors.test_mailbox import mail

FEED = "https://hadleigh-forum.example/search.rss?q=willowbrook"
X_POSTS = {
    "data": [{"id": "1861000000000000003", "author_id": "11", "created_at": "2026-11-23T08:40:00.000Z",
              "text": "At Willowbrook in Hadleigh a staff member slapped a toddler, my friend saw it"}],
    "includes": {"users": [{"id": "11", "name": "A Parent", "username": "aparent"}]},
    "meta": {"newest_id": "1861000000000000003", "result_count": 1},
}


@pytest.fixture
def mailbox(tmp_path):
    ca = trustme.CA()
    box = Mailbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server, port = serve(box, context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield box, port, str(ca_file)
    server.shutdown()
    server.server_close()


@respx.mock
def test_items_found_elsewhere_alert_with_report_guidance_and_no_hide(make_config, smtp_server, sessions, clock,
                                                                      monkeypatch, mailbox):
    box, port, ca_file = mailbox
    box.add(mail("jo@willowbrook.example", "Fwd: from the closed parents group",
                 "Posted in the group: my daughter has a bruise on her arm and said a teacher grabbed her"))
    box.add(mail("someone@elsewhere.example", "hello", "a teacher grabbed my child"))  # not allowed: ignored
    respx.get(FEED).mock(return_value=httpx.Response(200, content=FORUM_RSS))
    respx.get("https://x.test/2/tweets/search/recent").mock(return_value=httpx.Response(200, json=X_POSTS))
    monkeypatch.setenv("MAIL_PASSWORD", box.password)
    monkeypatch.setenv("X_TOKEN", "x-token")
    config = make_config(smtp_port=smtp_server.port, accounts=[
        {"platform": "x_search", "id": "willowbrook", "token_env": "X_TOKEN", "api_base": "https://x.test/2"},
        {"platform": "feeds", "id": "forum", "options": {"url": FEED}},
        {"platform": "mailbox", "id": "forwarded", "token_env": "MAIL_PASSWORD",
         "options": {"host": "127.0.0.1", "port": port, "username": box.username, "allow": ["jo@willowbrook.example"],
                     "ca_file": ca_file}},
    ])
    assert config.accounts[0].options.names == ["Willowbrook Day Nursery"]  # from [setting]
    assert config.accounts[0].options.town == "Hadleigh"
    rt = build_runtime(config, clock=clock, sessions=sessions)
    report = asyncio.run(run_cycle(rt))
    asyncio.run(rt.aclose())

    assert report.failed_accounts == []
    with sessions() as s:
        items = {i.platform: i for i in s.scalars(select(Item))}
        assert set(items) == {"x_search", "feeds", "mailbox"}
        assert items["mailbox"].source == "email forwarded by jo@willowbrook.example"
        assert all(i.can_hide is False for i in items.values())
        alerted = {s.get(Item, a.item_id).platform for a in s.scalars(select(Alert))}
    assert {"x_search", "mailbox"} <= alerted
    mails = [m for _f, _t, m in smtp_server.handler.messages if m["To"] == "dsl@example.org"]
    texts = [m.get_body(("plain",)).get_content() for m in mails]
    assert texts and all("is NOT on Willowbrook Day Nursery's own page" in t for t in texts)
    assert any("Found: email forwarded by jo@willowbrook.example" in t for t in texts)
    assert all("/h/" not in t for t in texts)
