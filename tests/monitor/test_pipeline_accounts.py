"""Connector failures through the real pipeline: one reconnect email, back-off, recovery."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from monitor.core.models import Account, Item, OutboxMessage
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from monitor.core.types import Classification
from tests.connectors.helpers import load


class Quiet:
    """A classifier that finds nothing: these tests are about fetching."""

    def classify(self, text, platform=None, rating=None):
        return Classification()

    def classify_batch(self, items):
        return [Classification() for _ in items]


class Graph:
    """A scripted Graph API: `mode` picks the answer for every request."""

    def __init__(self):
        self.mode = "ok"
        self.requests = 0

    def __call__(self, request):
        self.requests += 1
        if self.mode == "expired":
            return httpx.Response(400, json=load("facebook", "token_expired_463.json"))
        if self.mode == "throttled":
            return httpx.Response(400, json=load("facebook", "throttle_4.json"))
        if self.mode == "unknown":
            return httpx.Response(400, json=load("facebook", "unknown_object_100.json"))
        if self.mode == "bug":
            return httpx.Response(200, json={"data": [{"id": "1000_1", "created_time": "not a time"}]})
        return httpx.Response(200, json=load("facebook", "feed_p2.json"))


@pytest.fixture
def setup(make_config, sessions, clock, monkeypatch):
    monkeypatch.setenv("FB_TOKEN", "token-one")
    graph = Graph()
    config = make_config(accounts=[
        {"platform": "facebook", "id": "1000", "token_env": "FB_TOKEN", "api_base": "https://graph.test/v21.0"},
        {"platform": "demo", "id": "page-1"},
    ])

    def runtime():
        http = httpx.AsyncClient(transport=httpx.MockTransport(graph))
        return build_runtime(config, clock=clock, sessions=sessions, http=http, classifier=Quiet())

    return graph, runtime, sessions


def cycle(rt):
    return asyncio.run(run_cycle(rt))


def account(sessions) -> Account:
    with sessions() as s:
        return s.scalar(select(Account).where(Account.platform == "facebook"))


def reconnect_mails(sessions) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reconnect")))


def test_an_expired_token_sends_one_reconnect_email_and_stops_polling_until_it_changes(setup, clock, monkeypatch, caplog):
    graph, runtime, sessions = setup
    graph.mode = "expired"
    rt = runtime()
    for _ in range(4):
        cycle(rt)
        clock.advance(minutes=5)
    assert graph.requests == 1  # polled once, then waited for a person
    mails = reconnect_mails(sessions)
    assert len(mails) == 1 and mails[0].address == "manager@example.org"  # the admin
    acc = account(sessions)
    assert acc.state == "needs_reconnect" and "463" in acc.last_error
    assert "token-one" not in caplog.text

    monkeypatch.setenv("FB_TOKEN", "token-two")
    graph.mode = "ok"
    rt = runtime()  # a restart picks up the new token
    cycle(rt)
    acc = account(sessions)
    assert acc.state == "ok" and acc.failures == 0 and acc.last_success_at == clock.now
    with sessions() as s:
        assert s.scalar(select(Item).where(Item.external_id == "2003_3010")) is not None


def test_a_throttled_account_waits_out_its_pause_while_the_others_go_on(setup, clock):
    graph, runtime, sessions = setup
    graph.mode = "throttled"
    rt = runtime()
    cycle(rt)
    acc = account(sessions)
    assert acc.state == "backing_off" and acc.backoff_until == clock.now + timedelta(minutes=15)
    with sessions() as s:
        assert s.scalar(select(Item).where(Item.platform == "demo")) is not None
    graph.mode = "ok"
    for _ in range(2):
        clock.advance(minutes=5)
        cycle(rt)
    assert graph.requests == 1  # nothing sent while paused
    clock.advance(minutes=6)
    cycle(rt)
    assert graph.requests == 2 and account(sessions).state == "ok"
    assert reconnect_mails(sessions) == []


def test_a_misconfigured_account_is_looked_at_again_hourly(setup, clock):
    graph, runtime, sessions = setup
    graph.mode = "unknown"
    rt = runtime()
    cycle(rt)
    assert account(sessions).state == "misconfigured"
    clock.advance(minutes=30)
    cycle(rt)
    assert graph.requests == 1
    graph.mode = "ok"
    clock.advance(minutes=31)
    cycle(rt)
    assert graph.requests == 2 and account(sessions).state == "ok"


def test_a_connector_bug_fails_only_that_account(setup, clock, monkeypatch):
    graph, runtime, sessions = setup
    graph.mode = "bug"

    def broken(*args):
        raise RuntimeError("a bug, not bad data")

    monkeypatch.setattr("connectors.facebook.connector.post_item", broken)
    rt = runtime()
    report = cycle(rt)
    assert report.failed_accounts == [str(account(sessions).id)]
    assert "TemporaryFailure" in account(sessions).last_error
    with sessions() as s:
        assert s.scalar(select(Item).where(Item.platform == "demo")) is not None


def test_an_item_that_does_not_parse_is_skipped_and_counted_on_the_account_and_the_rest_is_stored(setup, clock):
    graph, runtime, sessions = setup
    graph.mode = "bug"  # one post with created_time "not a time"
    report = cycle(runtime())
    acc = account(sessions)
    assert report.failed_accounts == [] and acc.state == "ok" and acc.items_unreadable == 1
    graph.mode = "ok"
    cycle(runtime())
    acc = account(sessions)
    assert acc.items_unreadable == 1 and acc.items_seen > 0
