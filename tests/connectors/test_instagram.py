"""Instagram connector: media, comments with replies, stop at what is stored, tags, errors, hide."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from connectors.base import AuthFailed, HideRefused, RateLimited
from connectors.instagram import InstagramConnector
from connectors.testing import Sleeps, drain
from tests.connectors.helpers import NOW, Recorder, account, load


def connector(client, clock, **options):
    return InstagramConnector(account("instagram", "900", **options), "ig-token", client, clock, sleep=Sleeps())


def recorded(request: httpx.Request) -> httpx.Response:
    path, after = request.url.path, request.url.params.get("after")
    files = {
        ("/v21.0/900/media", None): "media_p1.json",
        ("/v21.0/17900000000000001/comments", None): "comments_17900000000000001_p1.json",
        ("/v21.0/17900000000000001/comments", "QVFIUk1"): "comments_17900000000000001_p2.json",
        ("/v21.0/900/tags", None): "tags.json",
    }
    return httpx.Response(200, json=load("instagram", files[(path, after)]))


def test_it_reads_media_comments_replies_and_tags(clock):
    rec = Recorder(recorded)
    cursors: dict = {}
    items = asyncio.run(drain(connector(rec.client(), clock), cursors))
    by_id = {i.external_id: i for i in items}
    assert set(by_id) == {"17900000000000001", "17900000000000002", "17800000000000001", "17800000000000002",
                          "17800000000000003", "17900000000000009"}
    reply = by_id["17800000000000002"]
    assert reply.kind == "reply" and reply.parent_external_id == "17800000000000001"
    assert by_id["17800000000000003"].parent_external_id == "17900000000000001"
    assert by_id["17900000000000009"].kind == "mention"
    paths = [r.url.path for r in rec.requests]
    assert "/v21.0/17900000000000002/comments" not in paths  # no comments: not asked
    assert "replies{" in rec.requests[1].url.params["fields"]
    assert cursors[("comments", "17900000000000001")]["count"] == 3


class World:
    """A tiny Instagram: media with top-level comments (newest first) and replies."""

    def __init__(self):
        self.media: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self.requests = 0
        self.n = 100

    def add_media(self, when):
        mid = f"179{self.n}"
        self.n += 1
        self.media[mid] = {"id": mid, "caption": "A day out", "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                           "username": "littleacorns"}
        self.comments[mid] = []
        return mid

    def add_comment(self, mid, when, text="Nice", parent=None):
        cid = f"178{self.n}"
        self.n += 1
        c = {"id": cid, "text": text, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S+0000"), "username": "someone",
             "hidden": False}
        if parent:
            top = next(t for t in self.comments[mid] if t["id"] == parent)
            top.setdefault("replies", {"data": []})["data"].append({**c, "parent_id": parent})
        else:
            self.comments[mid].append(c)
        return cid

    def count(self, mid):
        return sum(1 + len(c.get("replies", {}).get("data", [])) for c in self.comments[mid])

    def __call__(self, request):
        self.requests += 1
        parts = request.url.path.split("/")
        obj, edge = parts[2], parts[3] if len(parts) > 3 else None
        if edge == "media":
            data = [{**m, "comments_count": self.count(m["id"])} for m in self.media.values()]
            return httpx.Response(200, json={"data": data})
        if edge == "tags":
            return httpx.Response(200, json={"data": []})
        if edge == "comments":
            after = int(request.url.params.get("after", 0))
            limit = int(request.url.params.get("limit", 50))
            newest_first = sorted(self.comments[obj], key=lambda c: c["timestamp"], reverse=True)
            body = {"data": newest_first[after : after + limit]}
            if after + limit < len(newest_first):
                body["paging"] = {"next": f"https://graph.facebook.com/v21.0/{obj}/comments?after={after + limit}"}
            return httpx.Response(200, json=body)
        return httpx.Response(400, json={"error": {"code": 100, "message": "(#100) unknown"}})


def test_unchanged_media_cost_nothing_and_paging_stops_at_what_is_stored(clock):
    world = World()
    mid = world.add_media(NOW - timedelta(days=20))
    for n in range(120):
        world.add_comment(mid, NOW - timedelta(days=19, minutes=-n))
    conn = connector(httpx.AsyncClient(transport=httpx.MockTransport(world)), clock)
    cursors: dict = {}
    store: dict = {}
    asyncio.run(drain(conn, cursors, store))
    assert len(store) == 121

    clock.advance(minutes=5)
    before = world.requests
    assert asyncio.run(drain(conn, cursors, store)) == []
    assert world.requests - before == 2  # media list and tags; the unchanged media is not read

    new = world.add_comment(mid, NOW + timedelta(minutes=6), "Who took my daughter's photo?")
    clock.advance(minutes=5)
    before = world.requests
    got = asyncio.run(drain(conn, cursors, store))
    assert [i.external_id for i in got] == [new]
    assert world.requests - before == 3  # media, the first page of comments, tags: not all three pages


def test_a_new_reply_under_an_old_comment_is_found(clock):
    world = World()
    mid = world.add_media(NOW - timedelta(days=20))
    old = world.add_comment(mid, NOW - timedelta(days=19))
    for n in range(80):
        world.add_comment(mid, NOW - timedelta(days=18, minutes=-n))
    conn = connector(httpx.AsyncClient(transport=httpx.MockTransport(world)), clock)
    cursors: dict = {}
    asyncio.run(drain(conn, cursors))
    reply = world.add_comment(mid, NOW + timedelta(minutes=1), "replying late", parent=old)
    clock.advance(minutes=5)
    got = asyncio.run(drain(conn, cursors))
    assert [i.external_id for i in got] == [reply] and got[0].parent_external_id == old


def test_a_throttle_or_lost_token_stops_at_once(clock):
    for body, exc in [({"error": {"code": 80002, "message": "(#80002) too many calls"}}, RateLimited),
                      ({"error": {"code": 190, "error_subcode": 460, "message": "password changed"}}, AuthFailed)]:
        rec = Recorder(lambda r, body=body: httpx.Response(400, json=body))
        with pytest.raises(exc):
            asyncio.run(drain(connector(rec.client(), clock), {}))
        assert len(rec.requests) == 1


def test_missing_tags_permission_does_not_stop_the_comments(clock):
    def answer(request):
        if request.url.path.endswith("/tags"):
            return httpx.Response(403, json={"error": {"code": 10, "message": "(#10) requires instagram_basic"}})
        return recorded(request)

    items = asyncio.run(drain(connector(Recorder(answer).client(), clock), {}))
    assert len(items) == 5


def test_hide_sends_hide_true_and_reports_refusal(clock):
    def answer(request):
        if request.url.path.endswith("/17800000000000001"):
            assert request.method == "POST" and request.url.params["hide"] == "true"
            return httpx.Response(200, json={"success": True})
        return httpx.Response(400, json={"error": {"code": 100, "message": "(#100) cannot hide own comment"}})

    conn = connector(Recorder(answer).client(), clock)
    asyncio.run(conn.hide("17800000000000001"))
    with pytest.raises(HideRefused):
        asyncio.run(conn.hide("17800000000000002"))
