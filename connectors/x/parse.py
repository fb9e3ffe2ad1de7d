"""X API v2 posts -> FetchedItem. Pure functions, no I/O."""
from __future__ import annotations

from datetime import datetime, timezone

from connectors.fields import Unreadable, items, obj, required_text, text, time
from monitor.core.platforms import PLATFORMS
from monitor.core.types import FetchedItem


def users_by_id(body: dict) -> dict[str, dict]:
    users = (body.get("includes") or {}).get("users") if isinstance(body.get("includes"), dict) else None
    return {u["id"]: u for u in users or [] if isinstance(u, dict) and isinstance(u.get("id"), str)}


def post_item(post: object, users: dict[str, dict], kind: str, fallback_time, own_id: str | None = None) -> FetchedItem:
    """A post as an item. A mention that replies to the account itself is a reply: hideable.

    Long posts (over 280 characters) carry their full text in `note_tweet.text`;
    `text` holds only the first part.
    """
    post = obj(post)
    pid = required_text(post, "id")
    if not pid.isdigit():
        raise Unreadable("id", "is not a number")
    author = users.get(text(post, "author_id") or "", {})
    replied_to = next(
        (text(r, "id") for r in items(post, "referenced_tweets") if obj(r) and text(r, "type") == "replied_to"), None
    )
    username = text(author, "username")
    if kind == "mention" and own_id and text(post, "in_reply_to_user_id") == own_id:
        kind = "reply"  # the mentions call returns direct replies first; they are still replies
    return FetchedItem(
        external_id=pid,
        kind=kind,
        text=text(obj(post, "note_tweet"), "text") or text(post, "text") or "",
        created_at=time(post, "created_at", required=False) or fallback_time,
        author_name=text(author, "name") or username,
        author_id=text(post, "author_id"),
        parent_external_id=replied_to,
        permalink=f"https://x.com/{username or 'i/web'}/status/{pid}",
        can_hide=PLATFORMS["x"].can_hide(kind),  # X hides replies in the account's own conversations only
    )


def id_time(post_id: str) -> datetime:
    """When a post was created, from its snowflake id (ms since X's epoch in the high bits)."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + 1288834974657) / 1000, timezone.utc)


def newest_id(ids: list[str]) -> str | None:
    """Post ids are time-ordered integers: the largest is the newest."""
    return max(ids, key=int, default=None)
