"""RSS and Atom entries -> FetchedItem, through feedparser. Pure functions, no I/O.

feedparser copes with RSS 0.9x/1.0/2.0 and Atom, broken encodings and
half-valid XML (it sets `bozo` and keeps what it could read). Summaries are
HTML: turned into plain text here. Google Alerts wraps every link in a
google.com/url redirect; the real address is taken out of it.
"""
from __future__ import annotations

import calendar
import hashlib
import html
from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import feedparser

from monitor.core.types import FetchedItem

MAX_ID = 200  # the store's external id column


class NotAFeed(ValueError):
    """The document is not RSS or Atom (an HTML page, an error text, truncated XML)."""


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("br", "p", "div", "li"):
            self.parts.append("\n")


def plain_text(fragment: str) -> str:
    p = _Text()
    p.feed(fragment or "")
    p.close()
    lines = (" ".join(line.split()) for line in html.unescape("".join(p.parts)).splitlines())
    return "\n".join(line for line in lines if line)


def real_link(link: str | None) -> str | None:
    """Google Alerts' `https://www.google.com/url?...&url=<real>` -> <real>."""
    if not link:
        return None
    parts = urlsplit(link)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        target = (parse_qs(parts.query).get("url") or [None])[0]
        return target or link
    return link


def parse_feed(content: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(content)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        why = type(parsed.get("bozo_exception")).__name__ if parsed.get("bozo") else "no RSS or Atom root element"
        raise NotAFeed(f"not an RSS or Atom feed ({why})")
    return parsed


def entry_item(entry: dict, feed_title: str, fallback_time: datetime) -> FetchedItem | None:
    link = real_link(entry.get("link"))
    key = entry.get("id") or link or entry.get("title")
    if not key:
        return None
    if len(key) > MAX_ID:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    title = plain_text(entry.get("title") or "")
    summary = plain_text(entry.get("summary") or "")
    text = summary if title and summary.startswith(title) else "\n\n".join(t for t in (title, summary) if t)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    created = datetime.fromtimestamp(calendar.timegm(when), timezone.utc) if when else fallback_time
    author = entry.get("author")
    return FetchedItem(
        external_id=key,
        kind="mention",
        text=text,
        created_at=created,
        author_name=plain_text(author) if author else None,
        permalink=link,
        can_hide=False,
        source=_source(feed_title, link),
    )


def _source(feed_title: str, link: str | None) -> str:
    host = urlsplit(link).netloc.removeprefix("www.") if link else ""
    title = plain_text(feed_title)[:80]
    return f"{title} ({host})" if title and host else title or host or "a feed"
