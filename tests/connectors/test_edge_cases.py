"""Platform edge cases met on real pages, each against a recorded or documented response.

Recorded responses are read from tests/connectors/fixtures/recorded (real
responses with personal data replaced; see SOURCES.md there); documented ones
are written here in the shapes the platforms' documentation gives.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import timedelta

import httpx
import pytest
import respx

from connectors.base import Misconfigured, RateLimited, TemporaryFailure
from connectors.facebook import FacebookConnector
from connectors.facebook.parse import comment_item as fb_comment
from connectors.google import GoogleConnector
from connectors.instagram import InstagramConnector
from connectors.testing import Sleeps, drain
from connectors.x import XConnector
from monitor.core.types import KnownItem
from tests.connectors.helpers import NOW, account, load, recorded

GRAPH = "https://graph.test/v21.0"


def graph_time(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%S+0000")


def run(conn, cursors=None):
    return asyncio.run(drain(conn, {} if cursors is None else cursors, {}))


# -- X -----------------------------------------------------------------------------------

def x(clock, **options) -> XConnector:
    return XConnector(account("x", "900", **options), "x-token", httpx.AsyncClient(), clock, sleep=Sleeps())


@respx.mock
def test_x_a_direct_reply_that_arrives_through_mentions_is_stored_as_a_hideable_reply(clock):
    page = load("x", "mentions_p1.json")
    page["meta"].pop("next_token", None)
    respx.get("https://x.test/2/users/900/mentions").mock(return_value=httpx.Response(200, json=page))
    items = {i.external_id: i for i in run(x(clock, replies=False))}
    reply = items["2124473970324406272"]  # in_reply_to_user_id is the account itself
    assert reply.kind == "reply" and reply.can_hide is True
    mention = items["2124474221982646272"]  # a plain @mention cannot be hidden
    assert mention.kind == "mention" and mention.can_hide is False


@respx.mock
def test_x_a_long_post_is_stored_with_its_full_note_tweet_text(clock):
    full = "Our son came home with bruises again. " * 12  # over 280 characters
    page = {"data": [{"id": "2124474221982646272", "text": full[:270] + "…", "created_at": "2026-11-22T18:01:02.000Z",
                      "author_id": "501", "note_tweet": {"text": full}}],
            "meta": {"newest_id": "2124474221982646272", "result_count": 1}}
    route = respx.get("https://x.test/2/users/900/mentions").mock(return_value=httpx.Response(200, json=page))
    [item] = run(x(clock, replies=False))
    assert item.text == full and len(item.text) > 280
    assert "note_tweet" in route.calls.last.request.url.params["tweet.fields"]


@respx.mock
def test_x_an_app_outside_a_project_is_a_configuration_error_read_from_reason_not_a_reconnect(clock):
    # the documented 403 body: `reason` names the enrolment problem, `type` only says client-forbidden
    body = {"client_id": "123", "detail": "When authenticating requests to the Twitter API v2 endpoints, you must "
            "use keys and tokens from a Twitter developer App that is attached to a Project.",
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled", "type": "https://api.twitter.com/2/problems/client-forbidden"}
    respx.get("https://x.test/2/users/900/mentions").mock(return_value=httpx.Response(403, json=body))
    with pytest.raises(Misconfigured, match="Project"):
        run(x(clock, replies=False))


# -- Facebook ----------------------------------------------------------------------------

def facebook(clock, **options) -> FacebookConnector:
    return FacebookConnector(account("facebook", "1000", **options), "page-token", httpx.AsyncClient(), clock,
                             sleep=Sleeps())


TOO_MUCH = {"error": {"message": "Please reduce the amount of data you're asking for, then retry your request",
                      "type": "OAuthException", "code": 1, "fbtrace_id": "A1"}}


@respx.mock
def test_facebook_code_1_is_answered_by_halving_the_page_and_the_embedded_comments_until_it_passes(clock):
    asked = []

    def answer(request):
        q = request.url.params
        asked.append((int(q["limit"]), q["fields"].split("comments.")[1].split(".limit(")[1].split(")")[0]))
        if int(q["limit"]) > 6:
            return httpx.Response(500, json=TOO_MUCH)
        return httpx.Response(200, json=load("facebook", "feed_p2.json"))

    respx.get(f"{GRAPH}/1000/feed").mock(side_effect=answer)
    conn = facebook(clock)
    items = run(conn)
    assert items and asked == [(25, "25"), (12, "12"), (6, "6")]
    assert conn.http.sleep.calls == []  # asked for less at once, never the same request again


@respx.mock
def test_facebook_code_1_still_refused_at_one_item_a_page_is_a_temporary_failure(clock):
    route = respx.get(f"{GRAPH}/1000/feed").mock(return_value=httpx.Response(500, json=TOO_MUCH))
    with pytest.raises(TemporaryFailure, match="asked for less data"):
        run(facebook(clock))
    assert route.call_count == 5  # 25, 12, 6, 3, 1 a page, then it gives up


@respx.mock
def test_facebook_every_call_carries_appsecret_proof_when_an_app_secret_is_configured(clock, monkeypatch):
    monkeypatch.setenv("FB_APP_SECRET", "app-secret")
    route = respx.get(f"{GRAPH}/1000/feed").mock(return_value=httpx.Response(200, json=load("facebook", "feed_p2.json")))
    run(facebook(clock, app_secret_env="FB_APP_SECRET"))
    expected = hmac.new(b"app-secret", b"page-token", hashlib.sha256).hexdigest()
    assert all(c.request.url.params["appsecret_proof"] == expected for c in route.calls)
    assert "access_token" not in str(route.calls.last.request.url)  # the token stays in the header


@respx.mock
def test_facebook_sends_no_appsecret_proof_without_a_secret_and_names_a_missing_variable(clock, monkeypatch):
    route = respx.get(f"{GRAPH}/1000/feed").mock(return_value=httpx.Response(200, json=load("facebook", "feed_p2.json")))
    run(facebook(clock))
    assert "appsecret_proof" not in route.calls.last.request.url.params
    monkeypatch.delenv("FB_APP_SECRET", raising=False)
    with pytest.raises(Misconfigured, match="FB_APP_SECRET is not set"):
        run(facebook(clock, app_secret_env="FB_APP_SECRET"))


def test_facebook_a_recorded_photo_comment_keeps_its_attachment_type_and_link():
    item = fb_comment(recorded("facebook/comment.json"), "2954961744718970")
    # the recorded link to the photo's page (attachment.url), not the picture file (attachment.media.image.src)
    assert item.attachment_type == "photo" and item.attachment_url == "https://example.invalid/link/1"


@respx.mock
def test_facebook_a_sticker_only_comment_is_stored_with_no_text_and_its_attachment(clock):
    feed = {"data": [{"id": "1000_1", "created_time": graph_time(timedelta(hours=2)), "message": "Open day!",
                      "comments": {"data": [{"id": "1000_1_5", "created_time": graph_time(timedelta(hours=1)),
                                             "from": {"id": "7", "name": "A Parent"},
                                             "attachment": {"type": "sticker", "url": "https://www.facebook.com/s/1",
                                                            "media": {"image": {"src": "https://cdn.test/s.png"}}}}]}}]}
    route = respx.get(f"{GRAPH}/1000/feed").mock(return_value=httpx.Response(200, json=feed))
    comment = next(i for i in run(facebook(clock)) if i.kind == "comment")
    assert comment.text == "" and comment.attachment_type == "sticker"
    assert comment.attachment_url == "https://www.facebook.com/s/1"
    assert "attachment{type,url" in route.calls.last.request.url.params["fields"]


@respx.mock
def test_facebook_a_reread_reports_edits_hides_and_deletions(clock):
    known = [KnownItem("1000_1_1", "lovely day", False), KnownItem("1000_1_2", "see you", False),
             KnownItem("1000_1_3", "gone soon", False), KnownItem("1000_1_4", "unchanged", True)]
    gone = {"error": {"message": "(#100) Some of the aliases you requested do not exist: 1000_1_3",
                      "type": "OAuthException", "code": 100}}
    by_id = {"1000_1_1": {"message": "my son came home with bruises", "is_hidden": False, "id": "1000_1_1"},
             "1000_1_2": {"message": "see you", "is_hidden": True, "id": "1000_1_2"},
             "1000_1_4": {"message": "unchanged", "is_hidden": True, "id": "1000_1_4"}}
    respx.get(f"{GRAPH}/").mock(return_value=httpx.Response(400, json=gone))
    for cid, body in by_id.items():
        respx.get(f"{GRAPH}/{cid}").mock(return_value=httpx.Response(200, json=body))
    respx.get(f"{GRAPH}/1000_1_3").mock(return_value=httpx.Response(400, json={"error": {
        "message": "Unsupported get request. Object with ID '1000_1_3' does not exist", "code": 100,
        "error_subcode": 33, "type": "GraphMethodException"}}))
    changes = {c.external_id: c for c in asyncio.run(facebook(clock).recheck(known))}
    assert changes["1000_1_1"].text == "my son came home with bruises" and changes["1000_1_1"].is_hidden is None
    assert changes["1000_1_2"].is_hidden is True and changes["1000_1_2"].text is None
    assert changes["1000_1_3"].deleted
    assert "1000_1_4" not in changes


# -- Instagram ---------------------------------------------------------------------------

@respx.mock
def test_instagram_the_account_own_comments_cannot_be_hidden(clock):
    media = {"data": [{"id": "17900000000000009", "caption": "Autumn walk", "timestamp": graph_time(timedelta(hours=3)),
                       "comments_count": 2, "username": "littleacorns"}]}
    comments = {"data": [
        {"id": "1791", "text": "Thank you all!", "timestamp": graph_time(timedelta(hours=1)),
         "username": "littleacorns", "from": {"id": "900", "username": "littleacorns"}},
        {"id": "1792", "text": "Lovely photos", "timestamp": graph_time(timedelta(hours=2)),
         "username": "a_parent", "from": {"id": "555", "username": "a_parent"}},
    ]}
    respx.get(f"{GRAPH}/900/media").mock(return_value=httpx.Response(200, json=media))
    respx.get(f"{GRAPH}/17900000000000009/comments").mock(return_value=httpx.Response(200, json=comments))
    conn = InstagramConnector(account("instagram", "900", tags=False), "ig-token", httpx.AsyncClient(), clock,
                              sleep=Sleeps())
    items = {i.external_id: i for i in run(conn)}
    assert items["1791"].can_hide is False and items["1792"].can_hide is True


# -- Google ------------------------------------------------------------------------------

QUOTA_ZERO = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                        "message": "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of "
                                   "service 'mybusiness.googleapis.com' for consumer 'project_number:1'.",
                        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                                     "domain": "googleapis.com",
                                     "metadata": {"quota_limit_value": "0", "quota_limit": "DefaultRequestsPerMinute"}}]}}


def google(clock) -> GoogleConnector:
    return GoogleConnector(account("google", "accounts/1/locations/2"), "g-token", httpx.AsyncClient(), clock,
                           sleep=Sleeps())


@respx.mock
def test_google_a_429_with_a_quota_of_zero_says_apply_for_business_profile_api_access_with_the_link(clock):
    route = respx.get("https://gbp.test/v4/accounts/1/locations/2/reviews").mock(
        return_value=httpx.Response(429, json=QUOTA_ZERO))
    with pytest.raises(Misconfigured, match="Apply for Business Profile API access: https://support.google.com/"):
        run(google(clock))
    assert route.call_count == 1


@respx.mock
def test_google_an_ordinary_429_is_still_a_rate_limit(clock):
    respx.get("https://gbp.test/v4/accounts/1/locations/2/reviews").mock(
        return_value=httpx.Response(429, json=load("google", "429.json")))
    with pytest.raises(RateLimited):
        run(google(clock))
