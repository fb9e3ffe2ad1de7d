"""Meta webhooks end to end: signed delivery -> queue -> targeted fetch -> alert
email over real SMTP, through the real Starlette app and a scripted Graph API."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from classifiers import build_classifier
from monitor.core.models import Account, Alert, AuditEvent, Item, OutboxMessage, WebhookEvent
from monitor.pipeline import run_cycle
from monitor.runtime import build_runtime
from monitor.web import MetaWebhook, WebDeps, create_app
from monitor.web.webhooks import sign
from monitor.webhook_events import process_and_alert
from monitor.core.settings import config_from_dict
from monitor.webhook_events import queue_event
from tests.conftest import base_settings
from tests.monitor.test_web import AppClient

SECRET, VERIFY = "app-secret-for-tests", "verify-me"
PAGE, POST = "1000", "1000_2001"
DISCLOSURE = "Amelia told me a member of staff grabbed her arm and left a bruise, she is scared to go back"


def graph_time(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+0000")


class Graph:
    """A scripted Graph API: objects by id, the feed, an Instagram mention node."""

    def __init__(self, clock):
        self.clock = clock
        self.objects: dict[str, dict] = {}
        self.feed: list[dict] = []
        self.requests: list[str] = []

    def comment(self, cid: str, text: str, minutes_ago: int = 1, **extra) -> dict:
        c = {"id": cid, "message": text, "created_time": graph_time(self.clock.now - timedelta(minutes=minutes_ago)),
             "from": {"id": "77", "name": "A Parent"}, "can_hide": True, "is_hidden": False,
             "permalink_url": f"https://www.facebook.com/{PAGE}/posts/2001/?comment_id={cid.split('_')[1]}", **extra}
        self.objects[cid] = c
        return c

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.split("/v21.0/")[1]
        self.requests.append(path)
        if path == f"{PAGE}/feed":
            return httpx.Response(200, json={"data": self.feed})
        if path in self.objects:
            return httpx.Response(200, json=self.objects[path])
        return httpx.Response(400, json={"error": {"message": "(#100) Object does not exist", "code": 100,
                                                    "type": "GraphMethodException"}})


def feed_change(cid: str, verb: str = "add", message: str | None = None, item: str = "comment") -> dict:
    value = {"item": item, "verb": verb, "comment_id": cid, "post_id": POST, "parent_id": POST,
             "from": {"id": "77", "name": "A Parent"}, "created_time": 1764493200}
    if message is not None:
        value["message"] = message
    return {"object": "page", "entry": [{"id": PAGE, "time": 1764493200, "changes": [{"field": "feed", "value": value}]}]}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """The real classifier, built once for the module (it takes a second or two)."""
    config = config_from_dict(base_settings("sqlite://", tmp_path_factory.mktemp("cfg")))
    return build_classifier(config.setting, config.roster)


@pytest.fixture
def world(make_config, smtp_server, sessions, clock, monkeypatch, classifier):
    monkeypatch.setenv("FB_TOKEN", "page-token")
    monkeypatch.setenv("META_APP_SECRET", SECRET)
    monkeypatch.setenv("META_VERIFY_TOKEN", VERIFY)
    graph = Graph(clock)
    config = make_config(
        smtp_port=smtp_server.port,
        accounts=[{"platform": "facebook", "id": PAGE, "token_env": "FB_TOKEN", "api_base": "https://graph.test/v21.0"}],
        webhooks={"meta": {"reconcile_every": "1h"}},
    )
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=classifier,
                       http=httpx.AsyncClient(transport=httpx.MockTransport(graph)))
    woken = []
    app = create_app(WebDeps(sessions=sessions, env=rt.alert_env, clock=clock,
                             meta_webhook=MetaWebhook(SECRET, VERIFY, on_queued=lambda: woken.append(1))))
    yield rt, graph, AppClient(app), woken
    asyncio.run(rt.aclose())


def post(client: AppClient, payload: dict | bytes, signature: str | None = "good") -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature == "good":
        headers["x-hub-signature-256"] = sign(SECRET, raw)
    elif signature is not None:
        headers["x-hub-signature-256"] = signature
    return client.post("/webhooks/meta", content=raw, headers=headers)


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_the_subscription_check_echoes_the_challenge_only_with_the_right_token(world):
    _rt, _graph, client, _ = world
    ok = client.get("/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                               "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = client.get("/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                                "hub.challenge": "1158201444"})
    assert bad.status_code == 403 and "1158201444" not in bad.text


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
def test_a_missing_or_wrong_signature_is_refused_and_stores_nothing(world, signature):
    rt, graph, client, woken = world
    graph.comment("2001_3001", DISCLOSURE)
    resp = post(client, feed_change("2001_3001"), signature=signature)
    assert resp.status_code == 401
    assert count(rt.sessions, WebhookEvent) == 0 and not woken


def test_a_body_signed_with_another_secret_is_refused(world):
    rt, _graph, client, _ = world
    raw = json.dumps(feed_change("2001_3001")).encode()
    resp = client.post("/webhooks/meta", content=raw, headers={"x-hub-signature-256": sign("not-the-secret", raw)})
    assert resp.status_code == 401 and count(rt.sessions, WebhookEvent) == 0


def test_a_signed_new_comment_becomes_a_delivered_email_once(world, smtp_server):
    rt, graph, client, woken = world
    graph.comment("2001_3001", DISCLOSURE)
    resp = post(client, feed_change("2001_3001"))  # ids only: the text comes from the fetch
    assert resp.status_code == 200 and woken == [1]
    assert count(rt.sessions, Item) == 0  # nothing done on the request itself

    report = asyncio.run(process_and_alert(rt))

    assert report.events == 1 and report.stored == 1
    assert "2001_3001" in graph.requests  # the targeted fetch
    mails = [m for _f, _t, m in smtp_server.handler.messages if m["To"] == "dsl@example.org"]
    assert len(mails) == 1 and "Safeguarding" in mails[0]["Subject"]
    with rt.sessions() as s:
        assert s.scalar(select(Account.webhook_since)) is not None

    # Meta retries the same delivery; polling then reads the same comment: still one item, one alert
    assert post(client, feed_change("2001_3001")).status_code == 200
    assert count(rt.sessions, WebhookEvent) == 1
    graph.feed = [{"id": POST, "created_time": graph_time(rt.clock() - timedelta(hours=1)), "message": "Sports day!",
                   "from": {"id": PAGE, "name": "Willowbrook"},
                   "comments": {"data": [graph.objects["2001_3001"]]}}]
    asyncio.run(run_cycle(rt))
    assert count(rt.sessions, Alert) == 1
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.external_id == "2001_3001")) == 1
    assert len([m for _f, _t, m in smtp_server.handler.messages if m["To"] == "dsl@example.org"]) == 1


def test_a_comment_gone_before_the_fetch_is_kept_from_the_payload_snippet(world):
    rt, _graph, client, _ = world
    post(client, feed_change("2001_3002", message=DISCLOSURE))
    asyncio.run(process_and_alert(rt))
    with rt.sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "2001_3002"))
        assert item.text == DISCLOSURE and item.classified_at is not None


def test_an_edit_of_an_unalerted_comment_is_classified_again(world, smtp_server):
    rt, graph, client, _ = world
    graph.comment("2001_3003", "Lovely photos from sports day")
    post(client, feed_change("2001_3003"))
    asyncio.run(process_and_alert(rt))
    assert count(rt.sessions, Alert) == 0

    graph.objects["2001_3003"]["message"] = DISCLOSURE
    post(client, feed_change("2001_3003", verb="edited"))
    asyncio.run(process_and_alert(rt))

    assert count(rt.sessions, Alert) == 1
    with rt.sessions() as s:
        assert s.scalar(select(Item.text).where(Item.external_id == "2001_3003")) == DISCLOSURE


def test_an_edit_after_an_alert_keeps_the_record_and_notes_what_the_new_wording_does(world):
    rt, graph, client, _ = world
    graph.comment("2001_3004", DISCLOSURE)
    post(client, feed_change("2001_3004"))
    asyncio.run(process_and_alert(rt))
    graph.objects["2001_3004"]["message"] = "Sorry, wrong page, please ignore"
    post(client, feed_change("2001_3004", verb="edited"))
    asyncio.run(process_and_alert(rt))
    post(client, feed_change("2001_3004", verb="edited"))  # Meta sends the same edit again: noted once
    asyncio.run(process_and_alert(rt))
    with rt.sessions() as s:
        assert s.scalar(select(Item.text).where(Item.external_id == "2001_3004")) == DISCLOSURE
        notes = [d["note"] for d in s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "note"))]
    assert notes == ["The comment was edited on the Facebook page (the wording shown here is the original); "
                     "the new wording no longer raises this concern."]


def test_hides_unhides_and_removals_mark_the_stored_comment(world):
    rt, graph, client, _ = world
    graph.comment("2001_3005", DISCLOSURE)
    post(client, feed_change("2001_3005"))
    asyncio.run(process_and_alert(rt))

    post(client, feed_change("2001_3005", verb="hide"))
    asyncio.run(process_and_alert(rt))
    with rt.sessions() as s:
        assert s.scalar(select(Item.is_hidden).where(Item.external_id == "2001_3005")) is True

    post(client, feed_change("2001_3005", verb="unhide"))
    post(client, feed_change("2001_3005", verb="remove"))
    asyncio.run(process_and_alert(rt))
    with rt.sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "2001_3005"))
        assert item.is_hidden is False and item.removed_at is not None
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.action == "removed_on_platform"))
    assert count(rt.sessions, Alert) == 1  # the record of concern stays


def test_an_instagram_mention_is_completed_through_the_account_node(make_config, sessions, clock, monkeypatch,
                                                                    classifier):
    monkeypatch.setenv("IG_TOKEN", "ig-token")
    seen = []

    def graph(request):
        seen.append(dict(request.url.params))
        return httpx.Response(200, json={"id": "17841400000000001", "mentioned_comment": {
            "id": "17887498072083520", "text": "@willowbrook my son came home hungry again", "username": "a_parent",
            "timestamp": "2026-11-23T08:58:00+0000", "media": {"id": "18000000000000009"}}})

    config = make_config(accounts=[{"platform": "instagram", "id": "17841400000000001", "token_env": "IG_TOKEN",
                                    "api_base": "https://graph.test/v21.0"}])
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=classifier,
                       http=httpx.AsyncClient(transport=httpx.MockTransport(graph)))
    body = {"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1519399310, "changes": [
        {"field": "mentions", "value": {"comment_id": "17887498072083520", "media_id": "18000000000000009"}}]}]}
    with sessions.begin() as s:
        queue_event(s, rt.setting_id, "meta", json.dumps(body).encode(), clock())
    asyncio.run(process_and_alert(rt))
    asyncio.run(rt.aclose())
    assert "mentioned_comment.comment_id(17887498072083520)" in seen[0]["fields"]
    with sessions() as s:
        item = s.scalar(select(Item))
        assert item.kind == "mention" and item.can_hide is False and item.parent_external_id == "18000000000000009"


def test_an_instagram_comment_that_comes_again_with_other_words_is_read_as_an_edit(make_config, sessions, clock,
                                                                                   monkeypatch, classifier):
    """Instagram's `comments` change has no verb: a stored comment arriving with new words is an edit."""
    monkeypatch.setenv("IG_TOKEN", "ig-token")
    now_text = {"text": "Lovely photos from sports day"}

    def graph(request):
        return httpx.Response(200, json={"id": "17900000000000001", "text": now_text["text"], "username": "a_parent",
                                         "from": {"id": "555", "username": "a_parent"},
                                         "timestamp": "2026-11-23T08:58:00+0000", "media": {"id": "18000000000000009"}})

    config = make_config(accounts=[{"platform": "instagram", "id": "17841400000000001", "token_env": "IG_TOKEN",
                                    "api_base": "https://graph.test/v21.0"}])
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=classifier,
                       http=httpx.AsyncClient(transport=httpx.MockTransport(graph)))
    body = json.dumps({"object": "instagram", "entry": [{"id": "17841400000000001", "time": 1519399310, "changes": [
        {"field": "comments", "value": {"id": "17900000000000001", "text": "(snippet)",
                                        "media": {"id": "18000000000000009"}}}]}]})
    with sessions.begin() as s:
        queue_event(s, rt.setting_id, "meta", body.encode(), clock())
    asyncio.run(process_and_alert(rt))
    assert count(sessions, Alert) == 0
    now_text["text"] = DISCLOSURE
    clock.advance(minutes=1)
    with sessions.begin() as s:
        queue_event(s, rt.setting_id, "meta", body.replace("(snippet)", "(snippet, edited)").encode(), clock())
    asyncio.run(process_and_alert(rt))
    asyncio.run(rt.aclose())
    assert count(sessions, Alert) == 1
    with sessions() as s:
        assert s.scalar(select(Item.text)) == DISCLOSURE


