"""The classify-and-alert stage costs a few statements per batch, not per comment;
the classifier is only loaded when there is something to classify."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from monitor.core.models import Account, Finding, Item
from monitor.core.store import store_batch
from monitor.core.types import Batch, CycleReport, FetchedItem
from monitor.judging import BATCH, classify_pending
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from tests.monitor.helpers import Keywords, Scripted


@pytest.fixture
def page(make_config, sessions, clock):
    built = []

    def make_classifier():
        built.append(Keywords())
        return built[-1]

    rt = build_runtime(make_config(), clock=clock, sessions=sessions)
    rt.make_classifier = make_classifier
    (account_id,) = rt.connectors
    rt.connectors[account_id] = connector = Scripted()
    yield rt, connector, built
    asyncio.run(rt.aclose())


def statements(rt):
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split()[0].upper())

    event.listen(rt.sessions.engine, "before_cursor_execute", count)
    return seen


def test_a_cycle_with_nothing_new_never_loads_the_classifier(page):
    rt, connector, built = page
    report = asyncio.run(run_cycle(rt))
    assert report.stored == 0 and built == []


def test_a_batch_of_quiet_comments_costs_the_same_few_statements_however_many_there_are(page, clock):
    rt, connector, built = page
    for n in range(BATCH):
        connector.post(f"c{n}", "lovely trip to the farm", clock() - timedelta(hours=1))
    asyncio.run(run_cycle(rt))  # stores them (and classifies); count a fresh classify run instead
    with rt.sessions.begin() as s:
        s.query(Item).update({Item.classified_at: None})
    seen = statements(rt)

    classify_pending(rt, CycleReport())

    # the roster check, load the batch, its phrase rules, claim it, look for the next batch
    assert len(seen) <= 5, seen
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Item.id)).where(Item.classified_at.is_(None))) == 0


def test_only_the_flagged_comments_cost_more_and_their_findings_go_in_one_statement(page, clock):
    rt, connector, built = page
    for n in range(100):
        connector.post(f"c{n}", "a bruise on her arm" if n % 25 == 0 else "lovely trip", clock() - timedelta(hours=1))
    seen = statements(rt)

    report = asyncio.run(run_cycle(rt))

    assert report.classified == 100 and report.alerts == 4
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Finding.id))) == 4
    assert seen.count("INSERT") < 4 * 10, seen  # findings once; per alert: the alert and its emails


def _fetched(n: int, clock, prefix: str = "c") -> list[FetchedItem]:
    return [FetchedItem(external_id=f"{prefix}{k}", kind="comment", text="lovely trip", created_at=clock())
            for k in range(n)]


def _item_inserts(rt) -> list[tuple[str, bool]]:
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ITEM"):
            seen.append((statement, executemany))

    event.listen(rt.sessions.engine, "before_cursor_execute", note)
    return seen


def test_storing_counts_only_the_new_items_with_one_insert_per_thousand_rows(page, clock):
    rt, _, _ = page
    with rt.sessions.begin() as s:
        account = s.scalars(select(Account)).one()
        assert store_batch(s, account, Batch(items=_fetched(200, clock)), clock()) == 200
    seen = _item_inserts(rt)
    again = _fetched(1200, clock) + _fetched(3, clock)  # 200 already stored, 3 twice in the batch

    with rt.sessions.begin() as s:
        stored = store_batch(s, s.scalars(select(Account)).one(), Batch(items=again), clock())

    assert stored == 1000
    with rt.sessions() as s:
        assert s.scalar(select(func.count(Item.id))) == 1200
    assert 1 <= len(seen) <= 2, [executemany for _, executemany in seen]  # not one per row


def test_on_sqlite_batches_of_any_size_reuse_one_prepared_insert(page, clock):
    # Multi-row INSERTs differ with each batch's size, and the driver keeps up to 128 prepared
    # statements per connection: at 100,000 comments that cache alone held tens of MB.
    rt, _, _ = page
    if rt.sessions.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's statement cache")
    seen = _item_inserts(rt)
    for size, prefix in ((3, "a"), (7, "b"), (11, "c")):
        with rt.sessions.begin() as s:
            store_batch(s, s.scalars(select(Account)).one(), Batch(items=_fetched(size, clock, prefix)), clock())

    assert len({statement for statement, _ in seen}) == 1 and all(many for _, many in seen)
