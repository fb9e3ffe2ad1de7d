"""Instagram Graph API media and comments -> FetchedItem. Pure functions, no I/O.

Every field is read through connectors.fields, so a malformed item raises
`Unreadable(field)` and is skipped alone.
"""
from __future__ import annotations

from connectors.fields import flag, obj, required_text, text, time
from monitor.core.types import FetchedItem


def media_item(media: object, kind: str = "post") -> FetchedItem:
    media = obj(media)
    return FetchedItem(
        external_id=required_text(media, "id"),
        kind=kind,  # "post" for the account's own media, "mention" for media tagging it
        text=text(media, "caption") or "",
        created_at=time(media, "timestamp"),
        author_name=text(media, "username"),
        permalink=text(media, "permalink"),
    )


def comment_item(
    comment: object, media_id: str, parent: str | None = None, owner: tuple[str | None, str | None] = (None, None)
) -> FetchedItem:
    """A comment or reply. `owner` is the account's (id, username): its own comments cannot be hidden."""
    comment = obj(comment)
    parent = parent or text(comment, "parent_id")
    author = obj(comment, "from") or obj(comment, "user")
    author_id, username = text(author, "id"), text(comment, "username") or text(author, "username")
    own = (owner[0] is not None and author_id == owner[0]) or (owner[1] is not None and username == owner[1])
    return FetchedItem(
        external_id=required_text(comment, "id"),
        kind="reply" if parent else "comment",
        text=text(comment, "text") or "",
        created_at=time(comment, "timestamp"),
        author_name=username,
        author_id=author_id,
        parent_external_id=parent or media_id,
        can_hide=not own,  # owners may hide others' comments; the account's own always stay visible
        is_hidden=bool(flag(comment, "hidden")),
    )


def next_link(block: dict | None) -> str | None:
    paging = (block or {}).get("paging") if isinstance(block, dict) else None
    link = paging.get("next") if isinstance(paging, dict) else None
    return link if isinstance(link, str) else None
