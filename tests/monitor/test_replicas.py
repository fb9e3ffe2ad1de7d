"""Replicas on PostgreSQL: several daemons share one database with no leader.

Each account's poll is leased (SELECT ... FOR UPDATE SKIP LOCKED with an
expiry), and whole-setting jobs run on one replica at a time and their effects
are exactly once. Whole replicas against an imitation Graph API, one killed
with SIGKILL, are in test_replica_drills.py. SQLite keeps one daemon
(tests/monitor/test_run_command.py); `pg_url` is in conftest.py.
"""
from __future__ import annotations

import asyncio
import threading
from datetime import datetime, time as clock_time, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from alerts.digest import run_digest
from alerts.escalation import run_escalations
from alerts.testing import make_world
from monitor.core.db import open_database
from monitor.core.models import Account, Alert, Item, OutboxMessage
from monitor.core.settings import DigestConfig
from monitor.core.store import load_cursors
from monitor.core.types import Batch, CycleReport, FetchedItem, ItemChange
from monitor.daemon import Jobs, schedule, tick_seconds
from monitor.job_locks import one_replica
from monitor.pipeline import poll_account
from monitor.poll_leases import PollLeases, lease_ttl
from monitor.recheck import RECHECK_EVERY
from monitor.runtime import build_runtime
from tests.monitor.helpers import Keywords, Scripted, Stuck

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


# --- leases, one replica against another ------------------------------------------------------------------


@pytest.fixture
def six_accounts(pg_url, make_config, clock):
    config = make_config(accounts=[{"platform": "demo", "id": f"page-{n}", "poll_every": "10s"} for n in range(6)])
    rt = build_runtime(config, clock=clock, classifier=Keywords())
    yield rt
    asyncio.run(rt.aclose())
    rt.sessions.dispose()


