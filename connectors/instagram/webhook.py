"""Instagram webhook changes (`comments`, `live_comments`, `mentions`) -> store changes.

A `comments` change has the comment's id, text, author and media but no
time; it is fetched by id for the same fields polling reads (falling back to
the payload, timed by the delivery, if the comment is gone). A `mentions`
change carries only `{comment_id, media_id}`: the only way to read it is
through the account's own node, `mentioned_comment.comment_id(...)` or
`mentioned_media.media_id(...)`. Mentions are on other people's media, so
they cannot be hidden from here.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from connectors.base import Misconfigured, PermissionMissing
from connectors.instagram.connector import REPLY_FIELDS, InstagramConnector
from connectors.instagram.parse import comment_item, media_item
from connectors.webhook import Change, MetaChange
from monitor.core.types import FetchedItem

log = logging.getLogger(__name__)

MENTIONED_COMMENT = "mentioned_comment.comment_id({cid}){{id,text,timestamp,username,from{{id,username}},media{{id}}}}"
MENTIONED_MEDIA = "mentioned_media.media_id({mid}){{id,caption,timestamp,username,permalink}}"


async def resolve(connector: InstagramConnector, change: MetaChange) -> list[Change]:
    v = change.value
    if change.field in ("comments", "live_comments"):
        found = await _comment(connector, change)
    elif change.field == "mentions":
        found = await _mention(connector, v)
    else:
        return []
    return [Change("upsert", found.external_id, found)] if found else []


async def _comment(connector: InstagramConnector, change: MetaChange) -> FetchedItem | None:
    v = change.value
    cid = str(v.get("id") or "")
    media_id = str((v.get("media") or {}).get("id") or "") if isinstance(v.get("media"), dict) else ""
    if not cid:
        return None
    try:
        body = (await connector.http.request("GET", cid, {"fields": f"{REPLY_FIELDS},media{{id}}"})).body
        media_id = str((body.get("media") or {}).get("id") or media_id)
        return connector.read(comment_item, body, media_id, None, (connector.user_id, None))  # None: unreadable
    except (Misconfigured, PermissionMissing) as err:
        log.info("instagram webhook: comment %s not readable (%s); keeping the snippet", cid, type(err).__name__)
        if not isinstance(v.get("text"), str):
            return None
        payload = {"id": cid, "text": v["text"], "timestamp": change.time.isoformat(), "from": v.get("from") or {},
                   "parent_id": v.get("parent_id")}
        payload["username"] = payload["from"].get("username") if isinstance(payload["from"], dict) else None
        return connector.read(comment_item, payload, media_id, None, (connector.user_id, None))


async def _mention(connector: InstagramConnector, v: dict) -> FetchedItem | None:
    cid, mid = str(v.get("comment_id") or ""), str(v.get("media_id") or "")
    try:
        if cid:
            body = (await connector.http.request("GET", connector.user_id, {"fields": MENTIONED_COMMENT.format(cid=cid)})).body
            raw = body.get("mentioned_comment") or {}
            media = str((raw.get("media") or {}).get("id") or mid)
            item = connector.read(comment_item, raw, media)
            return replace(item, kind="mention", parent_external_id=media, can_hide=False) if item else None
        if mid:
            body = (await connector.http.request("GET", connector.user_id, {"fields": MENTIONED_MEDIA.format(mid=mid)})).body
            return connector.read(media_item, body.get("mentioned_media") or {}, "mention")
    except (Misconfigured, PermissionMissing) as err:
        log.info("instagram webhook: mention %s not readable (%s)", cid or mid, type(err).__name__)
    return None
