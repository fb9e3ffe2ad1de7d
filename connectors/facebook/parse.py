"""Graph API Page posts and comments -> FetchedItem. Pure functions, no I/O.

Every field is read through connectors.fields, so a malformed item raises
`Unreadable(field)` and is skipped alone.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from connectors.fields import Unreadable, flag, obj, required_text, text, time
from monitor.core.types import FetchedItem


def post_item(post: object) -> FetchedItem:
    post = obj(post)
    author = obj(post, "from")
    return FetchedItem(
        external_id=required_text(post, "id"),
        kind="post",
        text=text(post, "message") or text(post, "story") or "",
        created_at=time(post, "created_time"),
        author_name=text(author, "name"),
        author_id=text(author, "id"),
        permalink=text(post, "permalink_url"),
        is_hidden=bool(flag(post, "is_hidden")),
        updated_at=time(post, "updated_time", required=False),
    )


def comment_id(comment: dict, post_id: str) -> str:
    """The comment's id; tokens without MODERATE get none, so fall back to the permalink."""
    if text(comment, "id"):
        return text(comment, "id")
    link = text(comment, "permalink_url")
    q = parse_qs(urlsplit(link or "").query)
    cid = (q.get("reply_comment_id") or q.get("comment_id") or [None])[0]
    if not cid:
        raise Unreadable("id", "is missing (and the permalink names no comment)")
    return f"{post_id.rsplit('_', 1)[-1]}_{cid}"


def comment_item(comment: object, post_id: str) -> FetchedItem:
    comment = obj(comment)
    cid = comment_id(comment, post_id)
    created = time(comment, "created_time")
    parent = text(obj(comment, "parent"), "id")
    link = text(comment, "permalink_url")
    if parent is None and link and "reply_comment_id=" in link:
        q = parse_qs(urlsplit(link).query)
        parent = f"{post_id.rsplit('_', 1)[-1]}_{q['comment_id'][0]}" if q.get("comment_id") else None
    author = obj(comment, "from")
    attachment = obj(comment, "attachment")
    image = obj(obj(obj(attachment, "media"), "image"))
    return FetchedItem(
        external_id=cid,
        kind="reply" if parent else "comment",
        text=text(comment, "message") or "",
        created_at=created,
        author_name=text(author, "name"),
        author_id=text(author, "id"),
        parent_external_id=parent or post_id,
        permalink=link,
        can_hide=flag(comment, "can_hide", None),
        is_hidden=bool(flag(comment, "is_hidden")),
        attachment_type=text(attachment, "type"),  # photo, sticker, animated_image_share (GIF), video_inline...
        attachment_url=text(attachment, "url") or text(image, "src"),
    )


def next_link(block: dict | None) -> str | None:
    paging = (block or {}).get("paging") if isinstance(block, dict) else None
    link = paging.get("next") if isinstance(paging, dict) else None
    return link if isinstance(link, str) else None
