"""A safe first run: history becomes one summary email; anything newer is alerted as usual."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from alerts.escalation import run_escalations
from monitor.core.models import Alert, Item, OutboxMessage
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from tests.monitor.helpers import Keywords, Scripted


@pytest.fixture
def page(make_config, smtp_server, sessions, clock):
    connector, classifier = Scripted(), Keywords()
    rt = build_runtime(make_config(smtp_port=smtp_server.port), clock=clock, sessions=sessions,
                       classifier=classifier)
    (account_id,) = rt.connectors
    rt.connectors[account_id] = connector
    yield rt, connector
    asyncio.run(rt.aclose())


def mails(smtp_server, kind_word: str | None = None):
    return [m for _f, _to, m in smtp_server.handler.messages if kind_word is None or kind_word in m["Subject"]]


def test_a_first_run_summarises_old_flagged_comments_in_one_email_and_alerts_only_new_ones(page, smtp_server, clock):
    rt, connector = page
    for n in range(30):  # two months of history, a few of them worrying
        text = "a bruise on her arm" if n % 10 == 0 else "lovely trip to the farm"
        connector.post(f"old-{n}", text, clock() - timedelta(days=60 - 2 * n))
    connector.post("new-1", "he came home with a bruise again", clock() - timedelta(hours=2))

    report = asyncio.run(run_cycle(rt))

    assert report.classified == 31 and report.backfilled == 30 and report.alerts == 1 and report.summaries == 1
    summaries = mails(smtp_server, "What we found")
    assert sorted(m["To"] for m in summaries) == ["dsl@example.org", "manager@example.org"]
    body = summaries[0].get_body(("plain",)).get_content()
    assert "last 59 days" in body and "30 comments" in body and "3 comments may need a look" in body
    for n in (0, 10, 20):
        assert f"https://example.org/old-{n}" in body
    assert "bruise" not in body  # links and dates, never the comment text
    alerts = [m for m in mails(smtp_server) if "What we found" not in m["Subject"]]
    assert {m["To"] for m in alerts} == {"dsl@example.org"}  # the new one only, by its normal route
    assert len(alerts) == 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Alert.id))) == 1
        assert s.scalar(select(func.count(Item.id)).where(Item.backfill.is_(True))) == 30


def test_history_is_never_escalated_and_the_summary_goes_once(page, smtp_server, clock):
    rt, connector = page
    connector.post("old-1", "a bruise on her arm", clock() - timedelta(days=30))
    asyncio.run(run_cycle(rt))
    sent = len(mails(smtp_server))

    clock.advance(hours=6)
    run_escalations(rt.sessions, rt.alert_env, clock())
    report = asyncio.run(run_cycle(rt))

    assert report.summaries == 0 and len(mails(smtp_server)) == sent
    with rt.sessions() as s:
        assert s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "backfill")) == 2


def test_an_old_comment_found_after_the_first_run_is_alerted_normally(page, smtp_server, clock):
    rt, connector = page
    connector.post("old-1", "lovely trip to the farm", clock() - timedelta(days=30))
    asyncio.run(run_cycle(rt))

    clock.advance(minutes=5)  # a reply the platform shows late, dated three days ago
    connector.post("late-1", "a bruise on her arm", clock() - timedelta(days=3))
    report = asyncio.run(run_cycle(rt))

    assert report.alerts == 1 and report.backfilled == 0 and report.summaries == 0


def test_after_an_outage_longer_than_the_horizon_history_is_summarised_again(page, smtp_server, clock):
    rt, connector = page
    connector.post("old-1", "lovely trip to the farm", clock() - timedelta(days=20))
    asyncio.run(run_cycle(rt))  # first run: only harmless history, an all-clear summary
    assert len(mails(smtp_server, "nothing that needs you")) == 2
    clock.advance(days=3)  # the server was off for three days
    connector.post("gap-1", "a bruise on her arm", clock() - timedelta(days=2))
    connector.post("new-1", "a bruise on his leg", clock() - timedelta(hours=1))

    report = asyncio.run(run_cycle(rt))

    assert report.backfilled == 1 and report.alerts == 1 and report.summaries == 1
    assert len(mails(smtp_server, "1 comment to look at")) == 2


def test_a_first_poll_that_fails_part_way_keeps_its_horizon_and_summarises_when_complete(page, smtp_server, clock):
    rt, connector = page
    connector.post("old-1", "a bruise on her arm", clock() - timedelta(days=10))
    real_fetch = connector.fetch

    async def broken(cursors):
        from connectors.base import TemporaryFailure

        async for batch in real_fetch(cursors):
            yield batch
        raise TemporaryFailure("connection reset")

    connector.fetch = broken
    report = asyncio.run(run_cycle(rt))
    assert report.failed_accounts and report.summaries == 0 and report.backfilled == 1

    connector.fetch = real_fetch
    clock.advance(hours=30)  # the horizon is kept from the first attempt
    connector.post("new-1", "a bruise on his leg", clock() - timedelta(hours=26))
    report = asyncio.run(run_cycle(rt))

    assert report.summaries == 1 and report.alerts == 1


def test_a_new_account_with_no_history_gets_no_summary(page, smtp_server, clock):
    rt, connector = page
    connector.post("new-1", "lovely trip to the farm", clock() - timedelta(hours=1))

    report = asyncio.run(run_cycle(rt))

    assert report.summaries == 0 and mails(smtp_server) == []


def test_a_long_history_lists_the_most_urgent_hundred_safeguarding_first_and_counts_the_rest():
    from datetime import datetime, timezone
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from alerts.backfill import LISTED, backfill_context
    from alerts.channels.email.render import render

    start = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)

    def flagged(n, category):
        return {"platform": "facebook", "kind": "comment", "created_at": start + timedelta(hours=n),
                "permalink": f"https://example.org/{category}-{n}", "categories": [category]}

    found = [flagged(n, "safeguarding") for n in range(3)]  # the oldest of all
    found += [flagged(n, "criticism") for n in range(10, 140)]
    env = SimpleNamespace(timezone=ZoneInfo("Europe/London"), setting_name="Willowbrook Day Nursery")
    context = backfill_context(env, account_name="Willowbrook", platform="facebook", found=found, checked=5000,
                               since=start, until=start + timedelta(days=60))

    listed = [f["url"] for f in context["found"]]
    assert len(listed) == LISTED == 100
    assert listed[:3] == [f"https://example.org/safeguarding-{n}" for n in (2, 1, 0)]
    assert listed[3] == "https://example.org/criticism-139"  # newest first after them
    assert context["unlisted"] == 33 and context["unlisted_by_label"] == [("Criticism of the setting", 33)]

    subject, text, html = render("backfill", context | {"roles": "manager"})
    assert subject.endswith("133 comments to look at")
    assert "133 comments may need a look (the 100 most urgent are listed, safeguarding first)" in text
    assert "33 more, too many for one email, are not listed: 33 criticism of the setting." in text
    assert "33 more, too many for one email" in html
