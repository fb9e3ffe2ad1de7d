"""Instagram Graph API media and comments -> FetchedItem. Pure functions, no I/O."""
from __future__ import annotations

from connectors.http import parse_time
from monitor.core.types import FetchedItem


def media_item(media: dict, kind: str = "post") -> FetchedItem | None:
    mid, created = media.get("id"), parse_time(media.get("timestamp"))
    if not mid or created is None:
        return None
    return FetchedItem(
        external_id=str(mid),
        kind=kind,  # "post" for the account's own media, "mention" for media tagging it
        text=media.get("caption") or "",
        created_at=created,
        author_name=media.get("username"),
        permalink=media.get("permalink"),
    )


def comment_item(comment: dict, media_id: str, parent: str | None = None) -> FetchedItem | None:
    cid, created = comment.get("id"), parse_time(comment.get("timestamp"))
    if not cid or created is None:
        return None
    parent = parent or comment.get("parent_id")
    author = comment.get("from") or comment.get("user") or {}
    return FetchedItem(
        external_id=str(cid),
        kind="reply" if parent else "comment",
        text=comment.get("text") or "",
        created_at=created,
        author_name=comment.get("username") or author.get("username"),
        author_id=author.get("id"),
        parent_external_id=parent or media_id,
        can_hide=True,  # owners may hide others' comments; the account's own stay visible
        is_hidden=bool(comment.get("hidden", False)),
    )


def next_link(block: dict | None) -> str | None:
    return ((block or {}).get("paging") or {}).get("next")
