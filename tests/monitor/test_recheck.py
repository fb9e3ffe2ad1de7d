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