def test_a_signed_delivery_that_is_not_a_meta_payload_is_kept_as_failed(world):
    rt, _graph, client, _ = world
    assert post(client, {"object": "user", "entry": []}).status_code == 200
    report = asyncio.run(process_and_alert(rt))
    assert report.failed == 1
    with rt.sessions() as s:
        ev = s.scalar(select(WebhookEvent))
        assert ev.state == "failed" and "unsupported object" in ev.last_error


def test_a_graph_outage_retries_the_event_later_without_losing_it(world, clock):
    rt, graph, client, _ = world
    graph.comment("2001_3006", DISCLOSURE)
    real = graph.__call__
    graph_down = {"on": True}

    def flaky(request):
        if graph_down["on"]:
            return httpx.Response(500, json={"error": {"message": "unexpected", "code": 2, "is_transient": True}})
        return real(request)

    rt.http._transport = httpx.MockTransport(flaky)
    for conn in rt.connectors.values():
        conn.http.policy = type(conn.http.policy)(attempts=1)
    post(client, feed_change("2001_3006"))
    asyncio.run(process_and_alert(rt))
    with rt.sessions() as s:
        ev = s.scalar(select(WebhookEvent))
        assert ev.state == "pending" and ev.attempts == 1 and ev.next_attempt_at > clock()
    graph_down["on"] = False
    clock.advance(minutes=2)
    asyncio.run(process_and_alert(rt))
    assert count(rt.sessions, Alert) == 1


