"""Edits, hides and deletions made on Facebook are noticed by the periodic re-read."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from monitor.core.models import Alert, AuditEvent, Item
from monitor.pipeline import run_cycle
from monitor.recheck import RECHECK_EVERY
from monitor.runtime import build_runtime

CONCERN = "Miss Sarah shouted at my son and grabbed his arm at pick up, he came home with bruises"
KIND = "Lovely autumn photos, thank you"


class Page:
    """The Graph API for one Page: one post with comments whose text, hiding and existence can change."""

    def __init__(self, now):
        self.now = now
        self.comments = {}  # id -> {"message", "is_hidden"}

    def _time(self, hours: float) -> str:
        return (self.now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S+0000")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, q = request.url.path, request.url.params
        if path == "/v21.0/1000/feed":
            data = [{"id": cid, "created_time": self._time(1), "from": {"id": "7", "name": "A Parent"}, **c}
                    for cid, c in self.comments.items()]
            return httpx.Response(200, json={"data": [{"id": "1000_1", "created_time": self._time(2),
                                                       "message": "Autumn walk", "comments": {"data": data}}]})
        if path == "/v21.0/":
            ids = q["ids"].split(",")
            if any(i not in self.comments for i in ids):
                return httpx.Response(400, json={"error": {"code": 100, "message": "(#100) Some of the aliases "
                                                           "you requested do not exist"}})
            return httpx.Response(200, json={i: {"id": i, **self.comments[i]} for i in ids})
        cid = path.rsplit("/", 1)[-1]
        if cid in self.comments:
            return httpx.Response(200, json={"id": cid, **self.comments[cid]})
        return httpx.Response(400, json={"error": {"code": 100, "error_subcode": 33, "message": "does not exist"}})


@pytest.fixture
def setup(make_config, sessions, clock, monkeypatch):
    monkeypatch.setenv("FB_TOKEN", "page-token")
    page = Page(clock.now)
    config = make_config(accounts=[{"platform": "facebook", "id": "1000", "token_env": "FB_TOKEN",
                                    "api_base": "https://graph.test/v21.0"}])
    rt = build_runtime(config, clock=clock, sessions=sessions,
                       http=httpx.AsyncClient(transport=httpx.MockTransport(page)))
    return page, rt, sessions


def cycle(rt, clock):
    clock.advance(minutes=RECHECK_EVERY.total_seconds() / 60 + 1)
    return asyncio.run(run_cycle(rt))


def notes(sessions, alert_id):
    with sessions() as s:
        return [e.detail["note"] for e in s.scalars(select(AuditEvent).where(
            AuditEvent.alert_id == alert_id, AuditEvent.action == "note").order_by(AuditEvent.id))]


def test_an_edit_that_adds_a_concern_raises_an_alert(setup, clock):
    page, rt, sessions = setup
    page.comments["1000_1_1"] = {"message": KIND, "is_hidden": False}
    assert cycle(rt, clock).alerts == 0
    page.comments["1000_1_1"]["message"] = CONCERN
    report = cycle(rt, clock)
    with sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "1000_1_1"))
        alert = s.scalar(select(Alert).where(Alert.item_id == item.id))
    assert item.text == CONCERN and report.alerts == 1
    assert alert is not None and "safeguarding" in alert.categories


def test_an_edit_that_removes_the_concern_and_a_hide_and_a_deletion_are_noted_on_the_alerts(setup, clock):
    page, rt, sessions = setup
    page.comments["1000_1_1"] = {"message": CONCERN, "is_hidden": False}
    page.comments["1000_1_2"] = {"message": CONCERN + " again", "is_hidden": False}
    assert cycle(rt, clock).alerts == 2
    with sessions() as s:
        alerts = {a.item.external_id: a.id for a in s.scalars(select(Alert))}

    page.comments["1000_1_1"]["message"] = "Sorry, wrong nursery, please ignore"
    page.comments["1000_1_2"]["is_hidden"] = True
    cycle(rt, clock)
    assert notes(sessions, alerts["1000_1_1"]) == [
        "The comment was edited on the Facebook page (the wording shown here is the original); "
        "the new wording no longer raises this concern."]
    with sessions() as s:  # the record of concern keeps what people were shown
        assert s.scalar(select(Item.text).where(Item.external_id == "1000_1_1")) == CONCERN
    assert notes(sessions, alerts["1000_1_2"]) == [
        "The comment has been hidden on the Facebook page (not through nurserywatch)."]

    del page.comments["1000_1_2"]
    cycle(rt, clock)
    with sessions() as s:
        gone = s.scalar(select(Item).where(Item.external_id == "1000_1_2"))
        assert gone.removed_at is not None and gone.is_hidden
    assert notes(sessions, alerts["1000_1_2"])[-1] == "The comment has since been deleted on the Facebook page."
    assert all("Sarah" not in n for a in alerts.values() for n in notes(sessions, a))  # no comment text in notes


# -- an edit that adds a concern to an alert someone already has (issue 12 item 3) ------------

PRIVATE = "Amelia in the Rainbow room has autism and needs her medication"
WORSE = PRIVATE + ". Miss Sarah grabbed her arm and she came home with bruises"


def edited_emails(sessions, alert_id):
    from monitor.core.models import OutboxMessage

    with sessions() as s:
        return {m.address: m.payload["context"] for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.alert_id == alert_id, OutboxMessage.kind == "edited"))}


def take(rt, sessions, alert_id, clock, close: bool = False):
    from alerts.ack import Actor, acknowledge
    from alerts.outcomes import Closing, close_alert
    from monitor.core.models import Recipient

    with sessions.begin() as s:
        alert = s.get(Alert, alert_id)
        jo = s.scalar(select(Recipient).where(Recipient.email == "manager@example.org"))
        if close:
            close_alert(s, rt.alert_env, alert, Actor(jo, None, None), Closing(outcome="handled"), clock())
        else:
            acknowledge(s, rt.alert_env, alert, Actor(jo, None, None), "spoke to the parent", clock())


@pytest.mark.parametrize("then", ["acknowledged", "closed"])
def test_an_edit_adding_a_concern_raises_the_alert_again_even_once_someone_has_it(setup, clock, then):
    page, rt, sessions = setup
    page.comments["1000_1_1"] = {"message": PRIVATE, "is_hidden": False}
    assert cycle(rt, clock).alerts == 1
    with sessions() as s:
        alert_id = s.scalar(select(Alert.id))
    take(rt, sessions, alert_id, clock, close=then == "closed")
    assert rt.alert_env.safeguarding_after < RECHECK_EVERY.total_seconds()

    page.comments["1000_1_1"]["message"] = WORSE
    cycle(rt, clock)
    with sessions() as s:
        alert = s.get(Alert, alert_id)
        assert alert.state == "open" and alert.closed_at is None and alert.acknowledged_by_id is None
        assert alert.categories[0] == "safeguarding" and "confidentiality" in alert.categories
        assert alert.next_escalation_at is not None  # the ladder runs again
        assert s.scalar(select(Item.text).where(Item.id == alert.item_id)) == PRIVATE  # the record keeps the original
    emails = edited_emails(sessions, alert_id)
    assert set(emails) == {"manager@example.org", "dsl@example.org"}  # the DSL for the new concern, the manager again
    shown = "".join(seg["text"] for seg in emails["dsl@example.org"]["segments"])
    assert shown == WORSE and emails["dsl@example.org"]["added"][0] == "safeguarding"
    assert notes(sessions, alert_id)[-1].endswith(f"The alert is open again ({then} before) and the people routed "
                                                 "for it were emailed.")

    before = len(notes(sessions, alert_id))
    cycle(rt, clock)  # the platform keeps reporting the same edit against the stored original
    assert len(notes(sessions, alert_id)) == before and len(edited_emails(sessions, alert_id)) == 2
    take(rt, sessions, alert_id, clock, close=True)  # and it can be closed again
    with sessions() as s:
        assert s.get(Alert, alert_id).state == "closed"


def test_the_edit_email_says_what_was_added_and_shows_the_new_wording(setup, clock):
    from alerts.channels.email.render import render
    from monitor.core.models import OutboxMessage

    page, rt, sessions = setup
    page.comments["1000_1_1"] = {"message": PRIVATE, "is_hidden": False}
    cycle(rt, clock)
    page.comments["1000_1_1"]["message"] = WORSE
    cycle(rt, clock)
    with sessions() as s:
        payload = s.scalar(select(OutboxMessage.payload).where(OutboxMessage.kind == "edited",
                                                               OutboxMessage.address == "dsl@example.org"))
    subject, text, html = render(payload["template"], payload["context"])
    assert subject.startswith("Re: [nurserywatch] Safeguarding") and "Amelia" not in subject
    assert "EDITED: the comment was changed on your Facebook page" in text and "now also raises Safeguarding" in text
    assert "she »came« home with »bruises«" in text and "<strong>Edited:</strong>" in html  # the new wording
