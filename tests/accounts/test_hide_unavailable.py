"""An alert for an account that cannot hide (an X app-only token) offers no hide button and says why."""
from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from alerts.testing import make_world
from monitor.core.models import Recipient
from monitor.web import WebDeps, create_app

WHY = "this X account is watched with an app-only token, which can read replies but not hide them"


async def _noop_hide(account_id, external_id):
    raise AssertionError("must not be offered")


def page(world, hide_unavailable):
    alert_id = world.raise_alert("a reply that worries us", platform="x")
    with world.sessions() as s:
        dsl = s.scalar(select(Recipient).where(Recipient.email == "dana@acorns.example"))
    url = world.env.signer.url("ack", alert_id, dsl.id)
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=_noop_hide, hide_unavailable=hide_unavailable))

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://watch.acorns.example") as c:
            return await c.get(url)
    return asyncio.run(go())


def test_an_app_only_x_account_gets_no_hide_button_and_the_reason(tmp_path):
    world = make_world(tmp_path)
    try:
        resp = page(world, lambda account_id: WHY)
        assert resp.status_code == 200
        assert "/h/" not in resp.text and f"No hide button: {WHY}" in resp.text
    finally:
        world.close()


def test_an_account_that_can_hide_still_gets_the_button(tmp_path):
    world = make_world(tmp_path)
    try:
        resp = page(world, lambda account_id: None)
        assert "/h/" in resp.text and "No hide button" not in resp.text
    finally:
        world.close()
