"""The pipeline keeps alerting on a healthy account while its neighbour's API is hostile."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from monitor.core.models import Account, Alert
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from tests.connectors.hostile import PAGE_ID, Hostile, Served


@pytest.mark.parametrize("mode", ["trickle", "malformed"])
def test_a_healthy_account_is_alerted_on_while_the_other_account_api_trickles_or_sends_junk(
    make_config, sessions, clock, monkeypatch, mode
):
    monkeypatch.setenv("FB_TOKEN", "page-token")
    api = Hostile(clock.now)
    with Served(api.app()) as served:
        config = make_config(accounts=[
            {"platform": "facebook", "id": PAGE_ID, "token_env": "FB_TOKEN", "api_base": served.base(mode),
             "request_deadline": "1s"},
            {"platform": "demo", "id": "page-1", "options": {"per_cycle": 100}},
        ])
        rt = build_runtime(config, clock=clock, sessions=sessions)

        async def cycle():
            try:
                return await asyncio.wait_for(run_cycle(rt), 120)  # a guard, far above the 1 s deadline
            finally:
                await rt.aclose()

        report = asyncio.run(cycle())

    with sessions() as s:
        accounts = {a.platform: a for a in s.scalars(select(Account))}
        alerted = {a.item.platform for a in s.scalars(select(Alert))}
    assert "demo" in alerted and report.alerts >= 1
    if mode == "trickle":
        assert report.failed_accounts == [str(accounts["facebook"].id)]
        assert "deadline" in accounts["facebook"].last_error
    else:  # the good comment beside the junk is stored and alerted on too
        assert "facebook" in alerted and accounts["facebook"].items_unreadable == 5
        assert accounts["facebook"].state == "ok"
