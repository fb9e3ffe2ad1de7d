"""Accounts are polled side by side, within each platform's and app's limit,
and a slow or failing account does not hold up the others."""
from __future__ import annotations

import asyncio

import pytest

from connectors.base import Batch, TemporaryFailure
from monitor.core.models import Account
from monitor.core.settings import AccountConfig
from monitor.limits import PollLimits
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from tests.monitor.test_pipeline_accounts import Quiet


class Fake:
    """A connector that waits on an event (or fails) and records when it ran."""

    def __init__(self, account: AccountConfig, log: list, gate: asyncio.Event | None = None, fail: bool = False):
        self.account, self.platform, self.log, self.gate, self.fail = account, account.platform, log, gate, fail

    async def fetch(self, cursors):
        self.log.append(("start", self.account.id))
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if self.fail:
            raise TemporaryFailure("the platform is down")
        self.log.append(("done", self.account.id))
        return
        yield Batch(items=[])  # pragma: no cover - an async generator that yields nothing

    async def hide(self, external_id, hidden=True):
        pass


@pytest.fixture
def rt(make_config, sessions, clock, monkeypatch):
    monkeypatch.setenv("TOKEN", "t")
    accounts = [{"platform": "facebook", "id": f"p{n}", "token_env": "TOKEN"} for n in range(6)]
    accounts += [{"platform": "x", "id": f"x{n}", "token_env": "TOKEN"} for n in range(4)]
    config = make_config(accounts=accounts, concurrency={"per_platform": {"facebook": 3}, "per_app": 10})
    runtime = build_runtime(config, clock=clock, sessions=sessions, classifier=Quiet())
    yield runtime
    asyncio.run(runtime.aclose())


def test_no_platform_ever_has_more_polls_in_flight_than_its_limit(rt):
    log: list = []
    by_id = {a.id: a for a in rt.config.accounts}
    with rt.sessions() as s:
        ids = {a.external_id: a.id for a in s.query(Account)}
    rt.connectors = {ids[k]: Fake(acc, log) for k, acc in by_id.items()}
    limits = PollLimits(rt.config.concurrency)

    asyncio.run(run_cycle(rt, limits=limits))

    assert len([e for e in log if e[0] == "done"]) == 10
    assert limits.peak["platform:facebook"] <= 3 and limits.peak["platform:x"] <= 2  # X's default
    assert limits.peak["total"] >= 4  # facebook and x polled side by side


def test_a_slow_account_and_a_failing_one_do_not_hold_up_the_others(rt):
    log: list = []
    with rt.sessions() as s:
        ids = {a.external_id: a.id for a in s.query(Account)}
    accs = {a.id: a for a in rt.config.accounts}

    async def cycle():
        gate = asyncio.Event()
        rt.connectors = {ids[k]: Fake(accs[k], log, gate=gate if k == "p0" else None, fail=k == "p1") for k in accs}
        task = asyncio.create_task(run_cycle(rt))
        while len([e for e in log if e[0] == "done"]) < 8:  # everyone but the slow and the failing one
            await asyncio.sleep(0.01)
        slow_still_running = ("done", "p0") not in log
        gate.set()
        report = await task
        return slow_still_running, report

    slow_still_running, report = asyncio.run(cycle())
    assert slow_still_running
    assert ("done", "p0") in log
    assert report.failed_accounts == [str(ids["p1"])]