def test_polling_slows_while_webhooks_arrive_and_returns_when_one_is_missed(world, smtp_server, clock):
    rt, graph, client, _ = world
    graph.comment("2001_3007", "Lovely photos")
    post(client, feed_change("2001_3007"))
    asyncio.run(process_and_alert(rt))
    graph.feed = [{"id": POST, "created_time": graph_time(clock.now - timedelta(hours=1)), "message": "Sports day!",
                   "from": {"id": PAGE, "name": "Willowbrook"}, "comments": {"data": []}}]
    asyncio.run(run_cycle(rt, only_due=True))
    polled = len(graph.requests)
    clock.advance(minutes=10)
    asyncio.run(run_cycle(rt, only_due=True))
    assert len(graph.requests) == polled  # 10 minutes on: a 5-minute account is not due while webhooks work

    # a comment arrives that no webhook announces; the hourly reconciliation finds it
    clock.advance(minutes=15)
    late = graph.comment("2001_3008", "Lovely photos again", minutes_ago=1)
    graph.feed[0]["comments"]["data"] = [late]
    clock.advance(minutes=40)
    asyncio.run(run_cycle(rt, only_due=True))
    with rt.sessions() as s:
        assert s.scalar(select(Account.webhook_since)) is None
        notices = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhooks_silent")).all()
    assert [n.address for n in notices] == ["manager@example.org"]
    clock.advance(minutes=5)
    before = len(graph.requests)
    asyncio.run(run_cycle(rt, only_due=True))
    assert len(graph.requests) > before  # back to the normal five minutes