def test_replicas_claiming_at_the_same_instant_take_different_accounts(six_accounts, clock):
    db = [open_database(six_accounts.config.database.url) for _ in range(3)]
    replicas = [PollLeases(d, clock, timedelta(seconds=30), holder=f"replica-{n}") for n, d in enumerate(db)]
    start, claimed = threading.Barrier(3), {}

    def claim(lease):
        start.wait()
        claimed[lease.holder] = lease.claim_due(six_accounts.connectors, 0, room=6)

    threads = [threading.Thread(target=claim, args=(lease,)) for lease in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in db:
        d.dispose()
    every = [a for ids in claimed.values() for a in ids]
    assert sorted(every) == sorted(six_accounts.connectors)  # each account once, none twice


def test_a_busy_replica_claims_only_what_it_has_room_for_and_leaves_the_rest(six_accounts, clock):
    a = PollLeases(six_accounts.sessions, clock, timedelta(seconds=30), holder="a")
    b = PollLeases(six_accounts.sessions, clock, timedelta(seconds=30), holder="b")
    assert len(a.claim_due(six_accounts.connectors, 0, room=2)) == 2
    assert len(b.claim_due(six_accounts.connectors, 0, room=10)) == 4


def test_a_dead_replicas_lease_runs_out_within_one_poll_interval_and_another_takes_the_account(six_accounts, clock):
    dead = PollLeases(six_accounts.sessions, clock, lease_ttl(tick_seconds(six_accounts)), holder="dead")
    alive = PollLeases(six_accounts.sessions, clock, lease_ttl(tick_seconds(six_accounts)), holder="alive")
    held = dead.claim_due(six_accounts.connectors, 0, room=6)
    assert alive.claim_due(six_accounts.connectors, 0, room=6) == []  # all held, renewed or not
    clock.advance(seconds=10)  # one poll interval: the dead replica renewed nothing
    assert sorted(alive.claim_due(six_accounts.connectors, 0, room=6)) == sorted(held)


def test_an_account_whose_poll_a_dead_replica_began_is_polled_when_the_lease_runs_out_not_at_its_next_plan(
        six_accounts, clock):
    rt = six_accounts
    ttl = lease_ttl(tick_seconds(rt))  # 6 s: three ticks of a 10 s interval
    dead = PollLeases(rt.sessions, clock, ttl, holder="dead")
    alive = rt.leases  # this runtime's replica
    alive.ttl = ttl
    account_id = next(iter(rt.connectors))
    dead.claim_due([account_id], 0, room=1)
    with rt.sessions.begin() as s:  # the dead replica began its poll: the plan moved one interval on
        s.get(Account, account_id).next_poll_at = clock() + timedelta(seconds=10)
    clock.advance(seconds=ttl.total_seconds() + 1)
    assert alive.claim_due([account_id], 0, room=1) == [account_id]
    assert asyncio.run(poll_account(rt, account_id, rt.connectors[account_id], CycleReport(), only_due=True))
    with rt.sessions() as s:
        acc = s.get(Account, account_id)
        assert acc.lease_holder is None and acc.last_success_at == clock()  # polled now, and handed back
    with rt.sessions.begin() as s:  # a poll that ended normally is not "abandoned": it waits for its plan
        s.get(Account, account_id).next_poll_at = clock() + timedelta(seconds=10)
    clock.advance(seconds=ttl.total_seconds() + 1)
    assert alive.claim_due([account_id], 0, room=1) == []


async def _claim_once(rt, settle=None, release=lambda: None) -> set[int]:
    """One replica's claim (then `settle` and a second claim if given); the accounts it polls then."""
    jobs = Jobs(rt)
    await jobs.claim()
    if settle is not None:
        await settle(jobs)
        await jobs.claim()
    polling = set(jobs.polling)
    release()
    for task in jobs.polling.values():
        task.cancel()
    await asyncio.gather(*jobs.polling.values(), return_exceptions=True)
    return polling


def test_a_replica_leases_at_most_twice_what_its_platform_limit_lets_it_fetch_at_once(pg_url, make_config, clock):
    """Four demo accounts at most fetching per replica, four more queued for its slots: the other two
    stay free for another replica, instead of all ten waiting for this one's slots."""
    config = make_config(concurrency={"default_per_platform": 4},
                         accounts=[{"platform": "demo", "id": f"page-{n}", "poll_every": "10s"} for n in range(10)])
    rt = build_runtime(config, clock=clock, classifier=Keywords())
    for account_id in list(rt.connectors):
        rt.connectors[account_id] = Stuck()  # polls that stay in flight

    polling = asyncio.run(_claim_once(rt))
    with rt.sessions() as s:
        leased = set(s.scalars(select(Account.id).where(Account.lease_holder == rt.leases.holder)))
    other = PollLeases(rt.sessions, clock, timedelta(seconds=30), holder="other")
    taken = other.claim_due(rt.connectors, 0, room=10)
    asyncio.run(rt.aclose())
    rt.sessions.dispose()
    assert len(polling) == 8 and leased <= polling
    assert len(taken) == 2 and not set(taken) & polling


class Blocking(Keywords):
    """A classifier that holds its first batch until the test lets it go."""

    def __init__(self):
        super().__init__()
        self.entered, self.go = threading.Event(), threading.Event()

    def classify_batch(self, items):
        self.entered.set()
        self.go.wait(10)
        return super().classify_batch(items)


def test_a_poll_that_has_fetched_and_is_classifying_leaves_its_platform_slot_to_the_next_account(
        pg_url, make_config, clock):
    """One demo poll fetching at a time and one queued: while the first account's comments are
    classified, the replica leases the third account, instead of waiting for the first to end."""
    config = make_config(concurrency={"default_per_platform": 1},
                         accounts=[{"platform": "demo", "id": f"page-{n}", "poll_every": "10s"} for n in range(3)])
    classifier = Blocking()
    rt = build_runtime(config, clock=clock, classifier=classifier)
    connectors = {}
    for account_id in list(rt.connectors):
        connectors[account_id] = rt.connectors[account_id] = Scripted()
        connectors[account_id].post(f"c-{account_id}", "lovely day at the farm", T0)

    async def classifying(jobs):
        assert len(jobs.polling) == 2  # the platform's one slot, and one queued for it
        await asyncio.to_thread(classifier.entered.wait, 10)
        for _ in range(50):  # the queued poll fetches too (its comments wait for the classifier's next round)
            if all(c.polls for c in list(connectors.values())[:2]):
                break
            await asyncio.sleep(0.1)

    try:
        polling = asyncio.run(_claim_once(rt, settle=classifying, release=classifier.go.set))
    finally:
        classifier.go.set()
        asyncio.run(rt.aclose())
        rt.sessions.dispose()
    assert classifier.entered.is_set()
    assert list(connectors)[2] in polling  # the third was leased while the first was classifying


def test_a_replica_leases_the_next_due_account_as_soon_as_a_platform_slot_frees_not_at_the_next_tick(
        pg_url, make_config, clock):
    """One demo poll fetching at a time, one queued, and no tick running: the third account is leased
    and polled once a slot frees (within the once-a-second limit on claims), not left for the next tick."""
    config = make_config(concurrency={"default_per_platform": 1},
                         accounts=[{"platform": "demo", "id": f"page-{n}", "poll_every": "10s"} for n in range(3)])
    rt = build_runtime(config, clock=clock, classifier=Keywords())
    connectors = {}
    for account_id in list(rt.connectors):
        connectors[account_id] = rt.connectors[account_id] = Scripted()

    async def run() -> None:
        jobs = Jobs(rt)
        await jobs.claim()
        assert len(jobs.polling) == 2
        for _ in range(50):  # up to 5 s; the refill waits out the second since the first claim
            if all(c.polls for c in connectors.values()):
                break
            await asyncio.sleep(0.1)
        jobs.stopping = True
        await asyncio.gather(*jobs.polling.values(), *jobs.background, return_exceptions=True)

    try:
        asyncio.run(run())
    finally:
        asyncio.run(rt.aclose())
        rt.sessions.dispose()
    assert [c.polls for c in connectors.values()] == [1, 1, 1]


@pytest.mark.parametrize("every", [5, 10, 60, 300, 3600])
def test_the_lease_is_shorter_than_the_poll_interval(every):
    setting = SimpleNamespace(config=SimpleNamespace(accounts=[SimpleNamespace(poll_every=every)]))
    rt = SimpleNamespace(every_setting=[setting], config=setting.config)
    assert lease_ttl(tick_seconds(rt)) < timedelta(seconds=every)


class Handover:
    """A platform that answers one batch, then lets the test take the account away before the next."""

    platform = "demo"

    def __init__(self, between):
        self.between = between

    async def fetch(self, cursors):
        made = lambda n: FetchedItem(external_id=f"c{n}", kind="comment", text="a bruise", created_at=T0)  # noqa: E731
        yield Batch(items=[made(1)], cursors={("all", ""): {"n": 1}})
        self.between()
        yield Batch(items=[made(2)], cursors={("all", ""): {"n": 2}})


def test_a_replica_that_lost_its_lease_mid_poll_writes_nothing_more(six_accounts, clock):
    rt = six_accounts
    account_id = next(iter(rt.connectors))
    other = PollLeases(rt.sessions, clock, rt.leases.ttl, holder="other replica")

    def taken_over():
        clock.advance(seconds=rt.leases.ttl.total_seconds() + 1)  # this replica stalled past its lease
        assert other.claim_due([account_id], 0, room=1) == [account_id]

    assert not asyncio.run(poll_account(rt, account_id, Handover(taken_over), CycleReport(), only_due=False))
    with rt.sessions() as s:
        assert s.scalars(select(Item.external_id).where(Item.account_id == account_id)).all() == ["c1"]
        acc = s.get(Account, account_id)
        assert acc.lease_holder == "other replica" and acc.failures == 0  # its outcome was not recorded either


def test_a_lease_its_own_poll_released_during_a_renewal_is_not_reported_as_taken(six_accounts, clock, caplog):
    """A renewal reads the leases it holds, then updates them; a poll that ends in between releases
    its lease (in a worker thread). That lease was given back, not taken by another replica."""
    rt = six_accounts
    leases = rt.leases
    account_id, *others = leases.claim_due(rt.connectors, 0, room=3)
    real = leases.sessions

    class PollEndsMeanwhile:
        def begin(self):
            with real.begin() as session:  # the poll's outcome, recorded as `_record_success` does
                leases.release(session.get(Account, account_id))
            return real.begin()

    leases.sessions = PollEndsMeanwhile()
    try:
        lost = leases.renew()
    finally:
        leases.sessions = real
    assert lost == set() and "taken by another replica" not in caplog.text
    assert leases.held == set(others)


def test_a_clean_stop_hands_the_leases_back_at_once(six_accounts, clock):
    rt = six_accounts
    rt.connectors = {a: Scripted() for a in rt.connectors}
    jobs = Jobs(rt)

    async def tick_and_stop():
        await jobs.tick()
        await jobs.stop()

    asyncio.run(tick_and_stop())
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Account).where(Account.lease_holder.is_not(None))) == 0


