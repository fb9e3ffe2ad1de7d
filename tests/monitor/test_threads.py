"""The pipeline classifies each stored comment with its thread (monitor/threads.py):
the post, the comment a reply answers, the latest earlier replies, bounded as the
classify contract bounds it, and the setting's own messages marked."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from monitor.core.models import Account, Finding, Item, Setting
from monitor.core.types import Classification, CycleReport, ThreadEntry
from monitor.judging import classify_pending
from monitor.runtime import build_runtime
from monitor.threads import classifier_inputs

SETTING = "Willowbrook Day Nursery"
POST = "Photos from our trip to the farm today!"
CONCERN = "The same member of staff shouted at my daughter and grabbed her arm last week"
ANSWER = "We're so sorry to read this, we have passed it to our safeguarding lead and will be in touch privately"
AGREE = "Same here"


class Recording:
    """Finds nothing; keeps what it was given."""

    def __init__(self):
        self.given = []

    def classify_batch(self, items):
        self.given.extend(items)
        return [Classification() for _ in items]


@pytest.fixture
def page(make_config, sessions, clock):
    rt = build_runtime(make_config(), clock=clock, sessions=sessions, classifier=Recording())
    with sessions() as s:
        account = s.scalar(select(Account))
        ids = account.setting_id, account.id
    yield rt, ids
    asyncio.run(rt.aclose())


def store(rt, ids, rows, clock):
    """rows: (external id, kind, parent, author id, author name, text), oldest first."""
    setting_id, account_id = ids
    with rt.sessions.begin() as s:
        for n, (ext, kind, parent, author_id, author, text) in enumerate(rows):
            s.add(Item(setting_id=setting_id, account_id=account_id, platform="demo", external_id=ext, kind=kind,
                       parent_external_id=parent, author_id=author_id, author_name=author, text=text,
                       created_at=clock() - timedelta(hours=10) + timedelta(minutes=n), fetched_at=clock()))


CONVERSATION = [
    ("p1", "post", None, "page-1", SETTING, POST),
    ("c1", "comment", "p1", "u1", "A Parent", CONCERN),
    ("r1", "reply", "c1", "page-1", SETTING, ANSWER),
    ("r2", "reply", "c1", "u2", "Another Parent", AGREE),
]


def inputs(rt):
    with rt.sessions() as s:
        items = s.scalars(select(Item).order_by(Item.id)).all()
        return {i.external_id: x for i, x in zip(items, classifier_inputs(s, items))}


def test_a_reply_is_classified_with_the_post_the_comment_it_answers_and_the_earlier_replies(page, clock):
    rt, ids = page
    store(rt, ids, CONVERSATION, clock)
    classify_pending(rt, CycleReport())
    given = {x[0]: x for x in rt.classifier.given}
    text, platform, rating, thread, is_setting, author = given[AGREE]
    assert thread == (ThreadEntry(POST, SETTING, True), ThreadEntry(CONCERN, "A Parent", False),
                      ThreadEntry(ANSWER, SETTING, True))
    assert (is_setting, author) == (False, "Another Parent")
    assert given[CONCERN][3] == (ThreadEntry(POST, SETTING, True),)
    assert given[ANSWER][3:5] == ((ThreadEntry(POST, SETTING, True), ThreadEntry(CONCERN, "A Parent", False)), True)
    assert given[POST][3:5] == ((), True)


def test_a_long_thread_is_cut_to_the_post_the_parent_and_the_latest_earlier_replies(page, clock):
    rt, ids = page
    replies = [(f"r{n}", "reply", "c1", f"u{n}", f"Parent {n}", f"reply number {n}") for n in range(10)]
    store(rt, ids, CONVERSATION[:2] + replies, clock)
    got = inputs(rt)
    assert [e.text for e in got["r7"][3]] == [POST, CONCERN, "reply number 5", "reply number 6"]
    assert [e.text for e in got["r0"][3]] == [POST, CONCERN]


def test_loading_the_threads_costs_the_same_few_queries_however_many_replies(page, clock):
    rt, ids = page
    replies = [(f"r{n}", "reply", "c1", f"u{n}", f"Parent {n}", f"reply number {n}") for n in range(120)]
    store(rt, ids, CONVERSATION[:2] + replies, clock)
    seen = []
    event.listen(rt.sessions.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    got = inputs(rt)
    assert len(got) == 122 and len(seen) <= 1 + 5, seen  # the items, accounts, parents, posts, siblings (2)


def test_a_batch_reads_the_same_threads_as_its_whole_history_would_give(page, clock):
    # the sibling lookup reads only a window of each busy post; what each comment is given must not change
    rt, ids = page
    rows = [("p1", "post", None, "page-1", SETTING, POST), ("p2", "post", None, "page-1", SETTING, "Bake sale")]
    rows += [(f"a{n}", "comment", "p1" if n % 3 else "p2", f"u{n}", f"Parent {n}", f"comment {n}") for n in range(60)]
    store(rt, ids, rows, clock)
    with rt.sessions.begin() as s:  # ties in time, and an erased sibling that must never be read
        for i in s.scalars(select(Item).where(Item.external_id.in_(["a4", "a5"]))):
            i.created_at = clock() - timedelta(hours=10) + timedelta(minutes=7)
        s.scalar(select(Item).where(Item.external_id == "a13")).erased_at = clock()
    with rt.sessions() as s:
        history = s.scalars(select(Item).order_by(Item.id)).all()
        everything = dict(zip((i.external_id for i in history), classifier_inputs(s, history)))
        for picked in (["a50", "a20", "a21"], ["a5", "a4", "a14", "a59"], ["a1"], ["a58", "a2"]):
            batch = [i for i in history if i.external_id in picked]
            alone = dict(zip(picked := [i.external_id for i in batch], classifier_inputs(s, batch)))
            assert alone == {k: everything[k] for k in picked}
    # a16 answers p1: the post, then its latest earlier siblings (a13 erased, a15 on p2)
    assert [e.text for e in everything["a16"][3]] == [POST, "comment 10", "comment 11", "comment 14"]
    assert [e.text for e in everything["a5"][3]] == [POST, "comment 1", "comment 2", "comment 4"]  # a4's tie: by id


def test_a_review_edit_is_not_read_as_a_thread(page, clock):
    rt, ids = page
    store(rt, ids, [("rev", "review", None, None, "A Parent", "Rude staff"),
                    ("rev@2", "review", "rev", None, "A Parent", "Rude staff, and late")], clock)
    assert inputs(rt)["rev@2"][3] == ()


def test_a_reply_agreeing_with_a_stored_concern_is_flagged_with_the_real_classifier(make_config, sessions, clock):
    from classifiers import build_classifier

    config = make_config()
    clf = build_classifier(config.setting, config.roster)
    assert "safeguarding" not in clf.classify(AGREE, "demo").labels  # alone it says nothing
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=clf)
    try:
        with sessions() as s:
            account = s.scalar(select(Account))
            ids = account.setting_id, account.id
            assert s.get(Setting, account.setting_id) is not None
        store(rt, ids, CONVERSATION, clock)
        classify_pending(rt, CycleReport())
        with sessions() as s:
            found = {(i.external_id, f.category) for f in s.scalars(select(Finding))
                     for i in [s.get(Item, f.item_id)] if f.alerting}
    finally:
        asyncio.run(rt.aclose())
    assert ("r2", "safeguarding") in found
    assert ("r1", "criticism") not in found
