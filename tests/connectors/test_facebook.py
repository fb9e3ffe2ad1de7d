"""Facebook Page connector: feed, every comment level, incremental runs, errors, hide."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest

from connectors.base import AuthFailed, HideRefused, Misconfigured, PermissionMissing, RateLimited, TemporaryFailure
from connectors.facebook import FacebookConnector
from connectors.fakeserver import FakePage, make_app
from connectors.testing import Sleeps, drain
from monitor.core.types import KnownItem
from tests.connectors.helpers import NOW, Recorder, account, load


def connector(client, clock, sleep=None, **options):
    return FacebookConnector(account("facebook", "1000", **options), "page-token", client, clock, sleep=sleep or Sleeps())


def recorded(request: httpx.Request) -> httpx.Response:
    """Answers from tests/connectors/fixtures/facebook by path and `after` cursor."""
    path, after = request.url.path, request.url.params.get("after")
    files = {
        ("/v21.0/1000/feed", None): "feed_p1.json",
        ("/v21.0/1000/feed", "QVFIUm2"): "feed_p2.json",
        ("/v21.0/1000_2001/comments", "QVFIUk1"): "comments_1000_2001_p2.json",
    }
    return httpx.Response(200, json=load("facebook", files[(path, after)]))


def test_it_reads_every_post_and_every_comment_level_across_pages(clock):
    rec = Recorder(recorded)
    cursors: dict = {}
    items = asyncio.run(drain(connector(rec.client(), clock), cursors))

    by_id = {i.external_id: i for i in items}
    assert set(by_id) == {"1000_2001", "1000_2002", "1000_2003", "2001_3001", "2001_3002", "2001_3003", "2003_3010"}
    assert len(items) == len(by_id)
    reply = by_id["2001_3003"]
    assert reply.kind == "reply" and reply.parent_external_id == "2001_3001" and reply.can_hide is True
    assert by_id["2001_3002"].kind == "comment" and by_id["2001_3002"].parent_external_id == "1000_2001"
    assert by_id["2003_3010"].text == "Great photos"  # no id in the answer: taken from the permalink
    assert by_id["1000_2001"].kind == "post" and by_id["1000_2001"].author_name == "A Visitor"
    assert len(rec.requests) == 3  # two feed pages, one extra comments page
    first = rec.requests[0]
    assert "comments.filter(stream).order(reverse_chronological)" in first.url.params["fields"]
    assert "parent{id}" in first.url.params["fields"]
    assert first.headers["authorization"] == "Bearer page-token"
    assert all("access_token" not in str(r.url) for r in rec.requests)  # the token never rides in a URL
    assert rec.requests[1].url.host == "graph.test"  # next links follow the configured api_base
    assert cursors[("comments", "1000_2001")]["newest"].startswith("2026-11-22T10:00")


def test_a_second_run_stores_nothing_twice(clock):
    rec = Recorder(recorded)
    cursors: dict = {}
    asyncio.run(drain(connector(rec.client(), clock), cursors))
    again = asyncio.run(drain(connector(rec.client(), clock), cursors))
    assert again == []


def fake(world: FakePage) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(world)))


def test_a_quiet_page_costs_one_request_and_a_new_reply_on_an_old_post_is_found(clock):
    world = FakePage()
    old = world.add_post(NOW - timedelta(days=40), "Harvest festival")
    first = world.add_comment(old, NOW - timedelta(days=39), "Lovely")
    for n in range(60):  # a busy thread, more than one page
        world.add_comment(old, NOW - timedelta(days=38, minutes=-n), f"Comment {n}")
    recent = world.add_post(NOW - timedelta(days=1), "Bake sale")
    cursors: dict = {}
    conn = connector(fake(world), clock, comments_embedded=25, comments_per_page=25)
    store: dict = {}
    asyncio.run(drain(conn, cursors, store))
    assert set(store) == world.all_ids()

    before = world.requests
    clock.advance(minutes=5)
    assert asyncio.run(drain(conn, cursors, store)) == []
    assert world.requests - before == 1

    reply = world.add_comment(old, NOW + timedelta(minutes=7), "Who was with my son on Tuesday?", parent=first)
    other = world.add_comment(recent, NOW + timedelta(minutes=8), "Yum")
    clock.advance(minutes=5)
    before = world.requests
    new = asyncio.run(drain(conn, cursors, store))
    assert {i.external_id for i in new} == {reply, other}
    assert world.requests - before == 1  # both new comments were in the embedded first pages
    assert next(i for i in new if i.external_id == reply).parent_external_id == first


def test_a_reread_against_the_fake_page_reports_an_edit_a_hide_and_a_deletion_in_few_requests(clock):
    # the benchmark's fake Graph API answers the multi-id read the hourly re-read uses (GET /?ids=a,b)
    world = FakePage()
    post = world.add_post(NOW - timedelta(days=1), "Bake sale")
    ids = [world.add_comment(post, NOW - timedelta(hours=20, minutes=-n), f"Comment {n}") for n in range(120)]
    known = [KnownItem(i, f"Comment {n}", False) for n, i in enumerate(ids)]
    by_id = {c["id"]: c for c in world.comments[post]}
    by_id[ids[3]]["message"] = "my son came home with a bruise"
    by_id[ids[50]]["is_hidden"] = True
    world.comments[post].remove(by_id[ids[100]])
    conn = connector(fake(world), clock)

    before = world.requests
    changes = {c.external_id: c for c in asyncio.run(conn.recheck(known))}

    assert changes[ids[3]].text == "my son came home with a bruise" and changes[ids[3]].is_hidden is None
    assert changes[ids[50]].is_hidden is True and changes[ids[50]].text is None
    assert changes[ids[100]].deleted
    assert set(changes) == {ids[3], ids[50], ids[100]}
    # three reads of 50 ids; the one holding the deleted comment is refused whole and read one by one
    assert world.requests - before == 3 + 20


def test_a_long_new_thread_is_followed_page_by_page_then_stops_at_the_watermark(clock):
    world = FakePage()
    post = world.add_post(NOW - timedelta(days=3))
    world.add_comment(post, NOW - timedelta(days=2), "old")
    cursors: dict = {}
    conn = connector(fake(world), clock, comments_embedded=10, comments_per_page=20)
    asyncio.run(drain(conn, cursors))
    for n in range(35):
        world.add_comment(post, NOW - timedelta(minutes=60 - n), f"new {n}")
    before = world.requests
    new = asyncio.run(drain(conn, cursors))
    assert len(new) == 35
    assert world.requests - before == 3  # feed, then pages of 20 down to the watermark, not the whole history


def error_client(*answers):
    """Answer with the given (status, fixture name or dict, headers) in turn, then the last again."""
    queue = list(answers)

    def answer(request):
        status, body, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        body = load("facebook", body) if isinstance(body, str) else body
        return httpx.Response(status, json=body, headers=headers or {})

    return Recorder(answer)


@pytest.mark.parametrize("status", [400, 403])
def test_a_throttle_code_pauses_the_account_without_retrying(clock, status):
    rec = error_client((status, "throttle_4.json", None))
    with pytest.raises(RateLimited) as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1
    assert err.value.until >= NOW + timedelta(minutes=5)


def test_a_page_throttle_waits_as_long_as_meta_says(clock):
    usage = {"1000": [{"type": "pages", "call_count": 100, "total_cputime": 10, "total_time": 10,
                       "estimated_time_to_regain_access": 42}]}
    rec = error_client((400, "throttle_80001.json", {"X-Business-Use-Case-Usage": json.dumps(usage)}))
    with pytest.raises(RateLimited) as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert err.value.until == NOW + timedelta(minutes=42)
    assert len(rec.requests) == 1


def test_it_slows_down_and_then_stops_before_the_usage_limit(clock):
    pages = [
        {"X-App-Usage": json.dumps({"call_count": 80, "total_cputime": 5, "total_time": 5})},
        {"X-App-Usage": json.dumps({"call_count": 93, "total_cputime": 5, "total_time": 5})},
    ]
    feed = load("facebook", "feed_p1.json")

    def answer(request):
        n = len(rec.requests)
        return httpx.Response(200, json=feed, headers=pages[min(n, 2) - 1])

    rec = Recorder(answer)
    sleeps = Sleeps()
    cursors: dict = {}
    with pytest.raises(RateLimited):
        asyncio.run(drain(connector(rec.client(), clock, sleep=sleeps), cursors))
    assert len(rec.requests) == 2  # the third call was never sent
    assert sleeps.calls and sleeps.calls[0] >= 1  # it slowed down at 80%
    assert ("comments", "1000_2001") not in cursors  # that post's thread was not finished: no cursor


def test_an_expired_token_is_an_auth_failure_not_retried(clock):
    rec = error_client((400, "token_expired_463.json", None))
    with pytest.raises(AuthFailed) as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert not isinstance(err.value, PermissionMissing)
    assert "463" in err.value.detail and "expired" in err.value.detail
    assert len(rec.requests) == 1


@pytest.mark.parametrize("name, permission", [("permission_10.json", "pages_read_engagement"),
                                              ("permission_200.json", "pages_read_engagement")])
def test_a_missing_permission_says_which(clock, name, permission):
    rec = error_client((403, name, None))
    with pytest.raises(PermissionMissing) as err:
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert err.value.permission == permission
    assert len(rec.requests) == 1


def test_an_unknown_page_is_misconfigured(clock):
    rec = error_client((400, "unknown_object_100.json", None))
    with pytest.raises(Misconfigured):
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1


def test_5xx_and_transient_codes_are_retried_with_backoff_inside_a_budget(clock):
    sleeps = Sleeps()
    rec = error_client((500, {"error": {"code": 2, "message": "x"}}, None), (400, "transient_2.json", None),
                       (200, load("facebook", "feed_p2.json"), None))
    items = asyncio.run(drain(connector(rec.client(), clock, sleep=sleeps), {}))
    assert {i.external_id for i in items} == {"1000_2003", "2003_3010"}
    assert len(rec.requests) == 3 and len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0 and 1.0 <= sleeps.calls[1] <= 2.0  # exponential, jittered


def test_a_fault_that_persists_ends_the_cycle_after_the_budget(clock):
    sleeps = Sleeps()
    rec = error_client((503, {"error": {"code": 2, "is_transient": True, "message": "x"}}, None))
    with pytest.raises(TemporaryFailure):
        asyncio.run(drain(connector(rec.client(), clock, sleep=sleeps), {}))
    assert len(rec.requests) == 5 and len(sleeps.calls) == 4


def test_malformed_json_and_timeouts_are_retried(clock):
    calls = []

    def answer(request):
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(calls) == 2:
            return httpx.Response(200, content=b'{"data": [', headers={"content-type": "application/json"})
        return httpx.Response(200, json=load("facebook", "feed_p2.json"))

    items = asyncio.run(drain(connector(Recorder(answer).client(), clock), {}))
    assert len(items) == 2 and len(calls) == 3


def test_a_repeated_page_token_is_a_loop_not_a_hang(clock):
    looping = {"data": [], "paging": {"next": "https://graph.facebook.com/v21.0/1000/feed?after=SAME"}}
    rec = error_client((200, looping, None))
    cursors: dict = {}
    with pytest.raises(TemporaryFailure, match="repeated a page token"):
        asyncio.run(drain(connector(rec.client(), clock), cursors))
    assert len(rec.requests) == 2 and cursors == {}


def test_empty_pages_that_still_link_onwards_are_followed_then_given_up(clock):
    n = iter(range(1000))
    rec = Recorder(lambda r: httpx.Response(200, json={"data": [], "paging": {
        "next": f"https://graph.facebook.com/v21.0/1000/feed?after=E{next(n)}"}}))
    with pytest.raises(TemporaryFailure, match="empty pages"):
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 5


def test_hide_respects_can_hide_and_reports_refusals(clock):
    world = FakePage()
    post = world.add_post(NOW - timedelta(days=1))
    cid = world.add_comment(post, NOW - timedelta(hours=1), "text")
    conn = connector(fake(world), clock)
    asyncio.run(conn.hide(cid))
    assert world.comments[post][0]["is_hidden"] is True
    world.comments[post][0]["can_hide"] = False
    with pytest.raises(HideRefused, match="can_hide"):
        asyncio.run(conn.hide(cid, hidden=False))
    with pytest.raises(HideRefused):
        asyncio.run(conn.hide("1000_999999"))


def test_a_pause_ends_by_itself_on_the_next_cycle(clock):
    usage = {"1000": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 10}]}
    answers = [(400, "throttle_80001.json", {"X-Business-Use-Case-Usage": json.dumps(usage)}),
               (200, load("facebook", "feed_p2.json"), None)]
    rec = error_client(*answers)
    conn = connector(rec.client(), clock)
    with pytest.raises(RateLimited):
        asyncio.run(drain(conn, {}))
    with pytest.raises(RateLimited):  # still paused: nothing sent
        asyncio.run(drain(conn, {}))
    assert len(rec.requests) == 1
    clock.advance(minutes=11)
    assert len(asyncio.run(drain(conn, {}))) == 2


def test_a_thread_too_long_to_page_keeps_what_was_read(clock):
    def answer(request):
        if request.url.path.endswith("/comments"):
            return httpx.Response(400, json={"error": {"code": 100, "type": "OAuthException", "message":
                                  "(#100) The After Cursor specified exceeds the max limit supported by this endpoint"}})
        return httpx.Response(200, json=load("facebook", "feed_p1.json") if "after" not in request.url.params
                              else load("facebook", "feed_p2.json"))

    cursors: dict = {}
    items = asyncio.run(drain(connector(Recorder(answer).client(), clock), cursors))
    assert {"2001_3002", "2001_3003", "2003_3010"} <= {i.external_id for i in items}
    assert cursors[("comments", "1000_2001")]["newest"].startswith("2026-11-22T10:00")