def test_accounts_another_replica_holds_are_not_polled(six_accounts, clock):
    rt = six_accounts
    other = PollLeases(rt.sessions, clock, timedelta(seconds=30), holder="other replica")
    theirs = set(other.claim_due(rt.connectors, 0, room=3))
    rt.connectors = {a: Scripted() for a in rt.connectors}
    asyncio.run(Jobs(rt).cycle())
    polled = {a for a, c in rt.connectors.items() if c.polls}
    assert polled == set(rt.connectors) - theirs


class Rereading(Scripted):
    """A Page with one comment whose connector counts its hourly re-reads."""

    def __init__(self, account_id: int):
        super().__init__()
        self.rereads = 0
        self.post(f"c-{account_id}", "lovely day at the farm", T0)

    async def recheck(self, known):
        self.rereads += 1
        return []


def test_no_job_of_one_replica_reads_a_page_whose_poll_another_replica_holds(six_accounts, clock):
    """The hourly re-read of recent comments is part of the account's leased poll, not a job of
    its own: a replica re-reads only the Pages it polls, never one another replica is polling."""
    rt = six_accounts
    rt.connectors = {a: Rereading(a) for a in rt.connectors}
    asyncio.run(Jobs(rt).cycle())  # every account polled (and re-read) once: its comment is stored
    clock.advance(seconds=RECHECK_EVERY.total_seconds() + 60)  # every poll and every re-read due again
    other = PollLeases(rt.sessions, clock, timedelta(hours=2), holder="other replica")
    theirs = set(other.claim_due(rt.connectors, 0, room=3))
    before = {a: (c.polls, c.rereads) for a, c in rt.connectors.items()}
    jobs = Jobs(rt)

    async def every_job_once():
        for job in schedule(rt, jobs).get_jobs():
            await job.func()
        await asyncio.gather(*jobs.polling.values())

    asyncio.run(every_job_once())
    after = {a: (c.polls, c.rereads) for a, c in rt.connectors.items()}
    assert len(theirs) == 3
    assert all(after[a] == before[a] for a in theirs)  # neither polled nor re-read by this replica
    assert all(after[a] == (before[a][0] + 1, before[a][1] + 1) for a in set(rt.connectors) - theirs)


