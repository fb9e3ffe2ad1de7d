"""Graph API Page posts and comments -> FetchedItem. Pure functions, no I/O."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from connectors.http import parse_time
from monitor.core.types import FetchedItem


def post_item(post: dict) -> FetchedItem | None:
    pid = post.get("id")
    created = parse_time(post.get("created_time"))
    if not pid or created is None:
        return None
    author = post.get("from") or {}
    return FetchedItem(
        external_id=str(pid),
        kind="post",
        text=post.get("message") or post.get("story") or "",
        created_at=created,
        author_name=author.get("name"),
        author_id=author.get("id"),
        permalink=post.get("permalink_url"),
        is_hidden=bool(post.get("is_hidden", False)),
        updated_at=parse_time(post.get("updated_time")),
    )


def comment_id(comment: dict, post_id: str) -> str | None:
    """The comment's id; tokens without MODERATE get none, so fall back to the permalink."""
    if comment.get("id"):
        return str(comment["id"])
    link = comment.get("permalink_url")
    if not link:
        return None
    q = parse_qs(urlsplit(link).query)
    cid = (q.get("reply_comment_id") or q.get("comment_id") or [None])[0]
    return f"{post_id.rsplit('_', 1)[-1]}_{cid}" if cid else None


def comment_item(comment: dict, post_id: str) -> FetchedItem | None:
    cid = comment_id(comment, post_id)
    created = parse_time(comment.get("created_time"))
    if cid is None or created is None:
        return None
    parent = (comment.get("parent") or {}).get("id")
    if parent is None and comment.get("permalink_url") and "reply_comment_id=" in comment["permalink_url"]:
        q = parse_qs(urlsplit(comment["permalink_url"]).query)
        parent = f"{post_id.rsplit('_', 1)[-1]}_{q['comment_id'][0]}" if q.get("comment_id") else None
    author = comment.get("from") or {}
    return FetchedItem(
        external_id=cid,
        kind="reply" if parent else "comment",
        text=comment.get("message") or "",
        created_at=created,
        author_name=author.get("name"),
        author_id=author.get("id"),
        parent_external_id=parent or post_id,
        permalink=comment.get("permalink_url"),
        can_hide=comment.get("can_hide"),
        is_hidden=bool(comment.get("is_hidden", False)),
    )


def next_link(block: dict | None) -> str | None:
    return ((block or {}).get("paging") or {}).get("next")
