"""Google Business Profile reviews: stars, text, replies, new and edited reviews, errors."""
from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

import httpx
import pytest

from connectors.base import AuthFailed, HideRefused, Misconfigured, PermissionMissing, RateLimited
from connectors.google import GoogleConnector
from connectors.testing import Sleeps, drain
from tests.connectors.helpers import NOW, Recorder, account, load

LOCATION = "accounts/111/locations/222"


def connector(client, clock, id=LOCATION, **options):
    return GoogleConnector(account("google", id, **options), "g-token", client, clock, sleep=Sleeps())


class Api:
    def __init__(self):
        self.pages = [load("google", "reviews_p1.json"), load("google", "reviews_p2.json")]

    def __call__(self, request):
        assert request.url.path == f"/v4/{LOCATION}/reviews"
        assert request.url.params["orderBy"] == "updateTime desc"
        page = self.pages[1] if request.url.params.get("pageToken") == "CiQKHAoIcmV2aWV3Ml" else self.pages[0]
        return httpx.Response(200, json=page)


def test_reviews_with_stars_text_and_the_business_reply(clock):
    rec = Recorder(Api())
    cursors: dict = {}
    items = asyncio.run(drain(connector(rec.client(), clock), cursors))
    by_id = {i.external_id: i for i in items}
    assert by_id["R3"].rating == 1 and "accident" in by_id["R3"].text and by_id["R3"].kind == "review"
    assert by_id["R2"].text == "" and by_id["R2"].rating == 5 and by_id["R2"].author_name is None
    reply = next(i for i in items if i.kind == "reply")
    assert reply.parent_external_id == "R1" and reply.text == "Thank you so much!"
    assert len(items) == 4 and len(rec.requests) == 2
    assert rec.requests[0].headers["authorization"] == "Bearer g-token"


def test_a_second_run_costs_one_request_and_an_edited_review_comes_back_as_a_new_version(clock):
    api = Api()
    rec = Recorder(api)
    cursors: dict = {}
    store: dict = {}
    asyncio.run(drain(connector(rec.client(), clock), cursors, store))
    n = len(rec.requests)
    assert asyncio.run(drain(connector(rec.client(), clock), cursors, store)) == []
    assert len(rec.requests) - n == 1

    edited = copy.deepcopy(api.pages[1]["reviews"][0])
    edited["comment"] = "Changed my mind: nobody told me my son was hurt"
    edited["starRating"] = "TWO"
    edited["updateTime"] = (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    api.pages[0]["reviews"].insert(0, edited)
    api.pages[1]["reviews"] = []
    clock.advance(minutes=5)
    got = asyncio.run(drain(connector(rec.client(), clock), cursors, store))
    review = next(i for i in got if i.kind == "review")
    assert review.external_id.startswith("R1@") and review.parent_external_id == "R1" and review.rating == 2
    assert "R1" in store and store["R1"].rating == 5  # the first version is kept


@pytest.mark.parametrize("status, name, exc", [(429, "429.json", RateLimited), (401, "401.json", AuthFailed),
                                               (403, "403.json", PermissionMissing)])
def test_errors_are_classified_and_not_retried(clock, status, name, exc):
    rec = Recorder(lambda r: httpx.Response(status, json=load("google", name)))
    with pytest.raises(exc):
        asyncio.run(drain(connector(rec.client(), clock), {}))
    assert len(rec.requests) == 1


def test_a_location_id_without_its_account_is_misconfigured(clock):
    rec = Recorder(lambda r: httpx.Response(200, json={}))
    with pytest.raises(Misconfigured):
        asyncio.run(drain(connector(rec.client(), clock, id="222"), {}))
    assert rec.requests == []
    with pytest.raises(HideRefused):
        asyncio.run(connector(rec.client(), clock).hide("R1"))
