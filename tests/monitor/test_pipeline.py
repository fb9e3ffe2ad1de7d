"""The whole cycle, connector to delivered email, over real SMTP."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

import monitor.pipeline as pipeline
from alerts.channels.email.transport import SmtpTransport
from monitor.core.models import Alert, Cursor, Item, OutboxMessage
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime


def cycle(rt):
    return asyncio.run(run_cycle(rt))


def parsed(received):
    return [msg for _from, _to, msg in received]


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def runtime(make_config, smtp_server, sessions, clock):
    rt = build_runtime(make_config(smtp_port=smtp_server.port), clock=clock, sessions=sessions)
    yield rt
    asyncio.run(rt.aclose())


def test_a_cycle_takes_a_disclosure_from_connector_to_the_dsl_inbox(runtime, smtp_server):
    report = cycle(runtime)

    assert report.stored == 12 and report.classified == 12
    mails = parsed(smtp_server.handler.messages)
    to_dsl = [m for m in mails if m["To"] == "dsl@example.org" and "Safeguarding" in m["Subject"]]
    assert to_dsl, [m["Subject"] for m in mails]
    body = to_dsl[0].get_body(("plain",)).get_content()
    assert "bruise" in body
    assert "http://127.0.0.1:8080/a/" in body
    with runtime.sessions() as s:
        benign = s.scalar(select(Item).where(Item.external_id == "demo-0"))
        assert s.scalar(select(Alert).where(Alert.item_id == benign.id)) is None
        disclosure = s.scalar(select(Item).where(Item.external_id == "demo-1"))
        alert = s.scalar(select(Alert).where(Alert.item_id == disclosure.id))
        assert "safeguarding" in alert.categories
        assert alert.message_id == to_dsl[0]["Message-ID"]


def test_subjects_carry_no_names_or_comment_text(runtime, smtp_server):
    cycle(runtime)
    with runtime.sessions() as s:
        texts = [i.text for i in s.scalars(select(Item))]
    for m in parsed(smtp_server.handler.messages):
        assert m["Subject"].startswith("[nurserywatch] ")
        for word in ("Amelia", "Hart", "Oliver", "Sarah", "bruise", "07700"):
            assert word not in m["Subject"]
        assert not any(t[:20] in m["Subject"] for t in texts)


def test_a_second_cycle_sends_nothing_twice(runtime, smtp_server, sessions):
    cycle(runtime)
    sent = len(smtp_server.handler.messages)
    alerts = count(sessions, Alert)

    report = cycle(runtime)

    assert report.stored == 0 and report.alerts == 0 and report.sent == 0
    assert len(smtp_server.handler.messages) == sent
    assert count(sessions, Alert) == alerts


def test_fetching_the_same_comments_again_stores_and_alerts_them_once(runtime, smtp_server, sessions):
    cycle(runtime)
    sent = len(smtp_server.handler.messages)
    with sessions.begin() as s:  # forget the cursor: the connector replays everything
        s.query(Cursor).delete()

    report = cycle(runtime)

    assert report.fetched == 12 and report.stored == 0
    assert count(sessions, Item) == 12
    assert len(smtp_server.handler.messages) == sent


def test_a_crash_after_storing_is_recovered_with_nothing_lost_or_doubled(make_config, smtp_server, sessions, clock):
    config = make_config(smtp_port=smtp_server.port)
    rt = build_runtime(config, clock=clock, sessions=sessions)

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "classify_pending", crash)
        with pytest.raises(RuntimeError):
            cycle(rt)
    assert count(sessions, Item) == 12 and count(sessions, Alert) == 0
    assert smtp_server.handler.messages == []

    restarted = build_runtime(config, clock=clock, sessions=sessions)  # a new process
    report = cycle(restarted)

    assert report.stored == 0 and report.classified == 12 and report.alerts > 0
    with sessions() as s:
        outbox = s.scalars(select(OutboxMessage)).all()
    assert len(smtp_server.handler.messages) == len(outbox) == report.sent
    assert len({(o.alert_id, o.recipient_id) for o in outbox}) == len(outbox)


def test_a_crash_between_queueing_and_sending_is_recovered(make_config, smtp_server, sessions, clock):
    config = make_config(smtp_port=smtp_server.port)
    rt = build_runtime(config, clock=clock, sessions=sessions)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "deliver", lambda rt, report: (_ for _ in ()).throw(RuntimeError("killed")))
        with pytest.raises(RuntimeError):
            cycle(rt)
    queued = count(sessions, OutboxMessage)
    assert queued > 0 and smtp_server.handler.messages == []

    cycle(build_runtime(config, clock=clock, sessions=sessions))
    cycle(build_runtime(config, clock=clock, sessions=sessions))

    assert len(smtp_server.handler.messages) == queued


def test_the_cursor_does_not_move_when_storing_fails(runtime, sessions):
    def broken_store(session, account, batch, now):
        session.add(Cursor(setting_id=account.setting_id, account_id=account.id, stream="comments", parent="",
                           value={"next": 99}, updated_at=now))
        raise RuntimeError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "store_batch", broken_store)
        failed = cycle(runtime)
    assert failed.failed_accounts and failed.stored == 0
    assert count(sessions, Cursor) == 0 and count(sessions, Item) == 0

    report = cycle(runtime)
    assert report.stored == 12


def test_an_smtp_outage_loses_nothing(make_config, smtp_server, sessions, clock):
    config = make_config(smtp_port=smtp_server.port)
    rt = build_runtime(config, clock=clock, sessions=sessions,
                       transport=SmtpTransport("127.0.0.1", 1, starttls=False, timeout=2))  # nothing listens on port 1
    report = cycle(rt)
    assert report.alerts > 0 and report.sent == 0
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage)).all()
    assert rows and all(r.state == "pending" and r.attempts == 1 and r.last_error for r in rows)

    clock.advance(hours=20)  # a long outage, then the server is back
    recovered = build_runtime(config, clock=clock, sessions=sessions)
    cycle(recovered)
    assert len(smtp_server.handler.messages) == len(rows)


class Poisoned:
    """The real classifier, except that it raises on one comment (a classifier bug)."""

    def __init__(self, real, poison: str):
        self.real, self.poison = real, poison

    def classify(self, text, platform=None, rating=None):
        return self.classify_batch([(text, platform, rating)])[0]

    def classify_batch(self, items):
        if any(self.poison in (it.text if hasattr(it, "text") else it[0]) for it in items):  # a Comment or a tuple
            raise ValueError("classifier bug")
        return self.real.classify_batch(items)


def test_a_comment_that_breaks_the_classifier_is_marked_for_review_and_the_rest_go_on(
    make_config, smtp_server, sessions, clock
):
    from classifiers import build_classifier

    config = make_config(smtp_port=smtp_server.port)
    poisoned = Poisoned(build_classifier(config.setting, config.roster), "open day")
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=poisoned)

    report = cycle(rt)

    assert report.classified == 12
    with sessions() as s:
        items = {i.external_id: i for i in s.scalars(select(Item))}
        assert all(i.classified_at is not None for i in items.values())
        assert items["demo-2"].needs_review and not items["demo-0"].needs_review
    assert any(m["To"] == "dsl@example.org" and "Safeguarding" in m["Subject"]
               for m in parsed(smtp_server.handler.messages))
    assert cycle(rt).classified == 0  # not retried for ever
