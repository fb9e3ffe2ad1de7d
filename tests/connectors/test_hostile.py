"""Connectors against a hostile API on 127.0.0.1: slow, huge, malformed, redirecting, HTML."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.base import Misconfigured, TemporaryFailure
from connectors.facebook import FacebookConnector
from connectors.testing import Sleeps, drain
from monitor.core.settings import AccountConfig
from tests.connectors.hostile import PAGE_ID, Hostile, Served


@pytest.fixture
def hostile(clock):
    api = Hostile(clock.now)
    with Served(api.app()) as served:
        yield api, served


def facebook(served: Served, mode: str, clock, **limits) -> FacebookConnector:
    acc = AccountConfig(platform="facebook", id=PAGE_ID, token_env="T", api_base=served.base(mode), **limits)
    return FacebookConnector(acc, "page-token", httpx.AsyncClient(), clock, sleep=Sleeps())


def run(conn, cursors=None, store=None):
    async def go():
        try:
            # a guard for the test itself, far above the deadline under test
            return await asyncio.wait_for(drain(conn, {} if cursors is None else cursors, store), 30)
        finally:
            await conn.http.client.aclose()
    return asyncio.run(go())


def test_the_hostile_server_serves_a_good_feed_when_asked(hostile, clock):
    api, served = hostile
    items = run(facebook(served, "ok", clock))
    assert {i.kind for i in items} == {"post", "comment"}


def test_a_server_that_trickles_a_byte_at_a_time_fails_the_request_at_its_deadline(hostile, clock):
    api, served = hostile
    with pytest.raises(TemporaryFailure, match="deadline"):
        run(facebook(served, "trickle", clock, request_deadline=1))
    assert api.requests["trickle"] == 1  # a stalled server is not asked again in this cycle


@pytest.mark.parametrize("mode", ["oversized", "chunked"])
def test_an_answer_larger_than_the_configured_size_is_refused(hostile, clock, mode):
    api, served = hostile
    with pytest.raises(TemporaryFailure, match="refused"):
        run(facebook(served, mode, clock, max_response_mb=1))
    assert api.requests[mode] == 1


def test_malformed_items_are_skipped_and_counted_and_the_rest_of_the_page_is_stored(hostile, clock, caplog):
    api, served = hostile
    conn = facebook(served, "malformed", clock)
    cursors: dict = {}
    batches = []

    async def go():
        async for b in conn.fetch(cursors):
            batches.append(b)
        await conn.http.client.aclose()

    caplog.set_level("WARNING")
    asyncio.run(go())
    stored = {i.external_id for b in batches for i in b.items}
    assert stored == {f"{PAGE_ID}_1", f"{PAGE_ID}_1_c1"}
    assert sum(b.unreadable for b in batches) == 5
    logged = caplog.text
    assert f"item {PAGE_ID}_90 skipped: created_time is not a time" in logged
    assert f"item {PAGE_ID}_91 skipped: message is not text" in logged
    assert f"item {PAGE_ID}_92 skipped: from is not an object" in logged
    assert "item (no id) skipped: (item) is not an object" in logged
    assert "open day" not in logged and "Miss Sarah" not in logged  # ids only, never text


def test_a_redirect_is_a_configuration_error_after_one_request(hostile, clock):
    api, served = hostile
    with pytest.raises(Misconfigured, match="redirect to login.example.net"):
        run(facebook(served, "redirect", clock))
    assert api.requests["redirect"] == 1


@pytest.mark.parametrize("mode", ["html", "html200"])
def test_an_html_error_page_is_retried_within_the_budget_then_reported(hostile, clock, mode):
    api, served = hostile
    with pytest.raises(TemporaryFailure, match="5 attempts"):
        run(facebook(served, mode, clock))
    assert api.requests[mode] == 5