def test_a_replica_that_lost_its_lease_while_re_reading_writes_nothing(six_accounts, clock):
    rt = six_accounts
    account_id = next(iter(rt.connectors))
    page = Rereading(account_id)
    asyncio.run(poll_account(rt, account_id, page, CycleReport(), only_due=False))
    assert page.rereads == 1
    clock.advance(seconds=RECHECK_EVERY.total_seconds() + 60)
    other = PollLeases(rt.sessions, clock, rt.leases.ttl, holder="other replica")

    async def edited_then_taken_over(known):
        page.rereads += 1
        clock.advance(seconds=rt.leases.ttl.total_seconds() + 1)  # this replica stalled past its lease
        assert other.claim_due([account_id], 0, room=1) == [account_id]
        return [ItemChange(f"c-{account_id}", text="an edit nobody may store")]

    page.recheck = edited_then_taken_over
    with rt.sessions() as s:
        checked = load_cursors(s, account_id)[("recheck", "")]
    assert not asyncio.run(poll_account(rt, account_id, page, CycleReport(), only_due=False))
    with rt.sessions() as s:
        assert s.scalars(select(Item.text).where(Item.account_id == account_id)).all() == ["lovely day at the farm"]
        assert load_cursors(s, account_id)[("recheck", "")] == checked  # the re-read did not move its cursor
        assert s.get(Account, account_id).lease_holder == "other replica"


# --- whole-setting jobs ------------------------------------------------------------------------------------


def test_a_whole_setting_job_runs_on_one_replica_at_a_time(pg_url):
    db = open_database(pg_url)

    async def nested():
        async with one_replica(db.engine, "digest:1") as first:
            async with one_replica(db.engine, "digest:1") as second, one_replica(db.engine, "escalate:1") as other:
                inside = (first, second, other)
        async with one_replica(db.engine, "digest:1") as again:
            return inside, again

    try:
        assert asyncio.run(nested()) == ((True, False, True), True)
    finally:
        db.dispose()


@pytest.fixture
def world(pg_url, tmp_path):
    w = make_world(tmp_path, db_url=pg_url, digest={"at": "07:30"},
                   escalation={"safeguarding_after": "30m", "max_steps": 3})
    yield w
    w.close()


def in_threads(n: int, fn) -> list:
    start, out = threading.Barrier(n), []

    def run():
        start.wait()
        out.append(fn())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_three_replicas_running_the_digest_at_once_queue_one_per_person_for_the_day(world):
    world.raise_alert("a bruise on her arm")
    world.clock.set(datetime(2026, 11, 24, 7, 31, tzinfo=timezone.utc))
    cfg = DigestConfig(at=clock_time(7, 30))
    in_threads(3, lambda: run_digest(world.sessions, world.env, cfg, world.clock()))
    with world.sessions() as s:
        keys = s.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.kind == "digest")).all()
    assert len(keys) == len(set(keys)) == len(world.people)
    assert all(k.endswith(":2026-11-24") for k in keys)


def test_three_replicas_escalating_at_once_take_each_rung_once(world):
    alert_id = world.raise_alert("a bruise on her arm")
    for _rung in range(2):
        world.clock.advance(minutes=31)
        moved = in_threads(3, lambda: run_escalations(world.sessions, world.env, world.clock()))
        assert sorted(moved) == [0, 0, 1]
    with world.sessions() as s:
        assert s.get(Alert, alert_id).escalation_step == 2
        kinds = s.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.alert_id == alert_id)).all()
    assert len(kinds) == len(set(kinds))
