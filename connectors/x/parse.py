"""X API v2 posts -> FetchedItem. Pure functions, no I/O."""
from __future__ import annotations

from datetime import datetime, timezone

from connectors.http import parse_time
from monitor.core.platforms import PLATFORMS
from monitor.core.types import FetchedItem


def users_by_id(body: dict) -> dict[str, dict]:
    return {u["id"]: u for u in (body.get("includes") or {}).get("users") or [] if "id" in u}


def post_item(post: dict, users: dict[str, dict], kind: str, fallback_time) -> FetchedItem | None:
    pid = post.get("id")
    if not pid:
        return None
    author = users.get(post.get("author_id") or "", {})
    replied_to = next(
        (r.get("id") for r in post.get("referenced_tweets") or [] if r.get("type") == "replied_to"), None
    )
    username = author.get("username")
    return FetchedItem(
        external_id=str(pid),
        kind=kind,
        text=post.get("text") or "",
        created_at=parse_time(post.get("created_at")) or fallback_time,
        author_name=author.get("name") or username,
        author_id=post.get("author_id"),
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
