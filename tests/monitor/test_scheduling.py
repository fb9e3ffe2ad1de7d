"""Punctual polls, and accounts that cannot hold each other (or delivery) up."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.core.models import Account
from monitor.core.types import CycleReport
from monitor.daemon import Jobs
from monitor.pipeline import next_plan, poll_account, run_cycle
from monitor.runtime import build_runtime
from tests.monitor.helpers import Keywords, Scripted, Stuck

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_the_next_poll_is_planned_from_the_previous_plan_not_from_when_the_poll_began():
    planned = T0
    assert next_plan(planned, 10, T0 + timedelta(seconds=0.4)) == T0 + timedelta(seconds=10)
    assert next_plan(None, 10, T0) == T0 + timedelta(seconds=10)


def test_a_missed_interval_is_planned_again_from_now():
    assert next_plan(T0, 10, T0 + timedelta(seconds=25)) == T0 + timedelta(seconds=35)


@pytest.fixture
def rt(make_config, sessions, clock):
    rt = build_runtime(make_config(accounts=[{"platform": "demo", "id": "page-1", "poll_every": "10s"}]),
                       clock=clock, sessions=sessions, classifier=Keywords())
    (account_id,) = rt.connectors
    rt.connectors[account_id] = Scripted()
    yield rt
    asyncio.run(rt.aclose())


def test_a_ten_second_account_is_polled_at_every_tick_that_reaches_its_plan(rt, clock):
    (account_id, connector), = rt.connectors.items()
    rt.tolerance = 1.0  # the daemon's half tick
    polled = []
    start = clock()
    for tick in range(1, 61):  # a 2 s tick that runs a little late each time, for two minutes
        clock.set(start + timedelta(seconds=2 * tick, milliseconds=30))
        if asyncio.run(poll_account(rt, account_id, connector, CycleReport(), only_due=True)):
            polled.append(clock())
    gaps = [(b - a).total_seconds() for a, b in zip(polled, polled[1:])]
    assert len(polled) == 12 and all(abs(g - 10) <= 1 for g in gaps), gaps


def test_an_account_not_yet_due_is_left_alone(rt, clock):
    (account_id, connector), = rt.connectors.items()
    assert asyncio.run(poll_account(rt, account_id, connector, CycleReport(), only_due=True))
    clock.advance(seconds=5)
    assert not asyncio.run(poll_account(rt, account_id, connector, CycleReport(), only_due=True))
    with rt.sessions() as s:
        assert s.scalar(select(Account.next_poll_at)) == clock() + timedelta(seconds=5)


@pytest.fixture
def two_accounts(make_config, smtp_server, sessions, clock):
    config = make_config(smtp_port=smtp_server.port, polling={"deadline": "1s"},
                         accounts=[{"platform": "demo", "id": "stuck"}, {"platform": "demo", "id": "healthy"}])
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=Keywords())
    stuck_id, healthy_id = rt.connectors
    rt.connectors[stuck_id], rt.connectors[healthy_id] = Stuck(), Scripted()
    yield rt, stuck_id, healthy_id
    asyncio.run(rt.aclose())


def test_a_stuck_account_is_abandoned_at_its_deadline_and_the_other_is_alerted(two_accounts, smtp_server, clock):
    rt, stuck_id, healthy_id = two_accounts
    asyncio.run(run_cycle(rt))  # the first run: nothing there yet
    clock.advance(minutes=5)
    rt.connectors[healthy_id].post("c1", "a bruise on her arm", clock() - timedelta(minutes=1))

    report = asyncio.run(run_cycle(rt))

    assert report.failed_accounts == [str(stuck_id)] and report.alerts == 1
    assert [m["To"] for _f, _t, m in smtp_server.handler.messages if "Safeguarding" in m["Subject"]]
    with rt.sessions() as s:
        stuck = s.get(Account, stuck_id)
        assert "deadline" in stuck.last_error and stuck.last_success_at is None


def test_in_the_daemon_a_stuck_account_holds_up_neither_the_other_account_nor_delivery(two_accounts, smtp_server,
                                                                                       clock):
    rt, stuck_id, healthy_id = two_accounts
    rt.config = rt.config.model_copy(update={"polling": rt.config.polling.model_copy(update={"deadline": 3600})})
    rt.connectors[healthy_id].post("c1", "a bruise on her arm", clock() - timedelta(minutes=1))

    async def scenario():
        jobs = Jobs(rt)
        await jobs.tick()
        healthy = jobs.polling[healthy_id]
        await asyncio.wait_for(asyncio.shield(healthy), 20)  # done, while the stuck one still waits
        assert stuck_id in jobs.polling and not jobs.polling[stuck_id].done()
        await asyncio.wait_for(jobs.deliver(), 20)
        await asyncio.wait_for(jobs.escalate(), 20)
        await jobs.stop()
        return jobs

    asyncio.run(scenario())
    assert any("Safeguarding" in m["Subject"] for _f, _t, m in smtp_server.handler.messages)


def test_a_database_error_while_storing_is_named_as_one_and_the_items_are_fetched_again(rt, clock, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import monitor.pipeline as pipeline

    (account_id, connector), = rt.connectors.items()
    connector.post("c1", "a bruise on her arm", clock() - timedelta(minutes=1))
    real_store = pipeline.store_batch

    def locked(*args, **kwargs):
        raise OperationalError("INSERT INTO item ...", {}, Exception("database is locked"))

    monkeypatch.setattr(pipeline, "store_batch", locked)
    report = CycleReport()
    asyncio.run(poll_account(rt, account_id, connector, report, only_due=False))

    assert report.failed_accounts == [str(account_id)] and report.stored == 0
    with rt.sessions() as s:
        error = s.get(Account, account_id).last_error
    assert "database error while storing" in error and "connector" not in error

    monkeypatch.setattr(pipeline, "store_batch", real_store)
    report = CycleReport()
    asyncio.run(poll_account(rt, account_id, connector, report, only_due=False))
    assert report.stored == 1  # the cursor had not moved: the same comment came again
