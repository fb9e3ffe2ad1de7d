"""Twenty people (or one impatient double-tapping person) pressing "Hide" at
once: the comment is hidden with one platform call and one audit row (issue 9
measured 14 calls and 20 rows). The hide is claimed in the database first."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from alerts.testing import make_world
from connectors.base import TemporaryFailure
from monitor.core.models import AuditEvent, Item
from monitor.web import WebDeps, create_app
from monitor.web.pages import HIDE_CLAIM_TIMEOUT
from tests.monitor.test_web import CLIENT_IP, link


class SlowHider:
    """A platform that takes a moment to answer, so the presses overlap."""

    def __init__(self, fail_first: bool = False):
        self.calls = 0
        self.fail_first = fail_first

    async def __call__(self, account_id: int, external_id: str) -> None:
        self.calls += 1
        await asyncio.sleep(0.2)
        if self.fail_first and self.calls == 1:
            raise TemporaryFailure("timeout")


@pytest.fixture
def world(tmp_path, db_url):
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.close()


def press(app, url: str, n: int) -> list[int]:
    async def go():
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50123))
        async with httpx.AsyncClient(transport=transport, base_url="https://watch.acorns.example") as c:
            answers = await asyncio.gather(*(c.post(url, data={"confirm": "yes"}) for _ in range(n)))
        return [a.status_code for a in answers]

    return asyncio.run(go())


def hide_rows(world) -> list[str]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("hide%")).order_by(AuditEvent.id)))


def test_twenty_hide_presses_at_once_make_one_platform_call_and_one_audit_row(world):
    hider = SlowHider()
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider))
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "high")])
    statuses = press(app, link(world, alert_id, "sam", "hide"), 20)
    assert hider.calls == 1
    assert hide_rows(world) == ["hide"]
    assert sorted(statuses) == [200] + [409] * 19
    with world.sessions() as s:
        item = s.get(Item, world.alert(alert_id).item_id)
        assert item.is_hidden and item.hide_claimed_at is None


def test_a_failed_hide_releases_its_claim_so_the_next_press_tries_again(world):
    hider = SlowHider(fail_first=True)
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider))
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "high")])
    url = link(world, alert_id, "sam", "hide")
    assert press(app, url, 1) == [502]
    assert press(app, url, 1) == [200]
    assert hider.calls == 2 and hide_rows(world) == ["hide_failed", "hide"]


def test_a_claim_left_by_a_process_that_died_mid_hide_expires(world):
    hider = SlowHider()
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=hider))
    alert_id = world.raise_alert("her address is 1 Oak Lane", [("confidentiality", "high")])
    url = link(world, alert_id, "sam", "hide")
    with world.sessions.begin() as s:  # claimed by a process that was killed during the platform call
        s.execute(update(Item).values(hide_claimed_at=world.clock()))
    assert press(app, url, 1) == [409] and hider.calls == 0
    world.clock.set(world.clock() + HIDE_CLAIM_TIMEOUT + timedelta(seconds=1))
    assert press(app, url, 1) == [200] and hider.calls == 1
