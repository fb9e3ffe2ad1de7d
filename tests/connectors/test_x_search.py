"""X search connector: posts naming the setting without tagging it, against respx."""
from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from connectors.base import Misconfigured, RateLimited
from connectors.testing import Sleeps, drain
from connectors.x_search import XSearchConnector
from connectors.x_search.parse import search_query
from monitor.core.settings import AccountConfig

BASE = "https://x.test/2"
POSTS = {
    "data": [
        {"id": "1861000000000000002", "text": "Willowbrook in Hadleigh lost my daughter's coat AGAIN. Useless.",
         "author_id": "11", "created_at": "2026-11-23T08:40:00.000Z"},
        {"id": "1861000000000000001", "text": "Anyone know if Willowbrook Day Nursery has spaces?",
         "author_id": "12", "created_at": "2026-11-23T08:10:00.000Z"},
    ],
    "includes": {"users": [{"id": "11", "name": "A Parent", "username": "aparent"},
                           {"id": "12", "name": "Another", "username": "another"}]},
    "meta": {"newest_id": "1861000000000000002", "oldest_id": "1861000000000000001", "result_count": 2},
}
EMPTY = {"meta": {"result_count": 0}}


def connector(clock, **options):
    opts = {"names": ["Willowbrook Day Nursery"], "aliases": ["Willowbrook", "WDN"], "town": "Hadleigh",
            "handle": "willowbrooknursery", **options}
    acc = AccountConfig(platform="x_search", id="willowbrook", token_env="X_TOKEN", api_base=BASE, options=opts)
    return XSearchConnector(acc, "x-token", httpx.AsyncClient(), clock, sleep=Sleeps())


def test_the_query_names_the_setting_puts_aliases_beside_the_town_and_skips_tags():
    q = search_query(["Willowbrook Day Nursery"], ["Willowbrook", "WDN"], "Hadleigh", "@willowbrooknursery")
    assert q == ('("Willowbrook Day Nursery" OR (("Willowbrook" OR "WDN") "Hadleigh")) -is:retweet '
                 "-from:willowbrooknursery -@willowbrooknursery")


def test_a_query_over_512_characters_is_a_configuration_error_naming_the_limit(clock):
    with pytest.raises(Misconfigured, match="512"):
        asyncio.run(drain(connector(clock, aliases=[f"Alias number {n}" for n in range(40)]), {}))


@respx.mock
def test_found_posts_are_off_page_mentions_and_the_next_run_starts_after_them(clock):
    route = respx.get(f"{BASE}/tweets/search/recent").mock(
        side_effect=[httpx.Response(200, json=POSTS), httpx.Response(200, json=EMPTY)])
    cursors: dict = {}
    items = asyncio.run(drain(connector(clock), cursors))

    assert [i.external_id for i in items] == ["1861000000000000002", "1861000000000000001"]
    first = items[0]
    assert first.kind == "mention" and first.can_hide is False
    assert first.source and "X" in first.source
    assert first.permalink == "https://x.com/aparent/status/1861000000000000002"
    sent = route.calls[0].request.url.params
    assert "Hadleigh" in sent["query"] and "start_time" in sent and sent["max_results"] == "100"
    assert route.calls[0].request.headers["authorization"] == "Bearer x-token"

    asyncio.run(drain(connector(clock), cursors))
    assert route.calls[1].request.url.params["since_id"] == "1861000000000000002"


@respx.mock
def test_a_changed_query_searches_the_backfill_window_again(clock):
    route = respx.get(f"{BASE}/tweets/search/recent").mock(return_value=httpx.Response(200, json=POSTS))
    cursors: dict = {}
    asyncio.run(drain(connector(clock), cursors))
    asyncio.run(drain(connector(clock, aliases=["Willowbrook", "WDN", "Willow Brook"]), cursors))
    assert "since_id" not in route.calls[1].request.url.params


@respx.mock
def test_a_rate_limit_keeps_the_cursor_and_names_the_reset(clock):
    respx.get(f"{BASE}/tweets/search/recent").mock(return_value=httpx.Response(
        429, json={"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        headers={"x-rate-limit-reset": str(int(clock().timestamp()) + 600)}))
    cursors: dict = {}
    with pytest.raises(RateLimited):
        asyncio.run(drain(connector(clock), cursors))
    assert cursors == {}


@respx.mock
def test_a_malformed_answer_is_retried_then_reported_without_moving_the_cursor(clock):
    respx.get(f"{BASE}/tweets/search/recent").mock(return_value=httpx.Response(200, text="<html>oops"))
    cursors: dict = {}
    with pytest.raises(Exception, match="not JSON"):
        asyncio.run(drain(connector(clock), cursors))
    assert cursors == {}
