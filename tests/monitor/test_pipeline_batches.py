"""The classify-and-alert stage costs a few statements per batch, not per comment;
the classifier is only loaded when there is something to classify."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from monitor.core.models import Finding, Item
from monitor.core.types import CycleReport
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
