"""The inbox, the alert page and closing with an outcome, through the real app."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.testing import make_world
from monitor.core.models import AuditEvent, Item
from monitor.core.webmodels import AlertOutcome, LabelledExample
from tests.monitor.webapp_helpers import client_for, post_form, sign_in


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


@pytest.fixture
def dana(world):
    with client_for(world) as c:
        yield sign_in(c, world, "dana")


def test_the_inbox_lists_open_alerts_with_category_age_and_who_has_it(world, dana):
    first = world.raise_alert("He said a grown-up there hurt him", [("safeguarding", "high")])
    world.clock.advance(hours=3)
    second = world.raise_alert("She has a bruise on her arm", [("safeguarding", "medium")])
    post_form(dana, f"/alerts/{second}", f"/alerts/{second}/ack")
    page = dana.get("/alerts").text
    assert f"Alert #{first}: high severity" in page and "3 h ago" in page and "nobody has it yet" in page
    assert f"Alert #{second}: medium severity" in page and "Dana Lewis has it" in page
    assert "Safeguarding concern" in page and "Facebook page" in page


def test_the_inbox_filters_by_state_and_category(world, dana):
    open_one = world.raise_alert("She has a bruise on her arm", [("safeguarding", "high")])
    closed = world.raise_alert("He said a grown-up there hurt him", [("safeguarding", "high")])
    post_form(dana, f"/alerts/{closed}", f"/alerts/{closed}/close", {"outcome": "handled"})
    active = dana.get("/alerts").text
    assert f"/alerts/{open_one}\"" in active and f"/alerts/{closed}\"" not in active
    only_closed = dana.get("/alerts?state=closed").text
    assert f"/alerts/{closed}\"" in only_closed and "Handled" in only_closed and f"/alerts/{open_one}\"" not in only_closed
    assert f"/alerts/{open_one}\"" not in dana.get("/alerts?category=criticism").text


def test_the_alert_page_shows_the_comment_in_its_thread(world, dana):
    post = world.add_item("Our autumn trip to the farm!", author="Little Acorns")
    with world.sessions.begin() as s:
        post_ext = s.get(Item, post).external_id
    before = world.add_item("Lovely photos", author="Gran")
    alert_id = world.raise_alert("He came home with a bruise again", author="A Parent")
    after = world.add_item("Please message the nursery privately", author="Little Acorns")
    with world.sessions.begin() as s:
        for item_id in (before, after, world.alert(alert_id).item_id):
            s.get(Item, item_id).parent_external_id = post_ext
    page = dana.get(f"/alerts/{alert_id}").text
    assert "Our autumn trip to the farm!" in page and "Lovely photos" in page and "Please message" in page
    assert page.index("Lovely photos") < page.index("this comment") < page.index("Please message")


def test_a_reply_that_names_the_viewer_is_withheld_from_the_thread(world, dana):
    post = world.add_item("Our autumn trip", author="Little Acorns")
    with world.sessions.begin() as s:
        post_ext = s.get(Item, post).external_id
    named = world.raise_alert("Miss Dana pushed him over", [("safeguarding", "high")])
    alert_id = world.raise_alert("He came home with a bruise again")
    with world.sessions.begin() as s:
        for a in (named, alert_id):
            s.get(Item, world.alert(a).item_id).parent_external_id = post_ext
    page = dana.get(f"/alerts/{alert_id}").text
    assert "pushed him over" not in page and "A reply you cannot see" in page


def test_acknowledge_note_and_close_as_referred_are_kept_in_the_history(world, dana):
    alert_id = world.raise_alert("He said a grown-up there hurt him")
    assert post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/ack", {"note": "Calling mum"}).status_code == 200
    world.clock.advance(minutes=20)
    post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/note", {"note": "Spoke to mum"})
    r = post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close",
                  {"outcome": "referred", "referred_to": "social_care", "reference": "MASH-2231"})
    assert r.status_code == 200 and "The alert is closed" in r.text
    assert "Referred to children&#39;s social care (reference MASH-2231)" in r.text
    history = r.text[r.text.index("History"):]
    assert history.index("acknowledged") < history.index("added a note") < history.index("closed")
    with world.sessions() as s:
        outcome = s.scalar(select(AlertOutcome))
        assert (outcome.outcome, outcome.referred_to, outcome.reference) == ("referred", "social_care", "MASH-2231")
    a = world.alert(alert_id)
    assert a.state == "closed" and a.next_escalation_at is None


def test_closing_as_not_a_concern_asks_which_label_was_wrong_and_keeps_an_example(world, dana):
    alert_id = world.raise_alert("We smacked it out of the park at sports day",
                                 [("safeguarding", "high"), ("criticism", "low")])
    page = dana.get(f"/alerts/{alert_id}").text
    assert "which label was wrong" in page
    refused = post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close", {"outcome": "not_a_concern"})
    assert refused.status_code == 400 and "Tick which label was wrong" in refused.text
    assert world.alert(alert_id).state == "open"
    r = post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close",
                  {"outcome": "not_a_concern", "wrong": "safeguarding"})
    assert r.status_code == 200 and "not a concern" in r.text
    with world.sessions() as s:
        example = s.scalar(select(LabelledExample))
        assert example.source == "not_a_concern" and example.labels == ["criticism"]
        assert example.text.startswith("We smacked it")


def test_a_closed_alert_cannot_be_closed_again(world, dana):
    alert_id = world.raise_alert("x")
    post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close", {"outcome": "handled"})
    again = post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close", {"outcome": "not_a_concern",
                                                                                  "wrong": "safeguarding"})
    assert again.status_code == 400 and "already closed" in again.text


def test_opening_an_alert_is_recorded_once_an_hour(world, dana):
    alert_id = world.raise_alert("x")
    for _ in range(3):
        dana.get(f"/alerts/{alert_id}")
    world.clock.advance(hours=2)
    dana.get(f"/alerts/{alert_id}")
    with world.sessions() as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()
    assert len(views) == 2 and views[0].actor == "dana@acorns.example"


def test_the_record_of_concern_prints_the_outcome(world, dana):
    alert_id = world.raise_alert("He said a grown-up there hurt him")
    post_form(dana, f"/alerts/{alert_id}", f"/alerts/{alert_id}/close",
              {"outcome": "referred", "referred_to": "lado", "reference": "LADO-77", "note": "Strategy meeting"})
    record = dana.get(f"/alerts/{alert_id}/record")
    assert record.status_code == 200 and "Record of concern" in record.text
    assert "He said a grown-up there hurt him" in record.text and "Referred to the LADO, reference LADO-77" in record.text
    assert f'href="/alerts/{alert_id}"' in record.text


def test_the_audit_export_covers_a_date_range_with_outcome_and_reference(world, dana):
    old = world.raise_alert("He said a grown-up there hurt him")
    post_form(dana, f"/alerts/{old}", f"/alerts/{old}/close", {"outcome": "referred", "referred_to": "police",
                                                                "reference": "=HYPERLINK(1)"})
    world.clock.advance(days=40)
    sign_in(dana, world, "dana")  # the session ended while idle
    new = world.raise_alert("She has a bruise")
    post_form(dana, f"/alerts/{new}", f"/alerts/{new}/ack")
    day = lambda d: (world.clock() - timedelta(days=d)).date().isoformat()  # noqa: E731
    recent = dana.get(f"/audit.csv?from={day(1)}&to={day(0)}")
    assert recent.headers["content-type"].startswith("text/csv") and "attachment" in recent.headers["content-disposition"]
    rows = [line.split(",") for line in recent.text.strip().splitlines()]
    assert rows[0][:4] == ["time", "who", "action", "alert"]
    assert {r[3] for r in rows[1:]} == {str(new)}
    older = dana.get(f"/audit.csv?from={day(41)}&to={day(39)}").text
    assert "closed" in older and "police" in older and "'=HYPERLINK(1)" in older  # formula neutralised
    page = dana.get(f"/audit?from={day(41)}&to={day(39)}").text
    assert "Dana Lewis" in page and "closed" in page
