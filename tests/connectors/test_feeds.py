"""Feed connector: RSS and Atom (Google Alerts, a forum, local news) through feedparser, against respx."""
from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from connectors.base import Misconfigured, TemporaryFailure
from connectors.feeds import FeedConnector
from connectors.testing import Sleeps, drain
from monitor.core.settings import AccountConfig

URL = "https://www.google.com/alerts/feeds/01234567890123456789/98765432109876543210"

GOOGLE_ALERTS_ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">
<id>tag:google.com,2005:reference/alerts/feed/01234567890123456789/98765432109876543210</id>
<title>Google Alert - Willowbrook Day Nursery</title>
<updated>2026-11-23T08:30:00Z</updated>
<entry>
<id>tag:google.com,2013:googlealerts/feed:111</id>
<title type="html">Parents raise concerns at &lt;b&gt;Willowbrook Day Nursery&lt;/b&gt;</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://hadleigh-forum.example/t/nursery-concerns&amp;ct=ga"/>
<published>2026-11-23T08:20:00Z</published>
<updated>2026-11-23T08:20:00Z</updated>
<content type="html">A thread says staff at &lt;b&gt;Willowbrook&lt;/b&gt; shouted at a toddler &amp;amp; nobody did anything</content>
</entry>
<entry>
<id>tag:google.com,2013:googlealerts/feed:112</id>
<title type="html">Willowbrook summer fair raises &#163;400</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://hadleigh-news.example/fair&amp;ct=ga"/>
<published>2026-11-22T17:00:00Z</published>
<content type="html">The fair was a great success.</content>
</entry>
</feed>"""

FORUM_RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hadleigh Parents Forum: search "willowbrook"</title>
<link>https://hadleigh-forum.example/</link>
<item><guid>https://hadleigh-forum.example/p/901</guid><title>Re: nurseries in town</title>
<link>https://hadleigh-forum.example/p/901</link><pubDate>Mon, 23 Nov 2026 07:45:00 GMT</pubDate>
<description><![CDATA[<p>We moved our son from Willowbrook.</p><p>They never told us about the bruise.</p>]]></description>
</item></channel></rss>"""


def connector(clock, url=URL):
    acc = AccountConfig(platform="feeds", id="alerts-willowbrook", options={"url": url})
    return FeedConnector(acc, None, httpx.AsyncClient(), clock, sleep=Sleeps())


@respx.mock
def test_google_alerts_entries_become_off_page_items_with_the_real_link(clock):
    route = respx.get(URL).mock(return_value=httpx.Response(200, content=GOOGLE_ALERTS_ATOM,
                                                            headers={"content-type": "application/atom+xml"}))
    cursors: dict = {}
    items = asyncio.run(drain(connector(clock), cursors))

    assert [i.external_id for i in items] == ["tag:google.com,2013:googlealerts/feed:111",
                                              "tag:google.com,2013:googlealerts/feed:112"]
    first = items[0]
    assert first.text.startswith("Parents raise concerns at Willowbrook Day Nursery")
    assert "shouted at a toddler & nobody" in first.text and "<b>" not in first.text
    assert first.permalink == "https://hadleigh-forum.example/t/nursery-concerns"
    assert first.kind == "mention" and first.can_hide is False
    assert first.source == "Google Alert - Willowbrook Day Nursery (hadleigh-forum.example)"
    assert first.created_at.isoformat() == "2026-11-23T08:20:00+00:00"
    assert "authorization" not in route.calls[0].request.headers

    assert asyncio.run(drain(connector(clock), cursors)) == []  # nothing new the second time


@respx.mock
def test_an_rss_forum_search_feed_is_read_as_plain_text(clock):
    url = "https://hadleigh-forum.example/search.rss?q=willowbrook"
    respx.get(url).mock(return_value=httpx.Response(200, content=FORUM_RSS))
    [item] = asyncio.run(drain(connector(clock, url), {}))
    assert item.text == "Re: nurseries in town\n\nWe moved our son from Willowbrook.\nThey never told us about the bruise."
    assert item.permalink == "https://hadleigh-forum.example/p/901"


@respx.mock
def test_a_truncated_feed_keeps_the_entries_it_could_read(clock):
    cut = GOOGLE_ALERTS_ATOM.index(b"<entry>", GOOGLE_ALERTS_ATOM.index(b"</entry>")) + 10
    respx.get(URL).mock(return_value=httpx.Response(200, content=GOOGLE_ALERTS_ATOM[:cut]))
    items = asyncio.run(drain(connector(clock), {}))
    assert [i.external_id for i in items] == ["tag:google.com,2013:googlealerts/feed:111"]
    assert "shouted at a toddler" in items[0].text


@pytest.mark.parametrize("content", [b"<html><body>Sign in to continue</body></html>", b"", b"\x00\xff garbage"])
@respx.mock
def test_a_document_that_is_not_a_feed_is_a_configuration_error_that_says_so(clock, content):
    respx.get(URL).mock(return_value=httpx.Response(200, content=content))
    cursors: dict = {}
    with pytest.raises(Misconfigured, match="not an RSS or Atom feed"):
        asyncio.run(drain(connector(clock), cursors))
    assert cursors == {}


@respx.mock
def test_a_moved_feed_names_the_new_address_instead_of_following_it(clock):
    respx.get(URL).mock(return_value=httpx.Response(301, headers={"location": "https://elsewhere.example/feed"}))
    with pytest.raises(Misconfigured, match="elsewhere.example/feed"):
        asyncio.run(drain(connector(clock), {}))


@respx.mock
def test_server_errors_are_retried_then_reported_as_temporary(clock):
    route = respx.get(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(TemporaryFailure):
        asyncio.run(drain(connector(clock), {}))
    assert route.call_count == 5
