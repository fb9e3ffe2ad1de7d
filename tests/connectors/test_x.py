"""X connector: mentions with since_id, replies in the account's conversations, limits, hide."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from connectors.base import AuthFailed, HideRefused, RateLimited, TemporaryFailure
from connectors.testing import Sleeps, drain
from connectors.x import XConnector
from connectors.x.parse import id_time
from tests.connectors.helpers import NOW, Recorder, account, load


def connector(client, clock, **options):
    return XConnector(account("x", "900", **options), "x-token", client, clock, sleep=Sleeps())


class Api:
    """Answers like X: mentions in two pages, own posts, a conversation search."""

    def __init__(self):
        self.quiet = False

    def __call__(self, request):
        p, q = request.url.path, request.url.params
        if p == "/2/users/900/mentions":
            if self.quiet or q.get("since_id"):
                return httpx.Response(200, json=load("x", "empty.json"))
            name = "mentions_p2.json" if q.get("pagination_token") else "mentions_p1.json"
            return httpx.Response(200, json=load("x", name), headers={"x-rate-limit-remaining": "448",
                                                                       "x-rate-limit-reset": "1795000000"})
        if p == "/2/users/900/tweets":
            return httpx.Response(200, json=load("x", "own_posts.json"))
        if p == "/2/tweets/search/recent":
            if self.quiet or q.get("since_id") != "2124473215349686272":
                return httpx.Response(200, json=load("x", "empty.json"))
            return httpx.Response(200, json=load("x", "search_conversations.json"))
        return httpx.Response(404, json={"title": "Not Found Error"})


def test_mentions_and_conversation_replies_once_each(clock):
    api = Api()
    rec = Recorder(api)
    cursors: dict = {}
    store: dict = {}
    items = asyncio.run(drain(connector(rec.client(), clock), cursors, store))
    assert set(store) == {"2124474221982646272", "2124473970324406272", "2124473467007926272",
                          "2124474473640886272"}
    deep = store["2124474473640886272"]
    assert deep.kind == "reply" and deep.parent_external_id == "2124473970324406272" and deep.can_hide
    assert deep.author_name == "A Third Parent"
    assert deep.created_at == datetime(2026, 11, 22, 19, 0, tzinfo=timezone.utc)
    assert cursors[("mentions", "")] == {"since_id": "2124474221982646272"}
    assert cursors[("replies", "")]["since_id"] == "2124474473640886272"
    search = next(r for r in rec.requests if r.url.path.endswith("/search/recent"))
    assert search.url.params["query"] == "conversation_id:2124473215349686272"
    assert len(items) == 5  # one reply came in both streams; the store kept it once

    clock.advance(minutes=5)
    n = len(rec.requests)
    assert asyncio.run(drain(connector(rec.client(), clock), cursors)) == []
    second = rec.requests[n:]
    assert [r.url.path for r in second] == ["/2/users/900/mentions", "/2/tweets/search/recent"]
    assert second[0].url.params["since_id"] == "2124474221982646272"
    assert second[1].url.params["since_id"] == "2124474473640886272"


def test_429_pauses_until_the_reset_without_retrying(clock):
    reset = int((NOW + timedelta(minutes=9)).timestamp())
    rec = Recorder(lambda r: httpx.Response(429, json=load("x", "429.json"), headers={"x-rate-limit-reset": str(reset)}))
    with pytest.raises(RateLimited) as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1
    assert err.value.until == datetime.fromtimestamp(reset + 1, timezone.utc)


def test_a_usage_cap_is_not_retried(clock):
    rec = Recorder(lambda r: httpx.Response(429, json=load("x", "usage_capped.json")))
    with pytest.raises(RateLimited, match="usage cap") as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1 and err.value.until >= NOW + timedelta(hours=24)


def test_no_remaining_calls_pauses_before_the_next_request(clock):
    reset = int((NOW + timedelta(minutes=3)).timestamp())

    def answer(request):
        return httpx.Response(200, json=load("x", "mentions_p1.json"),
                              headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})

    rec = Recorder(answer)
    store: dict = {}
    cursors: dict = {}
    with pytest.raises(RateLimited):
        asyncio.run(drain(connector(rec.client(), clock), cursors, store))
    assert len(rec.requests) == 1
    assert len(store) == 2 and ("mentions", "") not in cursors  # stored, but the walk is not done


def test_401_is_an_auth_failure(clock):
    rec = Recorder(lambda r: httpx.Response(401, json=load("x", "401.json")))
    with pytest.raises(AuthFailed):
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1


def test_hide_a_reply_and_refusal(clock):
    def answer(request):
        if request.url.path == "/2/tweets/2124474473640886272/hidden":
            assert request.method == "PUT" and request.content == b'{"hidden":true}'
            return httpx.Response(200, json=load("x", "hidden.json"))
        return httpx.Response(403, json={"title": "Forbidden", "type": "about:blank", "status": 403})

    conn = connector(Recorder(answer).client(), clock)
    asyncio.run(conn.hide("2124474473640886272"))
    with pytest.raises(HideRefused, match="own posts"):
        asyncio.run(conn.hide("2124474221982646272"))


def test_a_week_without_replies_does_not_send_a_since_id_search_would_refuse(clock):
    api = Api()
    rec = Recorder(api)
    cursors: dict = {}
    asyncio.run(drain(connector(rec.client(), clock), cursors))
    api.quiet = True
    clock.advance(days=7)
    n = len(rec.requests)
    asyncio.run(drain(connector(rec.client(), clock), cursors))
    search = [r for r in rec.requests[n:] if r.url.path.endswith("/search/recent")]
    assert search == []  # the only conversation is now older than recent search reaches
    clock.advance(days=-2)
    n = len(rec.requests)
    asyncio.run(drain(connector(rec.client(), clock), cursors))
    for r in [r for r in rec.requests[n:] if r.url.path.endswith("/search/recent")]:
        assert id_time(r.url.params["since_id"]) >= clock.now - timedelta(days=7)


def test_5xx_and_bad_json_are_retried_inside_the_budget_then_the_cycle_ends(clock):
    sleeps = Sleeps()
    rec = Recorder(lambda r: httpx.Response(503, text="<html>busy</html>"))
    conn = XConnector(account("x", "900"), "x-token", rec.client(), clock, sleep=sleeps)
    with pytest.raises(TemporaryFailure):
        asyncio.run(drain(conn, {}))
    assert len(rec.requests) == 5 and len(sleeps.calls) == 4 and max(sleeps.calls) <= 16
